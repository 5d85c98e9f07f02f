"""`--data-file`: writes kept across restarts, and a journal of another account refused."""

from __future__ import annotations

import pytest

from mock_server.testing import MockServer

from .conftest import CUSTOMER, Client, new_sales_order, only_row_id, post_goods_out, stocked_product


def test_given_a_data_file_when_the_mock_restarts_then_earlier_writes_are_still_there(tmp_path):
    data_file = tmp_path / "acme.jsonl"
    with MockServer(orders=20, extra_args=["--data-file", str(data_file)]) as first:
        client = Client(first)
        contact_id = client.created("contact-service/contact", CUSTOMER)
        client.send("PATCH", f"contact-service/contact/{contact_id}",
                    [{"op": "replace", "path": "/firstName", "value": "Augusta"}])
        order_id = new_sales_order(client, stocked_product(client, quantity=4), quantity=2)
        post_goods_out(client, order_id, only_row_id(client.get_one(f"order-service/order/{order_id}")), 2)
        before = [client.get_one(f"contact-service/contact/{contact_id}"),
                  client.get_one(f"order-service/order/{order_id}")]

    with MockServer(orders=20, extra_args=["--data-file", str(data_file)]) as second:
        client = Client(second)
        after = [client.get_one(f"contact-service/contact/{contact_id}"),
                 client.get_one(f"order-service/order/{order_id}")]
        next_contact_id = client.created("contact-service/contact", CUSTOMER)

    assert after == before
    assert (after[0]["firstName"], after[1]["stockStatusCode"]) == ("Augusta", "SOA")
    assert next_contact_id > contact_id


def test_given_a_data_file_of_another_account_size_when_starting_then_the_mock_refuses_it(tmp_path):
    data_file = tmp_path / "acme.jsonl"
    with MockServer(orders=20, extra_args=["--data-file", str(data_file)]) as first:
        Client(first).created("contact-service/contact", CUSTOMER)

    with pytest.raises(RuntimeError, match="--data-file: .* holds writes made on"):
        MockServer(orders=30, extra_args=["--data-file", str(data_file)]).start()
