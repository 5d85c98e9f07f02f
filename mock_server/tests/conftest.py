"""One 10k-order mock for read-only tests, one small mock whose faults and budget tests may change."""

from __future__ import annotations

import pytest
import requests

from mock_server.testing import MockServer


@pytest.fixture(scope="session")
def big_mock():
    with MockServer(orders=10000, rate_limit=0) as mock:
        yield mock


@pytest.fixture(scope="session")
def _small_mock():
    with MockServer(orders=200, rate_limit=0) as mock:
        yield mock


def returned_clean(mock: MockServer):
    """`mock` for one test (a fixture's body): clean stats before it, no faults and no budget after it."""
    mock.reset_stats()
    yield mock
    mock.clear_faults()
    mock.set_rate_limit(0)


@pytest.fixture
def mock(_small_mock):
    """The small mock, returned to no faults, no budget and clean stats after each test."""
    yield from returned_clean(_small_mock)


class Api:
    """GETs against a mock with valid private-app credentials."""

    def __init__(self, mock: MockServer):
        self.mock = mock
        self.session = requests.Session()
        self.session.headers.update(mock.auth_headers())

    def get(self, path: str, params: dict | str | None = None, **kwargs) -> requests.Response:
        return self.session.get(self.mock.api_url(path), params=params, timeout=30, **kwargs)

    def options(self, path: str) -> requests.Response:
        return self.session.options(self.mock.api_url(path), timeout=30)

    def search(self, path: str, **params) -> dict:
        response = self.get(path, params)
        assert response.status_code == 200, response.text
        return response.json()

    def rows(self, path: str, **params) -> list[dict]:
        """Every row of a search, paged to the end, as dicts keyed by column name."""
        rows, first = [], 1
        while True:
            body = self.search(path, firstResult=first, **params)
            names = [column["name"] for column in body["response"]["metaData"]["columns"]]
            rows += [dict(zip(names, row)) for row in body["response"]["results"]]
            meta = body["response"]["metaData"]
            if not meta["morePagesAvailable"]:
                return rows
            first = meta["lastResult"] + 1


@pytest.fixture(scope="session")
def big_api(big_mock):
    return Api(big_mock)


@pytest.fixture
def api(mock):
    return Api(mock)
