"""Every injectable fault, and mutations as incremental syncs and delete sweeps meet them."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
import requests

from mock_server.errors import TOKEN_EXPIRED, TOO_MANY_REQUESTS

SEARCH = "order-service/order-search"


def _get(mock, path=SEARCH, **params):
    return requests.get(mock.api_url(path), headers=mock.auth_headers(), params=params, timeout=30)


def test_given_a_throttle_fault_when_calling_then_503_with_the_real_body_then_normal_service(mock):
    mock.add_fault(kind="throttle", count=2, period_ms=1500)

    first, second, third = _get(mock), _get(mock), _get(mock)

    assert first.status_code == second.status_code == 503
    assert first.json() == {"response": TOO_MANY_REQUESTS}
    assert first.headers["brightpearl-next-throttle-period"] == "1500"
    assert third.status_code == 200


def test_given_a_429_fault_when_calling_then_429_with_retry_after(mock):
    mock.add_fault(kind="429", retry_after=3)

    response = _get(mock)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert _get(mock).status_code == 200


def test_given_a_token_expired_fault_after_two_calls_when_calling_then_the_third_is_401(mock):
    mock.add_fault(kind="token_expired", after=2)

    statuses = [_get(mock).status_code for _ in range(4)]

    assert statuses == [200, 200, 401, 200]


def test_given_a_persistent_token_expired_fault_when_calling_then_every_call_is_401_with_the_real_body(mock):
    mock.add_fault(kind="token_expired", count=None)

    responses = [_get(mock) for _ in range(3)]

    assert all(r.status_code == 401 and r.json() == {"response": TOKEN_EXPIRED} for r in responses)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_given_a_gateway_error_fault_when_calling_then_an_html_page_like_a_proxy(mock, status):
    mock.add_fault(kind=str(status))

    response = _get(mock)

    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f"<h1>{status}" in response.text


def test_given_a_slow_fault_when_calling_then_the_response_is_delayed(mock):
    mock.add_fault(kind="slow", delay_ms=700)

    started = time.monotonic()
    response = _get(mock)

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.7


def test_given_a_reset_fault_when_calling_then_the_connection_drops_mid_body(mock):
    mock.add_fault(kind="reset")

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _get(mock)
    assert _get(mock).status_code == 200


def test_given_a_truncate_fault_when_calling_then_the_body_is_cut_json(mock):
    mock.add_fault(kind="truncate")

    response = _get(mock)

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_given_a_fault_on_one_path_when_calling_another_then_it_does_not_fire(mock):
    mock.add_fault(kind="500", path="product-search")

    assert _get(mock).status_code == 200
    assert _get(mock, "product-service/product-search").status_code == 500


def test_given_a_bad_id_when_an_id_set_contains_it_then_the_whole_set_fails_and_sets_without_it_succeed(mock):
    mock.add_fault(kind="bad_id", ids=[100005], count=None)

    with_bad = _get(mock, "order-service/order/100001-100010")
    without_bad = _get(mock, "order-service/order/100001-100004,100006-100010")

    assert with_bad.status_code == 400
    assert without_bad.status_code == 200 and len(without_bad.json()["response"]) == 9


def test_given_an_unknown_fault_kind_when_added_then_the_control_api_refuses_it(mock):
    response = requests.post(f"{mock.base_url}/_mock/faults", json={"kind": "meteor"}, timeout=10)

    assert response.status_code == 400
    assert "meteor" in response.json()["error"]


def _order(mock, order_id):
    return _get(mock, f"order-service/order/{order_id}").json()["response"][0]


def test_given_an_update_when_applied_then_updated_on_is_bumped_and_the_order_matches_a_since_filter(mock):
    before = _order(mock, 100003)
    mock.advance_clock(3600)

    result = mock.mutate(resource="order", action="update", id=100003, changes={"orderStatus": {"orderStatusId": 6}})

    after = _order(mock, 100003)
    assert after["orderStatus"] == {"orderStatusId": 6, "name": before["orderStatus"]["name"]}
    assert datetime.fromisoformat(after["updatedOn"]) > datetime.fromisoformat(before["updatedOn"])
    recent = _get(mock, updatedOn=f"{result['updatedOn'][:19]}/", columns="orderId,orderStatusId").json()
    assert [100003, 6] in recent["response"]["results"]


def test_given_an_update_without_touch_when_applied_then_updated_on_stays_stale(mock):
    before = _order(mock, 100004)

    mock.mutate(resource="order", action="update", id=100004, touch=False, changes={"reference": "EDITED-QUIETLY"})

    after = _order(mock, 100004)
    assert after["reference"] == "EDITED-QUIETLY"
    assert after["updatedOn"] == before["updatedOn"]


def test_given_a_create_when_applied_then_a_new_highest_id_appears_in_search_and_options(mock):
    created = mock.mutate(resource="order", action="create", template_id=100001, changes={"reference": "NEW-1"})

    uris = requests.options(mock.api_url("order-service/order"), headers=mock.auth_headers(), timeout=10).json()
    assert created["id"] == max(mock_ids(mock))
    assert str(created["id"]) in uris["response"]["getUris"][-1]
    assert _order(mock, created["id"])["reference"] == "NEW-1"


def _search_row(mock, order_id, **filters):
    rows = _get(mock, orderId=str(order_id), columns="orderId,createdOn,updatedOn", **filters).json()
    return [dict(zip(("orderId", "createdOn", "updatedOn"), row)) for row in rows["response"]["results"]]


def test_given_an_order_created_and_never_changed_when_searched_then_its_updated_on_cell_is_null_but_its_get_has_it(
    mock,
):
    created = mock.mutate(resource="order", action="create", template_id=100001)

    [row] = _search_row(mock, created["id"])

    assert row["updatedOn"] is None and row["createdOn"]
    assert _order(mock, created["id"])["updatedOn"] == row["createdOn"]


def test_given_a_never_updated_order_when_searching_updated_on_from_before_its_creation_then_it_is_left_out(mock):
    created = mock.mutate(resource="order", action="create", template_id=100001)
    since = f"{created['updatedOn'][:10]}T00:00:00Z/"

    assert _search_row(mock, created["id"], updatedOn=since) == []
    assert [row["orderId"] for row in _search_row(mock, created["id"], createdOn=since)] == [created["id"]]


def test_given_a_never_updated_order_when_changed_then_its_search_cell_carries_the_change_date(mock):
    created = mock.mutate(resource="order", action="create", template_id=100001)
    mock.advance_clock(60)

    changed = mock.mutate(resource="order", action="update", id=created["id"], changes={"reference": "EDITED"})

    [row] = _search_row(mock, created["id"], updatedOn=f"{created['updatedOn'][:10]}T00:00:00Z/")
    assert row["updatedOn"] == changed["updatedOn"] != row["createdOn"]


def test_given_a_search_sorted_on_another_column_when_a_record_changes_then_the_next_search_sorts_it_anew(mock):
    def latest():
        return _get(mock, sort="updatedOn.DESC", columns="orderId", pageSize=1).json()["response"]["results"]

    before = latest()
    mock.advance_clock(366 * 24 * 3600)

    mock.mutate(resource="order", action="update", id=100005, changes={"reference": "LATEST"})

    assert before != [[100005]] and latest() == [[100005]]


def test_given_a_delete_when_applied_then_the_record_leaves_search_get_and_options(mock):
    mock.mutate(resource="order", action="delete", id=100007)

    assert 100007 not in mock_ids(mock)
    assert _get(mock, "order-service/order/100007").json() == {"response": []}


def mock_ids(mock):
    rows = _get(mock, columns="orderId", pageSize=500).json()["response"]["results"]
    return [row[0] for row in rows]


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        ("POST", "mutations", b"{not json"),
        (
            "POST",
            "mutations",
            [
                {"resource": "order", "action": "update", "id": 100010, "changes": {"reference": "X"}},
                {"resource": "order", "action": "update", "id": 999999999},
            ],
        ),
        ("POST", "mutations", {"resource": "nope", "action": "update", "id": 1}),
        ("POST", "mutations", {"resource": "order", "action": "rename", "id": 100010}),
        ("POST", "mutations", {"resource": "order", "action": "update", "id": "abc"}),
        ("POST", "mutations", {"resource": "order", "action": "update", "id": 100010, "changes": ["x"]}),
        ("POST", "mutations", {"resource": "order", "action": "update", "id": 100010, "changes": {"id": 5}}),
        (
            "POST",
            "mutations",
            {"resource": "order", "action": "update", "id": 100010, "changes": {"orderTypeCode": "??"}},
        ),
        ("POST", "mutations", {"resource": "order", "action": "create", "template_id": 5}),
        ("POST", "mutations", "just a string"),
        ("POST", "clock", {"advance_seconds": "soon"}),
        ("POST", "clock", {"advance_seconds": 1e300}),
        ("POST", "clock", [1, 2]),
        ("POST", "rate-limit", {"limit": -1}),
        ("POST", "rate-limit", {"limit": 2.5}),
        ("POST", "rate-limit", {"reset": "yes"}),
        ("POST", "tokens", {"expires_in": "forever"}),
        ("POST", "webhooks", {"max_attempts": 0}),
        ("POST", "faults", {"kind": "meteor"}),
        ("POST", "faults", {"kind": "429", "path": "("}),
        ("POST", "faults", ["not an object"]),
        ("GET", "webhooks/deliveries?wait=later", None),
        ("GET", "webhooks/deliveries?wait=100000", None),
    ],
)
def test_given_bad_control_input_when_sent_then_400_with_a_message_and_nothing_changes(mock, method, route, body):
    before = (
        mock.counts(),
        _order(mock, 100010),
        mock.control("GET", "clock")["offset_seconds"],
        mock.control("GET", "rate-limit"),
        mock.control("GET", "faults"),
    )
    content = body if isinstance(body, bytes) else (None if body is None else json.dumps(body))

    response = mock.session.request(method, f"{mock.base_url}/_mock/{route}", data=content, timeout=30)

    assert response.status_code == 400 and response.json()["error"]
    assert (
        mock.counts(),
        _order(mock, 100010),
        mock.control("GET", "clock")["offset_seconds"],
        mock.control("GET", "rate-limit"),
        mock.control("GET", "faults"),
    ) == before
