"""Products (staff): the webshop catalogue; browse, search, create, edit with its version, delete."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console import formats, ui
from console.api_client import ApiError
from console.i18n import N_, t
from console.record_form import Field, product_body, record_inputs
from console.record_page import RecordKind, create_section, edit_section

PRODUCT_FIELDS = (
    Field("name", N_("product.field.name"), required=True, max_chars=100),
    Field("category", N_("product.field.category"), max_chars=100),
    Field("price_cents", N_("product.field.price"), "euros", required=True),
    Field("stock", N_("product.field.stock"), "int"),
    Field("active", N_("product.field.active"), "bool"),
    Field("images", N_("product.field.images"), "list"),
    Field("description", N_("product.field.description"), "area", max_chars=2000),
)

st.title(t("products.title"))
try:
    products = ui.client().all_products()
except ApiError as err:
    ui.show_api_error(err, t("what.products"))
    st.stop()

search = st.text_input(t("products.search"), key="prod_q", max_chars=100).strip().lower()
shown = [
    p
    for p in products
    if not search or search in str(p.get("name", "")).lower() or search in str(p.get("category", "")).lower()
]
if not shown:
    st.info(t("products.no_match") if search else t("products.none"))
else:
    frame = pd.DataFrame(
        [
            {
                "name": p.get("name"),
                "category": p.get("category") or "",
                "price": formats.euros(p.get("price_cents")),
                "stock": p.get("stock"),
                "active": bool(p.get("active")),
            }
            for p in shown
        ]
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        key="products_table",
        column_config={
            "name": t("product.field.name"),
            "category": t("product.field.category"),
            "price": st.column_config.TextColumn(t("product.field.price")),
            "stock": st.column_config.NumberColumn(t("product.field.stock"), format="%d"),
            "active": st.column_config.CheckboxColumn(t("product.field.active")),
        },
    )
st.caption(t("products.count", shown=formats.number(len(shown)), total=formats.number(len(products))))

PRODUCTS = RecordKind(
    prefix="prod",
    texts="product",
    id_field="product_id",
    title=lambda p: str(p.get("name") or ""),
    inputs=lambda record, key: record_inputs(PRODUCT_FIELDS, record, key),
    body=lambda values, original: product_body(PRODUCT_FIELDS, values, original),
    # No product GET in the client: the raw call, the list's copy when it answers empty.
    load=lambda product_id, listed: ui.client().request("GET", f"/products/{product_id}") or listed,
    update=lambda product_id, changes, version: ui.client().update_product(product_id, changes, version),
    delete=lambda product_id, version: ui.client().delete_product(product_id, version),
    create=lambda fields: ui.client().create_product(fields),
    caption=lambda p, version: t("product.caption", updated=formats.moment(p.get("updated_at")) or "—"),
    new_defaults={"active": True, "stock": 0},
    new_icon=":material/add_shopping_cart:",
    create_icon=":material/add:",
)
edit_section(PRODUCTS, shown)
create_section(PRODUCTS)
