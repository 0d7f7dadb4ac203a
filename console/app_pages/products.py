"""Products (staff): the webshop catalogue; browse, search, create, edit with its version, delete."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from console import ui
from console.api_client import ApiError
from console.record_form import Field, payload, record_inputs, show_validation

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

st.subheader("Edit a product")
by_id = {str(p["product_id"]): p for p in shown if p.get("product_id")}
chosen = st.selectbox(
    "Product",
    list(by_id),
    index=None,
    format_func=lambda i: str(by_id[i].get("name")),
    placeholder="Choose a product",
    key="prod_chosen",
)
if chosen:
    loaded: dict[str, Any] = st.session_state.get("prod_loaded") or {}
    if loaded.get("product_id") != chosen:
        loaded = by_id[chosen]
        try:
            loaded = ui.client().request("GET", f"/products/{chosen}") or loaded
        except ApiError as err:
            ui.show_api_error(err, "Product")
            st.stop()
        st.session_state["prod_loaded"] = loaded
    version = int(loaded.get("version", 0))
    form_key = f"prod_{chosen}_{version}"
    with st.form(form_key):
        st.caption(f"Version {version} · updated {loaded.get('updated_at')}")
        values = record_inputs(PRODUCT_FIELDS, loaded, form_key)
        save = st.form_submit_button("Save changes", type="primary", icon=":material/save:")
    if save:
        changes = payload(values, loaded)
        if not changes:
            st.info("Nothing changed.")
        else:
            try:
                saved = ui.client().update_product(chosen, changes, version)
            except ApiError as err:
                if err.status == 409:
                    st.session_state["prod_conflict"] = chosen
                elif err.status == 422:
                    show_validation(err)
                else:
                    ui.show_api_error(err, "Save")
            else:
                st.session_state["prod_loaded"] = {**loaded, **saved} if saved else {}
                st.session_state.pop("prod_conflict", None)
                st.toast("Product saved", icon=":material/check:")
                st.rerun()
    if st.session_state.get("prod_conflict") == chosen:
        st.warning(
            f"Someone else changed this product after you opened it (you edited version {version}), "
            "so your changes were **not** saved. Reload to see the current product.",
            icon=":material/sync_problem:",
        )
        if st.button("Reload the current product", key="prod_reload", icon=":material/refresh:"):
            st.session_state.pop("prod_loaded", None)
            st.session_state.pop("prod_conflict", None)
            st.rerun()
    with st.expander("Delete this product"):
        sure = st.checkbox(f"Yes, delete {loaded.get('name')} for good", key=f"prod_del_sure_{chosen}")
        if st.button(
            "Delete product", disabled=not sure, type="primary", key="prod_delete", icon=":material/delete:"
        ):
            try:
                ui.client().delete_product(chosen, version)
            except ApiError as err:
                ui.show_api_error(err, "Delete")
            else:
                st.session_state.pop("prod_loaded", None)
                st.session_state.pop("prod_chosen", None)
                st.toast("Product deleted", icon=":material/delete:")
                st.rerun()

with st.expander("New product", icon=":material/add_shopping_cart:"):
    with st.form("prod_new"):
        new_values = record_inputs(PRODUCT_FIELDS, {"active": True, "stock": 0}, "prod_new")
        create = st.form_submit_button("Create product", type="primary", icon=":material/add:")
    if create:
        try:
            created = ui.client().create_product(payload(new_values))
        except ApiError as err:
            if err.status == 422:
                show_validation(err)
            else:
                ui.show_api_error(err, "Create")
        else:
            st.success(f"Created product {created.get('name', '')}")
