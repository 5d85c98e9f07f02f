"""`--data-file`: writes kept across restarts, and a journal of another account refused."""

from __future__ import annotations

import pytest

from mock_server.testing import MockServer

from .conftest import (
    CUSTOMER,
    Client,
    new_sales_order,
    new_supplier,
    only_row_id,
    post_goods_out,
    product_body,
    stocked_product,
)


def _journalled_mock(data_file, orders: int = 20) -> MockServer:
    """A mock that keeps its writes in `data_file` and replays them at start-up."""
    return MockServer(orders=orders, extra_args=["--data-file", str(data_file)])


def _records(client: Client, *paths: str) -> list[dict]:
    return [client.get_one(path) for path in paths]


def test_given_a_data_file_when_the_mock_restarts_then_earlier_writes_are_still_there(tmp_path):
    data_file = tmp_path / "acme.jsonl"
    with _journalled_mock(data_file) as first:
        client = Client(first)
        contact_id = client.created("contact-service/contact", CUSTOMER)
        client.send(
            "PATCH",
            f"contact-service/contact/{contact_id}",
            [{"op": "replace", "path": "/firstName", "value": "Augusta"}],
        )
        order_id = new_sales_order(client, stocked_product(client, quantity=4), quantity=2)
        post_goods_out(client, order_id, only_row_id(client.get_one(f"order-service/order/{order_id}")), 2)
        before = _records(client, f"contact-service/contact/{contact_id}", f"order-service/order/{order_id}")

    with _journalled_mock(data_file) as second:
        client = Client(second)
        after = _records(client, f"contact-service/contact/{contact_id}", f"order-service/order/{order_id}")
        next_contact_id = client.created("contact-service/contact", CUSTOMER)

    assert after == before
    assert (after[0]["firstName"], after[1]["stockStatusCode"]) == ("Augusta", "SOA")
    assert next_contact_id > contact_id


def test_given_a_data_file_of_another_account_size_when_starting_then_the_mock_refuses_it(tmp_path):
    data_file = tmp_path / "acme.jsonl"
    with _journalled_mock(data_file) as first:
        Client(first).created("contact-service/contact", CUSTOMER)

    with pytest.raises(RuntimeError, match="--data-file: .* holds writes made on"):
        _journalled_mock(data_file, orders=30).start()


def _purchase_order(client) -> tuple[int, int]:
    product_id = client.created("product-service/product", product_body())
    order_id = client.created(
        "order-service/order",
        {
            "orderTypeCode": "PO",
            "parties": {"supplier": {"contactId": new_supplier(client)}},
            "rows": [{"productId": product_id, "quantity": {"magnitude": "10"}}],
        },
    )
    return order_id, only_row_id(client.get_one(f"order-service/order/{order_id}"))


def _receive(client, order_id: int, row_id: int, quantity: int):
    return client.send(
        "POST",
        f"warehouse-service/order/{order_id}/goods-note/goods-in",
        {"goodsMoved": [{"purchaseOrderRowId": row_id, "quantity": quantity}]},
    )


def test_given_a_refused_goods_in_note_between_two_when_the_mock_restarts_then_every_note_keeps_its_id(tmp_path):
    data_file = tmp_path / "acme.jsonl"
    with _journalled_mock(data_file) as first:
        client = Client(first)
        order_id, row_id = _purchase_order(client)
        first_note = _receive(client, order_id, row_id, 4).json()["response"]
        refused = _receive(client, order_id, row_id, 99)
        second_note = _receive(client, order_id, row_id, 6).json()["response"]

    with _journalled_mock(data_file) as second:
        notes = Client(second).send("GET", f"warehouse-service/order/{order_id}/goods-note/goods-in/").json()

    assert refused.status_code == 400
    assert second_note == first_note + 1 and sorted(map(int, notes["response"])) == [first_note, second_note]


def test_given_mutations_mixed_with_writes_when_the_mock_restarts_then_both_are_replayed_with_their_ids(tmp_path):
    data_file = tmp_path / "acme.jsonl"
    with _journalled_mock(data_file) as first:
        client = Client(first)
        made = first.mutate(resource="contact", action="create", changes={"firstName": "Mutated"})
        posted = client.created("contact-service/contact", CUSTOMER)
        first.mutate(resource="contact", action="update", id=posted, changes={"lastName": "Renamed"})
        before = _records(client, f"contact-service/contact/{made['id']}", f"contact-service/contact/{posted}")

    with _journalled_mock(data_file) as second:
        client = Client(second)
        after = _records(client, f"contact-service/contact/{made['id']}", f"contact-service/contact/{posted}")

    assert after == before and posted == made["id"] + 1
    assert (after[0]["firstName"], after[1]["lastName"]) == ("Mutated", "Renamed")


def test_given_a_last_line_torn_by_a_crash_when_starting_then_it_is_reported_dropped_and_the_rest_kept(tmp_path):
    data_file = tmp_path / "acme.jsonl"
    with _journalled_mock(data_file) as first:
        contact_id = Client(first).created("contact-service/contact", CUSTOMER)
    with data_file.open("ab") as journal:
        journal.write(b'{"method":"POST","path":"contact-service/contact","body":{"firstNa')

    restarted = _journalled_mock(data_file)
    with restarted:
        client = Client(restarted)
        kept = client.get_one(f"contact-service/contact/{contact_id}")
        next_id = client.created("contact-service/contact", CUSTOMER)
    with _journalled_mock(data_file) as third:
        after_repair = Client(third).get_one(f"contact-service/contact/{next_id}")

    assert "last line" in restarted.output and "cut off" in restarted.output
    assert kept["firstName"] == "Ada" and next_id == contact_id + 1 and after_repair["contactId"] == next_id


def test_given_a_journal_that_cannot_be_written_when_writing_then_500_and_the_account_is_unchanged(tmp_path):
    data_file = tmp_path / "acme.jsonl"
    with _journalled_mock(data_file) as mock:
        client = Client(mock)
        last_id = client.created("contact-service/contact", CUSTOMER)
        kept, before = data_file.read_bytes(), mock.counts()
        data_file.unlink()
        data_file.mkdir()  # opening it for an append now fails, even as root

        refused = client.send("POST", "contact-service/contact", CUSTOMER)
        mutation = mock.session.post(
            f"{mock.base_url}/_mock/mutations", timeout=10, json={"resource": "contact", "action": "create"}
        )
        after = mock.counts()
        data_file.rmdir()
        data_file.write_bytes(kept)
        next_id = client.created("contact-service/contact", CUSTOMER)

    assert (refused.status_code, refused.json()["errors"][0]["code"]) == (500, "CMNU-003")
    assert mutation.status_code == 500 and after == before
    assert next_id == last_id + 1  # neither refused change kept an ID
