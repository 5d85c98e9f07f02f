"""Contact and company writes: POST and JSON-Patch PATCH, what they refuse, what reads see after."""

from __future__ import annotations

from datetime import datetime

import pytest

from .conftest import CUSTOMER, error_of


def test_given_a_customer_body_when_posted_then_the_new_id_returns_and_its_get_carries_the_fields(client):
    contact_id = client.created("contact-service/contact", CUSTOMER)

    contact = client.get_one(f"contact-service/contact/{contact_id}")
    assert (contact["contactId"], contact["firstName"], contact["financialDetails"]["priceListId"]) == (
        contact_id,
        "Ada",
        3,
    )
    assert contact["relationshipToAccount"] == {"isSupplier": False, "isStaff": False}
    assert contact["createdOn"] == contact["updatedOn"]


def test_given_a_posted_contact_when_searching_by_its_email_then_the_search_sees_it_at_once(client):
    body = {**CUSTOMER, "communication": {"emails": {"PRI": {"email": "grace.hopper@example.org"}}}}
    contact_id = client.created("contact-service/contact", body)

    rows = client.rows("contact-service/contact-search", primaryEmail="grace.hopper@")

    assert [row["contactId"] for row in rows] == [contact_id]


def test_given_a_posted_contact_never_changed_when_searched_then_its_updated_on_cell_is_null(client):
    contact_id = client.created("contact-service/contact", CUSTOMER)

    [row] = client.rows("contact-service/contact-search", contactId=contact_id, columns="contactId,createdOn,updatedOn")

    assert row["updatedOn"] is None
    assert client.get_one(f"contact-service/contact/{contact_id}")["updatedOn"] == row["createdOn"]


def test_given_a_supplier_with_an_organisation_when_posted_then_its_company_is_created_and_linked(client):
    body = {
        "firstName": "Lin",
        "lastName": "Wu",
        "relationshipToAccount": {"isSupplier": True},
        "organisation": {"name": "Wu Textiles Ltd"},
    }
    contact_id = client.created("contact-service/contact", body)

    contact = client.get_one(f"contact-service/contact/{contact_id}")
    company = client.get_one(f"contact-service/company/{contact['companyId']}")
    assert contact["organisation"] == {"organisationId": company["id"], "name": "Wu Textiles Ltd"}
    assert (company["name"], company["primaryContactId"]) == ("Wu Textiles Ltd", contact_id)
    assert client.rows("contact-service/contact-search", contactId=contact_id, isSupplier="true") != []


def test_given_two_contacts_posted_when_compared_then_ids_rise_and_are_never_reused(client):
    first = client.created("contact-service/contact", CUSTOMER)
    second = client.created("contact-service/contact", CUSTOMER)

    assert second == first + 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"firstName": "", "lastName": ""}, "CONC-001"),
        ({"communication": {"emails": {"PRI": {"email": "not-an-email"}}}}, "CONC-002"),
        ({"financialDetails": {"priceListId": 99}}, "CONC-003"),
        ({"financialDetails": {"currencyId": 99}}, "CONC-004"),
        ({"financialDetails": {"nominalCode": "0000"}}, "CONC-006"),
        ({"assignment": {"current": {"staffOwnerContactId": 40}}}, "CONC-007"),
        ({"relationshipToAccount": {"isSupplier": "yes"}}, "CMNC-400"),
    ],
)
def test_given_an_invalid_contact_when_posted_then_400_with_the_code_and_nothing_is_created(client, mock, change, code):
    before = mock.counts()["contact"]
    body = {**CUSTOMER, **change}

    response = client.send("POST", "contact-service/contact", body)

    assert error_of(response) == (400, code)
    assert mock.counts()["contact"] == before


def test_given_a_json_patch_when_a_contact_is_patched_then_the_field_changes_and_updated_on_moves(client, mock):
    contact_id = client.created("contact-service/contact", CUSTOMER)
    before = client.get_one(f"contact-service/contact/{contact_id}")
    mock.advance_clock(120)

    response = client.send(
        "PATCH", f"contact-service/contact/{contact_id}", [{"op": "replace", "path": "/lastName", "value": "Lovelace"}]
    )

    after = client.get_one(f"contact-service/contact/{contact_id}")
    assert (response.status_code, response.json()) == (200, {"response": after})
    assert after["lastName"] == "Lovelace"
    assert datetime.fromisoformat(after["updatedOn"]) > datetime.fromisoformat(before["updatedOn"])
    assert client.rows("contact-service/contact-search", lastName="Lovelace")[0]["contactId"] == contact_id


def test_given_an_unknown_contact_when_patched_then_404_cmnc_404(client):
    response = client.send(
        "PATCH", "contact-service/contact/999999", [{"op": "replace", "path": "/firstName", "value": "X"}]
    )

    assert error_of(response) == (404, "CMNC-404")


def test_given_a_patch_op_on_a_missing_path_when_applied_then_500_cmnc_044_as_recorded(client):
    contact_id = client.created("contact-service/contact", CUSTOMER)

    response = client.send(
        "PATCH", f"contact-service/contact/{contact_id}", [{"op": "replace", "path": "/no/such/field", "value": 1}]
    )

    assert error_of(response) == (500, "CMNC-044")


def test_given_a_patch_that_changes_the_contact_id_when_applied_then_400_and_the_contact_stays(client):
    contact_id = client.created("contact-service/contact", CUSTOMER)

    response = client.send(
        "PATCH", f"contact-service/contact/{contact_id}", [{"op": "replace", "path": "/contactId", "value": 1}]
    )

    assert error_of(response) == (400, "CONC-009")
    assert client.get_one(f"contact-service/contact/{contact_id}")["contactId"] == contact_id


def test_given_a_company_when_posted_and_patched_then_search_sees_the_new_name(client):
    company_id = client.created("contact-service/company", {"name": "Orbit Supplies"})

    response = client.send(
        "PATCH",
        f"contact-service/company/{company_id}",
        [{"op": "replace", "path": "/name", "value": "Orbit Supplies Ltd"}],
    )

    assert response.status_code == 200
    assert client.rows("contact-service/company-search", companyId=company_id)[0]["name"] == "Orbit Supplies Ltd"


def test_given_a_company_without_a_name_when_posted_then_400_conc_010(client):
    assert error_of(client.send("POST", "contact-service/company", {"name": " "})) == (400, "CONC-010")
