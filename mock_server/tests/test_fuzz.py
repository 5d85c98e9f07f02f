"""No request a client can send makes the mock answer a 5xx it did not ask for.

The only 5xx allowed are the real service's 500 CMNC-018 for a filter value that does not parse and
500 CMNC-044 for a PATCH body that is not a JSON Patch. Paths are sent byte for byte, so repeated
and encoded slashes, odd case and stray dots reach the server as a client wrote them.
"""

from __future__ import annotations

import http.client
import json
import random
import string
from urllib.parse import quote, urlencode

import pytest

from mock_server.custom_fields import OWNERS
from mock_server.registry import RESOURCES
from mock_server.testing import MockServer
from mock_server.writes import WRITES

METHODS = ["GET", "GET", "GET", "OPTIONS", "POST", "PATCH", "PUT", "DELETE"]
# the reads that are not a registry search or GET: a record's part
RECORD_PARTS = [
    "warehouse-service/warehouse/{id}/location/default",
    "integration-service/account-configuration",
    *(f"{owner.path}/{{id}}/custom-field" for owner in OWNERS),
]
MANGLE = [
    lambda p: p.replace("/", "//"),
    lambda p: p.replace("/", "%2F", 1),
    lambda p: p.upper(),
    lambda p: p.title(),
    lambda p: "/" + p,
    lambda p: p + "/",
    lambda p: p.replace("-service", "-service/."),
    lambda p: p.replace("/", "/%2f/", 1),
]
BODIES = [
    None,
    "",
    "{",
    "[]",
    "{}",
    "null",
    '[{"op":"add","path":"/x","value":1}]',
    '[{"op":"nope"}]',
    '{"corrections":[{"productId":1001,"quantity":1,"reason":"x"}]}',
    '"text"',
    "1e999",
]
NASTY = [
    "",
    "-",
    "0",
    "-1",
    "1-",
    "9-3",
    "1,,2",
    "*",
    "%2F",
    "..",
    "1.2.3",
    "99999999999999999999",
    "1-999999999",
    "true",
    "null",
    "[]",
    "{}",
    "/",
    "2024-13-45T99:99:99Z/",
    "é",
    "a" * 300,
    "1%00",
    "5 OR 1=1",
]


def _random_path(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.15:
        path = rng.choice(RECORD_PARTS).replace("{id}", rng.choice(NASTY + ["1", "100001", "1001", "3"]))
    elif pick < 0.3:
        path = rng.choice(WRITES).path
        for name in (
            "orderId",
            "rowId",
            "contactId",
            "companyId",
            "productId",
            "priceListId",
            "warehouseId",
            "webhookId",
            "recordId",
        ):
            path = path.replace("{" + name + "}", rng.choice(NASTY + ["1", "100001", "1001", "2"]))
    else:
        resource = rng.choice(RESOURCES)
        templates = [p for p in (resource.search, resource.get) if p] or ["x"]
        path = rng.choice(templates).replace("{parent}", rng.choice(["*", "1", "abc", "1-3"]))
        if rng.random() < 0.6:
            path += "/" + rng.choice(NASTY + [str(rng.randint(1, 200000))])
        service = resource.service if rng.random() < 0.9 else rng.choice(["nope", "order", ""])
        path = f"{service}-service/{path}"
    if rng.random() < 0.1:
        path = "".join(rng.choice(string.ascii_letters + "/-._~%") for _ in range(rng.randint(1, 40)))
    if rng.random() < 0.3:
        path = rng.choice(MANGLE)(path)
    return path


def _random_params(rng: random.Random) -> dict:
    names = [
        "pageSize",
        "firstResult",
        "lastResult",
        "columns",
        "sort",
        "countOnly",
        "includeOptional",
        "orderId",
        "updatedOn",
        "createdOn",
        "orderStatusId",
        "isSupplier",
        "productName",
        "contactId",
        "journalRowId",
        "zzz",
    ]
    return {
        rng.choice(names): rng.choice(NASTY + ["500", "1", "orderId.DESC", "updatedOn|ASC", "customFields"])
        for _ in range(rng.randint(0, 4))
    }


@pytest.fixture(scope="module")
def fuzzed_mock():
    """A mock of its own: some random writes succeed, and no other test's data may change under it."""
    with MockServer(orders=200, rate_limit=0) as mock:
        yield mock


def test_given_600_random_requests_when_sent_then_no_unrequested_5xx_comes_back(fuzzed_mock):
    rng = random.Random(20261123)
    connection = http.client.HTTPConnection("127.0.0.1", fuzzed_mock.port, timeout=30)
    unexpected = []

    for _ in range(600):
        method, path, params, body = rng.choice(METHODS), _random_path(rng), _random_params(rng), rng.choice(BODIES)
        target = f"/public-api/{fuzzed_mock.account}/{path}" + (f"?{urlencode(params)}" if params else "")
        target = quote(target, safe=string.punctuation)  # only spaces and non-ASCII get encoded
        status, text = _send(connection, method, target, body, fuzzed_mock.auth_headers())
        if status >= 500 and not _is_allowed_500(status, text):
            unexpected.append((method, target, body, status, text[:200]))

    connection.close()
    assert unexpected == []


def _send(
    connection: http.client.HTTPConnection, method: str, target: str, body: str | None, headers: dict
) -> tuple[int, str]:
    """One request sent as written; a new connection when the server closed the last one."""
    for _ in range(2):
        try:
            connection.request(method, target, body=body, headers={**headers, "content-type": "application/json"})
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        except (http.client.HTTPException, ConnectionError):
            connection.close()
    raise AssertionError(f"the mock stopped answering at {method} {target}")


def _is_allowed_500(status: int, text: str) -> bool:
    try:
        code = json.loads(text)["errors"][0]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        return False
    return status == 500 and code in ("CMNC-018", "CMNC-044")
