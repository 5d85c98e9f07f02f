"""Contact and company writes: POST and JSON-Patch PATCH, checked as the contact service checks them."""

from __future__ import annotations

import re

import orjson

from .. import errors
from ..resources import Record
from ..store import Dataset, deep_merge, patched
from .framework import WriteCall, existing, id_number, invalid, json_object, new_id, text_field, true_or_false

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_contact(dataset: Dataset, contact: Record) -> None:
    """What the contact service refuses, whichever write produced the record."""
    for part in ("communication", "relationshipToAccount", "financialDetails", "assignment"):
        json_object(contact.get(part), part)
    if not (contact.get("firstName") or contact.get("lastName")):
        raise invalid("CONC-001", "You must supply a first name or a last name")
    for name in ("salutation", "firstName", "lastName"):
        if not isinstance(contact.get(name, ""), str):
            raise errors.bad_request(f"{name} must be a string")
    for kind, entry in json_object(contact["communication"].get("emails", {}), "communication.emails").items():
        email = json_object(entry, f"communication.emails.{kind}").get("email")
        if not isinstance(email, str) or not EMAIL.match(email):
            raise invalid("CONC-002", f"{email!r} is not a valid email address ({kind})")
    relationship = contact["relationshipToAccount"]
    true_or_false(relationship.get("isSupplier"), "relationshipToAccount.isSupplier")
    true_or_false(relationship.get("isStaff"), "relationshipToAccount.isStaff")
    money = contact["financialDetails"]
    if money.get("priceListId") not in dataset["price-list"]:
        raise invalid("CONC-003", f"Price list {money.get('priceListId')!r} does not exist")
    if money.get("currencyId") not in dataset["currency"]:
        raise invalid("CONC-004", f"Currency {money.get('currencyId')!r} does not exist")
    if money.get("taxCodeId", 0) not in dataset["tax-code"] and money.get("taxCodeId", 0) != 0:
        raise invalid("CONC-005", f"Tax code {money.get('taxCodeId')!r} does not exist")
    nominal_codes = {record["code"] for record in dataset["nominal-code"].records()}
    if money.get("nominalCode") not in nominal_codes:
        raise invalid("CONC-006", f"Nominal code {money.get('nominalCode')!r} does not exist")
    current = json_object(contact["assignment"].get("current", {}), "assignment.current")
    owner = id_number(current.get("staffOwnerContactId", 0), "assignment.current.staffOwnerContactId")
    if owner and not (
        owner in dataset["contact"] and dataset["contact"].record(owner)["relationshipToAccount"]["isStaff"]
    ):
        raise invalid("CONC-007", f"Staff owner {owner} is not a staff contact")
    lead_source = id_number(current.get("leadSourceId", 0), "assignment.current.leadSourceId")
    if lead_source and lead_source not in dataset["lead-source"]:
        raise invalid("CONC-008", f"Lead source {lead_source} does not exist")


def _contact_defaults(contact_id: int, supplier: bool) -> Record:
    address_id = 9000 + contact_id * 2
    return {
        "contactId": contact_id,
        "isPrimaryContact": True,
        "salutation": "",
        "firstName": "",
        "lastName": "",
        "postAddressIds": {"DEF": address_id, "BIL": address_id, "DEL": address_id},
        "communication": {"emails": {}, "telephones": {}, "messagingVoips": {}, "websites": {}},
        "contactStatus": {"current": {"contactStatusId": 1, "contactStatusName": "Active"}, "history": []},
        "relationshipToAccount": {"isSupplier": supplier, "isStaff": False},
        "marketingDetails": {"isReceiveEmailNewsletter": False},
        "financialDetails": {
            "priceListId": 1 if supplier else 2,
            "nominalCode": "5000" if supplier else "4000",
            "creditLimit": 0,
            "creditTermDays": 0,
            "currencyId": 1,
            "discountPercentage": 0,
            "taxCodeId": 3,
            "creditTermTypeId": 1,
        },
        "assignment": {"current": {"staffOwnerContactId": 0, "leadSourceId": 0, "accountReference": ""}},
        "organisation": {},
        "tradeStatus": "SUPPLIER" if supplier else "RETAIL",
        "createdByid": 1,
        "contactTags": "",
        "aliases": {},
        "companyId": 0,
    }


READ_ONLY_CONTACT_KEYS = ("contactId", "createdOn", "updatedOn", "createdByid", "organisation", "companyId")


def post_contact(call: WriteCall) -> int:
    """A customer, supplier or staff contact; `organisation.name` also creates its company."""
    body = json_object(call.body, "The contact")
    relationship = json_object(body.get("relationshipToAccount", {}), "relationshipToAccount")
    supplier = true_or_false(relationship.get("isSupplier", False), "relationshipToAccount.isSupplier")
    contact_id = new_id(call.dataset, "contact")
    contact = _contact_defaults(contact_id, supplier)
    deep_merge(contact, {key: value for key, value in body.items() if key not in READ_ONLY_CONTACT_KEYS})
    _check_contact(call.dataset, contact)
    company_name = text_field(json_object(body.get("organisation", {}), "organisation"), "name")
    if company_name:
        company_id = new_id(call.dataset, "company")
        call.dataset["company"].put(
            {
                "id": company_id,
                "name": company_name,
                "primaryContactId": contact_id,
                "createdOn": call.now,
                "updatedOn": call.now,
            }
        )
        contact.update(organisation={"organisationId": company_id, "name": company_name}, companyId=company_id)
        call.publish("company.created", [company_id])
    contact.update(createdOn=call.now, updatedOn=call.now)
    call.dataset["contact"].put(contact)
    call.publish("contact.created", [contact_id])
    return contact_id


def patch_contact(call: WriteCall) -> Record:
    """Answers the patched contact as its GET shows it, as recorded."""
    contact_id = call.ids["contactId"]
    before = existing(call.dataset, "contact", contact_id, "No Contact Found with ID {id}")
    contact = patched(before, call.body)
    for key in READ_ONLY_CONTACT_KEYS:
        if contact.get(key) != before.get(key):
            raise invalid("CONC-009", f"{key} cannot be changed")
    _check_contact(call.dataset, contact)
    contact["updatedOn"] = call.now
    call.dataset["contact"].put(contact)
    call.publish("contact.modified", [contact_id])
    return orjson.loads(call.dataset["contact"].render(contact_id))


def _check_company_name(company: Record) -> None:
    if not isinstance(company.get("name"), str) or not company["name"].strip():
        raise invalid("CONC-010", "You must supply a company name")


def post_company(call: WriteCall) -> int:
    body = json_object(call.body, "The company")
    primary = id_number(body.get("primaryContactId", 0), "primaryContactId")
    if primary and primary not in call.dataset["contact"]:
        raise invalid("CONC-011", f"Contact {primary} does not exist")
    company = {
        "id": new_id(call.dataset, "company"),
        "name": body.get("name"),
        "primaryContactId": primary,
        "createdOn": call.now,
        "updatedOn": call.now,
    }
    _check_company_name(company)
    call.dataset["company"].put(company)
    call.publish("company.created", [company["id"]])
    return company["id"]


def patch_company(call: WriteCall) -> Record:
    """Answers the patched company, as the contact service's contact PATCH answers the contact."""
    company_id = call.ids["companyId"]
    before = existing(call.dataset, "company", company_id, "No Company Found with ID {id}")
    company = patched(before, call.body)
    if company.get("id") != company_id or company.get("createdOn") != before["createdOn"]:
        raise invalid("CONC-009", "id and createdOn cannot be changed")
    _check_company_name(company)
    primary = company.get("primaryContactId", 0)
    if primary and primary not in call.dataset["contact"]:
        raise invalid("CONC-011", f"Contact {primary} does not exist")
    company["updatedOn"] = call.now
    call.dataset["company"].put(company)
    call.publish("company.modified", [company_id])
    return company
