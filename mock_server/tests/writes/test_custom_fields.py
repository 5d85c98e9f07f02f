"""Custom-field PATCH: JSON Patch on the GET's map, values typed by the field, the answer as recorded."""

from __future__ import annotations

import pytest

from .conftest import error_of, new_customer, new_sales_order, product_body

SALE_SELECT = "PCF_SOURCE"  # options 201-204


def _sales_order(client) -> int:
    return new_sales_order(client, client.created("product-service/product", product_body()))


def test_given_a_select_option_id_when_an_order_field_is_patched_then_the_answer_resolves_the_option(client):
    order_id = _sales_order(client)

    response = client.send(
        "PATCH",
        f"order-service/order/{order_id}/custom-field",
        [{"op": "add", "path": f"/{SALE_SELECT}", "value": {"id": 202}}],
    )

    fields = client.send("GET", f"order-service/order/{order_id}/custom-field").json()["response"]
    assert response.status_code == 200 and response.headers["message-type"] == "patch-custom-fields"
    assert response.json()["response"][SALE_SELECT] == {"id": 202, "value": "Paid social"}
    assert fields == response.json()["response"]


def test_given_digits_in_a_string_when_an_integer_field_is_patched_then_a_number_is_kept(client):
    supplier_id = client.created(
        "contact-service/contact",
        {"firstName": "Sam", "lastName": "Supplier", "relationshipToAccount": {"isSupplier": True}},
    )

    response = client.send(
        "PATCH",
        f"contact-service/contact/{supplier_id}/custom-field",
        [{"op": "add", "path": "/PCF_LEADDAYS", "value": "21"}],
    )

    assert response.json() == {"response": {"PCF_LEADDAYS": 21}}


def test_given_a_remove_when_a_product_field_is_patched_then_the_field_is_no_longer_read(client):
    product_id = client.created("product-service/product", product_body())
    client.send(
        "PATCH",
        f"product-service/product/{product_id}/custom-field",
        [{"op": "add", "path": "/PCF_MATERIAL", "value": "Linen"}],
    )

    client.send(
        "PATCH", f"product-service/product/{product_id}/custom-field", [{"op": "remove", "path": "/PCF_MATERIAL"}]
    )

    assert client.send("GET", f"product-service/product/{product_id}/custom-field").json() == {"response": {}}


@pytest.mark.parametrize(
    ("operation", "names"),
    [
        ({"op": "add", "path": "/PCF_NOPE", "value": "x"}, "PCF_NOPE"),
        ({"op": "add", "path": "/PCF_SOURCE", "value": {"id": 999}}, "PCF_SOURCE"),
        ({"op": "add", "path": "/PCF_PRIORITY", "value": "yes"}, "PCF_PRIORITY"),
    ],
)
def test_given_a_value_the_field_cannot_hold_when_patched_then_400_names_it_and_nothing_changes(
    client, operation, names
):
    order_id = _sales_order(client)
    before = client.send("GET", f"order-service/order/{order_id}/custom-field").json()

    response = client.send(
        "PATCH",
        f"order-service/order/{order_id}/custom-field",
        [{"op": "add", "path": "/PCF_GIFTMSG", "value": "changed first"}, operation],
    )

    assert error_of(response) == (400, "CMNC-400") and names in response.json()["errors"][0]["message"]
    assert client.send("GET", f"order-service/order/{order_id}/custom-field").json() == before


def test_given_a_customer_field_on_a_customer_when_patched_then_the_contact_get_with_custom_fields_shows_it(client):
    contact_id = new_customer(client)

    client.send(
        "PATCH",
        f"contact-service/contact/{contact_id}/custom-field",
        [{"op": "add", "path": "/PCF_VIP", "value": True}],
    )

    contact = client.send(
        "GET", f"contact-service/contact/{contact_id}", params={"includeOptional": "customFields"}
    ).json()["response"][0]
    assert contact["customFields"] == {"PCF_VIP": True}
