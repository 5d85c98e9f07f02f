"""Writes: the POST, PUT and PATCH calls integrators make, declared once in `WRITES`.

`app._resolve` looks a call up here before the registry's search/GET/OPTIONS routes, so a write goes
through the same pipeline as a read (account -> rate limit -> faults -> auth -> route). A handler
validates its body like the real service (400 `{"errors":[{"code","message"}]}`), changes the dataset
keeping related records consistent, stamps `updatedOn`/`createdOn` with the mock clock (`call.now`),
and names the webhook events the change raised (`call.publish`). Handlers depend only on the
dataset, the body and `call.now`, so replaying a journal of writes rebuilds the same account.

Codes the public record does not give are the mock's choice, in Brightpearl's `{SVC}C-{nnn}` form;
README's "Writes" table lists them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import jsonpatch
import orjson

from . import errors
from .errors import ApiError
from .resources import Record
from .store import Dataset, deep_merge
from .webhooks import delete_webhook, post_webhook, simulate_webhook

if TYPE_CHECKING:
    from .app import MockState


@dataclass
class WriteCall:
    """One write being served: the mock's state, the path's IDs, the decoded body and its moment.

    The handler sets `result` (None answers a bare `{}`) and lists its events with `publish`; they
    are raised after the write succeeds, and not at all when a journal is replayed.
    """

    state: MockState
    ids: dict[str, int]
    body: Any
    now: str
    result: Any = None
    events: list[tuple[str, list[int]]] = field(default_factory=list)

    @property
    def dataset(self) -> Dataset:
        return self.state.dataset

    def publish(self, full_event: str, ids: Iterable[int]) -> None:
        self.events.append((full_event, list(ids)))


# A handler returns the `response` value: the new ID of a POST, None for the bare `{}` of a PUT/PATCH.
Handler = Callable[[WriteCall], Any]


@dataclass(frozen=True)
class Write:
    """A write endpoint: `path` is under the account, `{name}` segments are positive integer IDs."""

    method: str
    path: str
    handle: Handler
    message_type: str

    @cached_property
    def pattern(self) -> re.Pattern:
        literal = re.escape(self.path)
        for name in re.findall(r"\{(\w+)\}", self.path):
            literal = literal.replace(re.escape("{" + name + "}"), f"(?P<{name}>[1-9][0-9]{{0,17}})")
        return re.compile(f"^{literal}/?$")

    def match(self, method: str, path: str) -> dict[str, int] | None:
        if method != self.method:
            return None
        found = self.pattern.match(path)
        return None if found is None else {name: int(value) for name, value in found.groupdict().items()}


def find_write(method: str, path: str) -> tuple[Write, dict[str, int]] | None:
    for write in WRITES:
        ids = write.match(method, path)
        if ids is not None:
            return write, ids
    return None


def perform(state: MockState, write: Write, ids: dict[str, int], body: Any, now: str) -> WriteCall:
    call = WriteCall(state, ids, body, now)
    call.result = write.handle(call)
    return call


def decode_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise errors.bad_request(f"The request body is not valid JSON: {error}") from None


def invalid(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


# ---------------------------------------------------------------------------------------------
# Body reading: each helper names the field it refuses, so the error says what to fix
# ---------------------------------------------------------------------------------------------

def _object(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise errors.bad_request(f"{name} must be a JSON object")
    return value


def _text(body: dict, name: str, required: bool = False, default: str = "") -> str:
    value = body.get(name)
    if value is None:
        if required:
            raise errors.bad_request(f"You must supply {name}")
        return default
    if not isinstance(value, str):
        raise errors.bad_request(f"{name} must be a string")
    return value


def _id(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.bad_request(f"{name} must be a whole number of 0 or more, not {value!r}")
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise errors.bad_request(f"{name} must be true or false")
    return value


def _patched(record: Record, operations: Any) -> Record:
    """A copy of `record` with an RFC 6902 JSON Patch applied; a bad operation is CMNC-044 as recorded."""
    if not isinstance(operations, list):
        raise ApiError(500, "CMNC-044", "A PATCH body must be a JSON Patch array of operations")
    try:
        return jsonpatch.apply_patch(record, operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as error:
        raise ApiError(500, "CMNC-044", f"The PATCH operation could not be applied: {error}") from None


def _record(dataset: Dataset, resource: str, record_id: int, message: str) -> Record:
    table = dataset[resource]
    if record_id not in table:
        raise errors.not_found(message.format(id=record_id))
    return table.record(record_id)


def _new_id(dataset: Dataset, resource: str) -> int:
    table = dataset[resource]
    return dataset.next_id(resource, lambda: max(table.ids(), default=0), taken=table)


# ---------------------------------------------------------------------------------------------
# Contacts and companies
# ---------------------------------------------------------------------------------------------

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_contact(dataset: Dataset, contact: Record) -> None:
    """What the contact service refuses, whichever write produced the record."""
    for part in ("communication", "relationshipToAccount", "financialDetails", "assignment"):
        _object(contact.get(part), part)
    if not (contact.get("firstName") or contact.get("lastName")):
        raise invalid("CONC-001", "You must supply a first name or a last name")
    for name in ("salutation", "firstName", "lastName"):
        if not isinstance(contact.get(name, ""), str):
            raise errors.bad_request(f"{name} must be a string")
    for kind, entry in _object(contact["communication"].get("emails", {}), "communication.emails").items():
        email = _object(entry, f"communication.emails.{kind}").get("email")
        if not isinstance(email, str) or not EMAIL.match(email):
            raise invalid("CONC-002", f"{email!r} is not a valid email address ({kind})")
    relationship = contact["relationshipToAccount"]
    _flag(relationship.get("isSupplier"), "relationshipToAccount.isSupplier")
    _flag(relationship.get("isStaff"), "relationshipToAccount.isStaff")
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
    current = _object(contact["assignment"].get("current", {}), "assignment.current")
    owner = _id(current.get("staffOwnerContactId", 0), "assignment.current.staffOwnerContactId")
    if owner and not (owner in dataset["contact"]
                      and dataset["contact"].record(owner)["relationshipToAccount"]["isStaff"]):
        raise invalid("CONC-007", f"Staff owner {owner} is not a staff contact")
    lead_source = _id(current.get("leadSourceId", 0), "assignment.current.leadSourceId")
    if lead_source and lead_source not in dataset["lead-source"]:
        raise invalid("CONC-008", f"Lead source {lead_source} does not exist")


def _contact_defaults(contact_id: int, supplier: bool) -> Record:
    address_id = 9000 + contact_id * 2
    return {
        "contactId": contact_id, "isPrimaryContact": True, "salutation": "", "firstName": "", "lastName": "",
        "postAddressIds": {"DEF": address_id, "BIL": address_id, "DEL": address_id},
        "communication": {"emails": {}, "telephones": {}, "messagingVoips": {}, "websites": {}},
        "contactStatus": {"current": {"contactStatusId": 1, "contactStatusName": "Active"}, "history": []},
        "relationshipToAccount": {"isSupplier": supplier, "isStaff": False},
        "marketingDetails": {"isReceiveEmailNewsletter": False},
        "financialDetails": {"priceListId": 1 if supplier else 2, "nominalCode": "5000" if supplier else "4000",
                             "creditLimit": 0, "creditTermDays": 0, "currencyId": 1, "discountPercentage": 0,
                             "taxCodeId": 3, "creditTermTypeId": 1},
        "assignment": {"current": {"staffOwnerContactId": 0, "leadSourceId": 0, "accountReference": ""}},
        "organisation": {}, "tradeStatus": "SUPPLIER" if supplier else "RETAIL", "createdByid": 1,
        "contactTags": "", "aliases": {}, "companyId": 0,
    }


READ_ONLY_CONTACT_KEYS = ("contactId", "createdOn", "updatedOn", "createdByid", "organisation", "companyId")


def post_contact(call: WriteCall) -> int:
    """A customer, supplier or staff contact; `organisation.name` also creates its company."""
    body = _object(call.body, "The contact")
    relationship = _object(body.get("relationshipToAccount", {}), "relationshipToAccount")
    supplier = _flag(relationship.get("isSupplier", False), "relationshipToAccount.isSupplier")
    contact_id = _new_id(call.dataset, "contact")
    contact = _contact_defaults(contact_id, supplier)
    deep_merge(contact, {key: value for key, value in body.items() if key not in READ_ONLY_CONTACT_KEYS})
    _check_contact(call.dataset, contact)
    company_name = _text(_object(body.get("organisation", {}), "organisation"), "name")
    if company_name:
        company_id = _new_id(call.dataset, "company")
        call.dataset["company"].put({"id": company_id, "name": company_name, "primaryContactId": contact_id,
                                     "createdOn": call.now, "updatedOn": call.now})
        contact.update(organisation={"organisationId": company_id, "name": company_name}, companyId=company_id)
        call.publish("company.created", [company_id])
    contact.update(createdOn=call.now, updatedOn=call.now)
    call.dataset["contact"].put(contact)
    call.publish("contact.created", [contact_id])
    return contact_id


def patch_contact(call: WriteCall) -> None:
    contact_id = call.ids["contactId"]
    before = _record(call.dataset, "contact", contact_id, "No Contact Found with ID {id}")
    contact = _patched(before, call.body)
    for key in READ_ONLY_CONTACT_KEYS:
        if contact.get(key) != before.get(key):
            raise invalid("CONC-009", f"{key} cannot be changed")
    _check_contact(call.dataset, contact)
    contact["updatedOn"] = call.now
    call.dataset["contact"].put(contact)
    call.publish("contact.modified", [contact_id])


def _check_company_name(company: Record) -> None:
    if not isinstance(company.get("name"), str) or not company["name"].strip():
        raise invalid("CONC-010", "You must supply a company name")


def post_company(call: WriteCall) -> int:
    body = _object(call.body, "The company")
    primary = _id(body.get("primaryContactId", 0), "primaryContactId")
    if primary and primary not in call.dataset["contact"]:
        raise invalid("CONC-011", f"Contact {primary} does not exist")
    company = {"id": _new_id(call.dataset, "company"), "name": body.get("name"), "primaryContactId": primary,
               "createdOn": call.now, "updatedOn": call.now}
    _check_company_name(company)
    call.dataset["company"].put(company)
    call.publish("company.created", [company["id"]])
    return company["id"]


def patch_company(call: WriteCall) -> None:
    company_id = call.ids["companyId"]
    before = _record(call.dataset, "company", company_id, "No Company Found with ID {id}")
    company = _patched(before, call.body)
    if company.get("id") != company_id or company.get("createdOn") != before["createdOn"]:
        raise invalid("CONC-009", "id and createdOn cannot be changed")
    _check_company_name(company)
    primary = company.get("primaryContactId", 0)
    if primary and primary not in call.dataset["contact"]:
        raise invalid("CONC-011", f"Contact {primary} does not exist")
    company["updatedOn"] = call.now
    call.dataset["company"].put(company)
    call.publish("company.modified", [company_id])


# ---------------------------------------------------------------------------------------------
# The table `_resolve` consults
# ---------------------------------------------------------------------------------------------

WRITES: list[Write] = [
    Write("POST", "contact-service/contact", post_contact, "contact-post"),
    Write("PATCH", "contact-service/contact/{contactId}", patch_contact, "contact-patch"),
    Write("POST", "contact-service/company", post_company, "company-post"),
    Write("PATCH", "contact-service/company/{companyId}", patch_company, "company-patch"),
    Write("POST", "integration-service/webhook", post_webhook, "post-webhook"),
    Write("DELETE", "integration-service/webhook/{webhookId}", delete_webhook, "webhook-delete"),
    Write("POST", "integration-service/webhook/{webhookId}/simulate", simulate_webhook, "post-webhook-simulate"),
]


class JournalError(Exception):
    """A `--data-file` that cannot be replayed onto this account."""


class WriteJournal:
    """`--data-file`: every API write as one JSON line, replayed over the same seeded account at start.

    A journal rather than a dump of the dataset: it stays small (one line per write, not the whole
    account), is appended and flushed per write so a killed server loses nothing, and replaying it
    through the same handlers with each write's recorded moment rebuilds the very same records.
    The first line names the account it was written against; a file made for another seed, size,
    account or time zone is refused rather than replayed onto the wrong data.
    """

    def __init__(self, path: Path, account: dict[str, Any]):
        self.path = path
        self.account = account
        self._file: BinaryIO | None = None

    def replay(self, state: MockState) -> int:
        """Apply the file's writes to `state` (creating the file if missing); returns how many."""
        lines = self.path.read_bytes().splitlines() if self.path.exists() else []
        if not lines:
            self.path.write_bytes(orjson.dumps({"brightpearl-mock-journal": 1, **self.account}) + b"\n")
        else:
            header = orjson.loads(lines[0])
            written_for = {key: header.get(key) for key in self.account}
            if written_for != self.account:
                raise JournalError(f"{self.path} holds writes made on {written_for}, not on {self.account}: "
                                   "start with the same --seed/--orders/--account/--timezone, or another file")
        for number, line in enumerate(lines[1:], start=2):
            entry = orjson.loads(line)
            found = find_write(entry["method"], entry["path"])
            try:
                if found is None:
                    raise errors.unknown_uri(entry["path"])
                perform(state, found[0], found[1], entry["body"], entry["now"])
            except ApiError as error:
                raise JournalError(f"{self.path} line {number} ({entry['method']} {entry['path']}) "
                                   f"no longer applies: {error.message}") from None
        self._file = self.path.open("ab")
        return max(0, len(lines) - 1)

    def append(self, method: str, path: str, body: Any, now: str) -> None:
        assert self._file is not None, "replay() opens the journal"
        self._file.write(orjson.dumps({"method": method, "path": path, "body": body, "now": now}) + b"\n")
        self._file.flush()
