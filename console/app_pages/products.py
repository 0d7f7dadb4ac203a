"""Products (staff): the webshop catalogue; browse, search, create, edit with its version, delete."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console import ui
from console.api_client import ApiError
from console.record_form import Field
from console.record_page import RecordKind, create_section, edit_section

PRODUCT_FIELDS = (
    Field("name", "Name", required=True),
    Field("category", "Category"),
    Field("price_cents", "Price (€)", "euros", required=True),
    Field("stock", "Stock", "int"),
    Field("active", "Active in the shop", "bool"),
    Field("images", "Image URLs (comma separated)", "list"),
    Field("description", "Description", "area"),
)

st.title("Products")
try:
    products = ui.client().all_products()
except ApiError as err:
    ui.show_api_error(err, "Products")
    st.stop()

search = st.text_input("Search name or category", key="prod_q").strip().lower()
shown = [
    p
    for p in products
    if not search or search in str(p.get("name", "")).lower() or search in str(p.get("category", "")).lower()
]
frame = pd.DataFrame(shown)
if not frame.empty and "price_cents" in frame.columns:
    frame = frame.assign(price=frame["price_cents"] / 100)
cols = [c for c in ("name", "category", "price", "stock", "active", "version") if c in frame.columns]
st.dataframe(
    frame[cols] if cols else frame,
    hide_index=True,
    width="stretch",
    key="products_table",
    column_config={"price": st.column_config.NumberColumn("Price", format="€ %.2f")},
)
st.caption(f"{len(shown)} of {len(products)} products")

PRODUCTS = RecordKind(
    prefix="prod",
    noun="product",
    id_field="product_id",
    fields=PRODUCT_FIELDS,
    title=lambda p: str(p.get("name")),
    # No product GET in the client: the raw call, the list's copy when it answers empty.
    load=lambda product_id, listed: ui.client().request("GET", f"/products/{product_id}") or listed,
    update=lambda product_id, changes, version: ui.client().update_product(product_id, changes, version),
    delete=lambda product_id, version: ui.client().delete_product(product_id, version),
    create=lambda fields: ui.client().create_product(fields),
    caption=lambda p, version: f"Version {version} · updated {p.get('updated_at')}",
    saved=lambda p: "Product saved",
    conflict=lambda version, _now: (
        f"Someone else changed this product after you opened it (you edited version {version}), "
        "so your changes were **not** saved. Reload to see the current product."
    ),
    reload_label="Reload the current product",
    choose_placeholder="Choose a product",
    created=lambda p: f"Created product {p.get('name', '')}",
    new_defaults={"active": True, "stock": 0},
    new_icon=":material/add_shopping_cart:",
    create_icon=":material/add:",
)
edit_section(PRODUCTS, shown)
create_section(PRODUCTS)
