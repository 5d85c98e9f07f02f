"""Paths as the real service takes them: repeated slashes read as one, and every unknown path a JSON 404."""

from __future__ import annotations

import http.client

import pytest


def _raw_get(mock, path: str) -> tuple[int, str, bytes]:
    """Send `path` byte for byte (requests and urllib3 would tidy it), with the private-app headers."""
    connection = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=30)
    try:
        connection.request("GET", path, headers=mock.auth_headers())
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "path",
    [
        "/public-api/acme//order-service/order-search?pageSize=1",
        "//public-api/acme/order-service/order-search?pageSize=1",
        "/public-api//acme/order-service//order-search?pageSize=1",
        "/public-api/acme/order-service/order-search//?pageSize=1",
        "/public-api/acme///order-service///order-search?pageSize=1",
    ],
)
def test_given_repeated_slashes_anywhere_when_searching_then_the_search_answers_as_with_single_ones(mock, path):
    status, _, body = _raw_get(mock, path)

    assert status == 200 and b'"resultsReturned":1' in body


def test_given_repeated_slashes_inside_an_id_set_get_when_getting_availability_then_it_answers(mock):
    status, _, body = _raw_get(mock, "/public-api/acme/warehouse-service//product-availability/1001")

    assert status == 200 and body.startswith(b'{"response":{"1001":')


@pytest.mark.parametrize(
    "path",
    [
        "/foo",
        "/",
        "/public-api",
        "/PUBLIC-API/acme/order-service/order-search",
        "/public-api/acme/Order-Service/order-search",
        "/public-api/acme/nope-service/x",
    ],
)
def test_given_an_unknown_path_when_requested_then_the_answer_is_the_json_404_envelope(mock, path):
    status, content_type, body = _raw_get(mock, path)

    assert (status, content_type) == (404, "application/json;charset=UTF-8")
    assert body.startswith(b'{"errors":[{"code":"CMNC-404","message":"Cannot find the resource')


def test_given_a_control_route_when_asked_with_a_method_it_does_not_take_then_the_json_405_envelope(mock):
    response = mock.session.get(f"{mock.base_url}/_mock/tokens", timeout=10)

    assert response.status_code == 405 and response.json()["errors"][0]["code"] == "CMNC-405"
