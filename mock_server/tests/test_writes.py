"""Writes over real sockets: each endpoint's effect, what it refuses, and what reads see afterwards."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests

from mock_server.errors import TOO_MANY_REQUESTS
from mock_server.testing import MockServer


@pytest.fixture(scope="module")
def writable_mock():
    """A mock of its own: writes change the account, and other modules' mocks must not see that."""
    with MockServer(orders=60, rate_limit=0) as mock:
        yield mock


@pytest.fixture
def mock(writable_mock):
    yield writable_mock
    writable_mock.set_rate_limit(0)


class Client:
    """What an integrator's app sends: JSON bodies with private-app credentials."""

    def __init__(self, mock: MockServer):
        self.mock = mock
        self.session = requests.Session()
        self.session.headers.update(mock.auth_headers())

    def send(self, method: str, path: str, body=None, **kwargs) -> requests.Response:
        return self.session.request(method, self.mock.api_url(path), json=body, timeout=30, **kwargs)

    def created(self, path: str, body) -> int:
        response = self.send("POST", path, body)
        assert response.status_code == 200, response.text
        return response.json()["response"]

    def get_one(self, path: str) -> dict:
        response = self.send("GET", path)
        assert response.status_code == 200, response.text
        return response.json()["response"][0]

    def search(self, path: str, **params) -> list[dict]:
        body = self.send("GET", path, params=params).json()["response"]
        names = [column["name"] for column in body["metaData"]["columns"]]
        return [dict(zip(names, row)) for row in body["results"]]


@pytest.fixture
def client(mock):
    return Client(mock)


def _error(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["errors"][0]["code"]


CUSTOMER = {"salutation": "Ms", "firstName": "Ada", "lastName": "Byron",
            "communication": {"emails": {"PRI": {"email": "ada@example.org"}}, "telephones": {"PRI": "+1 555 0100"}},
            "financialDetails": {"priceListId": 3, "currencyId": 1}}


# contacts and companies ----------------------------------------------------------------------

def test_given_a_customer_body_when_posted_then_the_new_id_returns_and_its_get_carries_the_fields(client):
    contact_id = client.created("contact-service/contact", CUSTOMER)

    contact = client.get_one(f"contact-service/contact/{contact_id}")
    assert (contact["contactId"], contact["firstName"], contact["financialDetails"]["priceListId"]) == (
        contact_id, "Ada", 3)
    assert contact["relationshipToAccount"] == {"isSupplier": False, "isStaff": False}
    assert contact["createdOn"] == contact["updatedOn"]


def test_given_a_posted_contact_when_searching_by_its_email_then_the_search_sees_it_at_once(client):
    body = {**CUSTOMER, "communication": {"emails": {"PRI": {"email": "grace.hopper@example.org"}}}}
    contact_id = client.created("contact-service/contact", body)

    rows = client.search("contact-service/contact-search", primaryEmail="grace.hopper@")

    assert [row["contactId"] for row in rows] == [contact_id]


def test_given_a_supplier_with_an_organisation_when_posted_then_its_company_is_created_and_linked(client):
    body = {"firstName": "Lin", "lastName": "Wu", "relationshipToAccount": {"isSupplier": True},
            "organisation": {"name": "Wu Textiles Ltd"}}
    contact_id = client.created("contact-service/contact", body)

    contact = client.get_one(f"contact-service/contact/{contact_id}")
    company = client.get_one(f"contact-service/company/{contact['companyId']}")
    assert contact["organisation"] == {"organisationId": company["id"], "name": "Wu Textiles Ltd"}
    assert (company["name"], company["primaryContactId"]) == ("Wu Textiles Ltd", contact_id)
    assert client.search("contact-service/contact-search", contactId=contact_id, isSupplier="true") != []


def test_given_two_contacts_posted_when_compared_then_ids_rise_and_are_never_reused(client):
    first = client.created("contact-service/contact", CUSTOMER)
    second = client.created("contact-service/contact", CUSTOMER)

    assert second == first + 1


@pytest.mark.parametrize(("change", "code"), [
    ({"firstName": "", "lastName": ""}, "CONC-001"),
    ({"communication": {"emails": {"PRI": {"email": "not-an-email"}}}}, "CONC-002"),
    ({"financialDetails": {"priceListId": 99}}, "CONC-003"),
    ({"financialDetails": {"currencyId": 99}}, "CONC-004"),
    ({"financialDetails": {"nominalCode": "0000"}}, "CONC-006"),
    ({"assignment": {"current": {"staffOwnerContactId": 40}}}, "CONC-007"),
    ({"relationshipToAccount": {"isSupplier": "yes"}}, "CMNC-400"),
])
def test_given_an_invalid_contact_when_posted_then_400_with_the_code_and_nothing_is_created(client, mock, change, code):
    before = mock.counts()["contact"]
    body = {**CUSTOMER, **change}

    response = client.send("POST", "contact-service/contact", body)

    assert _error(response) == (400, code)
    assert mock.counts()["contact"] == before


def test_given_a_body_that_is_not_json_when_posted_then_400_saying_so(client):
    response = client.send("POST", "contact-service/contact", data=b"{firstName: Ada")

    assert _error(response) == (400, "CMNC-400")
    assert "not valid JSON" in response.json()["errors"][0]["message"]


def test_given_a_json_patch_when_a_contact_is_patched_then_the_field_changes_and_updated_on_moves(client, mock):
    contact_id = client.created("contact-service/contact", CUSTOMER)
    before = client.get_one(f"contact-service/contact/{contact_id}")
    mock.advance_clock(120)

    response = client.send("PATCH", f"contact-service/contact/{contact_id}",
                           [{"op": "replace", "path": "/lastName", "value": "Lovelace"}])

    after = client.get_one(f"contact-service/contact/{contact_id}")
    assert (response.status_code, response.json()) == (200, {})
    assert after["lastName"] == "Lovelace"
    assert datetime.fromisoformat(after["updatedOn"]) > datetime.fromisoformat(before["updatedOn"])
    assert client.search("contact-service/contact-search", lastName="Lovelace")[0]["contactId"] == contact_id


def test_given_an_unknown_contact_when_patched_then_404_cmnc_404(client):
    response = client.send("PATCH", "contact-service/contact/999999", [{"op": "replace", "path": "/firstName",
                                                                         "value": "X"}])

    assert _error(response) == (404, "CMNC-404")


def test_given_a_patch_op_on_a_missing_path_when_applied_then_500_cmnc_044_as_recorded(client):
    contact_id = client.created("contact-service/contact", CUSTOMER)

    response = client.send("PATCH", f"contact-service/contact/{contact_id}",
                           [{"op": "replace", "path": "/no/such/field", "value": 1}])

    assert _error(response) == (500, "CMNC-044")


def test_given_a_patch_that_changes_the_contact_id_when_applied_then_400_and_the_contact_stays(client):
    contact_id = client.created("contact-service/contact", CUSTOMER)

    response = client.send("PATCH", f"contact-service/contact/{contact_id}",
                           [{"op": "replace", "path": "/contactId", "value": 1}])

    assert _error(response) == (400, "CONC-009")
    assert client.get_one(f"contact-service/contact/{contact_id}")["contactId"] == contact_id


def test_given_a_company_when_posted_and_patched_then_search_sees_the_new_name(client):
    company_id = client.created("contact-service/company", {"name": "Orbit Supplies"})

    response = client.send("PATCH", f"contact-service/company/{company_id}",
                           [{"op": "replace", "path": "/name", "value": "Orbit Supplies Ltd"}])

    assert response.status_code == 200
    assert client.search("contact-service/company-search", companyId=company_id)[0]["name"] == "Orbit Supplies Ltd"


def test_given_a_company_without_a_name_when_posted_then_400_conc_010(client):
    assert _error(client.send("POST", "contact-service/company", {"name": " "})) == (400, "CONC-010")


# the pipeline ------------------------------------------------------------------------------------

def test_given_the_budget_is_spent_when_writing_then_503_and_nothing_is_written(client, mock):
    mock.set_rate_limit(1)
    client.send("GET", "contact-service/contact-search")
    before = mock.counts()["contact"]

    response = client.send("POST", "contact-service/contact", CUSTOMER)

    assert (response.status_code, response.json()) == (503, {"response": TOO_MANY_REQUESTS})
    assert mock.counts()["contact"] == before


def test_given_no_credentials_when_writing_then_401_and_nothing_is_written(mock):
    before = mock.counts()["contact"]

    response = requests.post(mock.api_url("contact-service/contact"), json=CUSTOMER, timeout=10)

    assert response.status_code == 401
    assert mock.counts()["contact"] == before


def test_given_a_write_when_counted_then_stats_name_the_write_route(client, mock):
    mock.reset_stats()

    client.created("contact-service/contact", CUSTOMER)

    assert mock.stats()["routes"]["POST contact-service/contact"] == {"200": 1}


# --data-file -----------------------------------------------------------------------------------

def test_given_a_data_file_when_the_mock_restarts_then_earlier_writes_are_still_there(tmp_path):
    data_file = tmp_path / "acme.jsonl"
    with MockServer(orders=20, extra_args=["--data-file", str(data_file)]) as first:
        contact_id = Client(first).created("contact-service/contact", CUSTOMER)
        Client(first).send("PATCH", f"contact-service/contact/{contact_id}",
                           [{"op": "replace", "path": "/firstName", "value": "Augusta"}])
        before = Client(first).get_one(f"contact-service/contact/{contact_id}")

    with MockServer(orders=20, extra_args=["--data-file", str(data_file)]) as second:
        after = Client(second).get_one(f"contact-service/contact/{contact_id}")

    assert after == before
    assert after["firstName"] == "Augusta"


def test_given_a_data_file_of_another_account_size_when_starting_then_the_mock_refuses_it(tmp_path):
    data_file = tmp_path / "acme.jsonl"
    with MockServer(orders=20, extra_args=["--data-file", str(data_file)]) as first:
        Client(first).created("contact-service/contact", CUSTOMER)

    with pytest.raises(RuntimeError, match="--data-file: .* holds writes made on"):
        MockServer(orders=30, extra_args=["--data-file", str(data_file)]).start()
