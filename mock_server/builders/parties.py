"""Contacts: staff, suppliers and customers share one resource, told apart by flags."""

from __future__ import annotations

from collections.abc import Iterator

from ..resources import Record
from ..world import HISTORY_START, World
from .reference import custom_field_values

FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Femi",
    "Grace",
    "Hiro",
    "Isla",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Vik",
    "Wen",
    "Yara",
]
LAST_NAMES = [
    "Ruiz",
    "Okafor",
    "Smith",
    "Patel",
    "Novak",
    "Kim",
    "Larsen",
    "Moreau",
    "Silva",
    "Walsh",
    "Tanaka",
    "Haddad",
    "Fischer",
    "Bianchi",
    "Nguyen",
    "Kowalski",
    "Reyes",
    "Adeyemi",
    "Murphy",
    "Schmidt",
]
SUPPLIER_NAMES = [
    "Loom & Thread Mills",
    "Pacific Textiles",
    "Northern Hardware Supply",
    "Cotton Coast Ltd",
    "Blue Ridge Leather",
    "Atlas Packaging",
    "Keystone Garments",
    "Harbor Freight Partners",
]
CITIES = [
    ("Chicago", "IL", "US"),
    ("Austin", "TX", "US"),
    ("Portland", "OR", "US"),
    ("Brooklyn", "NY", "US"),
    ("Denver", "CO", "US"),
    ("Toronto", "ON", "CA"),
    ("Madrid", "", "ES"),
    ("Leeds", "", "GB"),
]
STAFF_COUNT = 5


def city_of(contact_id: int) -> tuple[str, str, str]:
    """Where a contact lives; addresses are not a resource of their own here, orders copy them."""
    return CITIES[contact_id % len(CITIES)]


LEAD_SOURCES = ["Organic search", "Paid social", "Referral", "Trade show", "Email campaign"]
LEAD_SOURCE_COUNT = len(LEAD_SOURCES)


def _contact(world: World, contact_id: int, first: str, last: str, company: str, kind: str) -> Record:
    created = world.moment(HISTORY_START)
    domain = (company or "example").lower().replace(" ", "").replace("&", "")[:14] + ".com"
    email = f"{first.lower()}.{last.lower()}{contact_id}@{domain}"
    address_id = 9000 + contact_id * 2
    record = {
        "contactId": contact_id,
        "isPrimaryContact": True,
        "salutation": world.pick(["Ms", "Mr", "Mx", ""]),
        "firstName": first,
        "lastName": last,
        "postAddressIds": {"DEF": address_id, "BIL": address_id, "DEL": address_id + (1 if world.chance(0.2) else 0)},
        "communication": {
            "emails": {"PRI": {"email": email}},
            "telephones": {"PRI": f"+1 312 555 {contact_id % 10000:04d}"},
            "messagingVoips": {},
            "websites": {"PRI": f"https://{domain}"} if company else {},
        },
        "contactStatus": {"current": {"contactStatusId": 1, "contactStatusName": "Active"}, "history": []},
        "relationshipToAccount": {"isSupplier": kind == "supplier", "isStaff": kind == "staff"},
        "marketingDetails": {"isReceiveEmailNewsletter": world.chance(0.4)},
        "financialDetails": {
            "priceListId": 1 if kind == "supplier" else (3 if company else 2),
            "nominalCode": "5000" if kind == "supplier" else "4000",
            "creditLimit": 5000 if company else 0,
            "creditTermDays": 30 if company else 0,
            "currencyId": 1,
            "discountPercentage": 0,
            "taxCodeId": 3,
            "creditTermTypeId": 1,
        },
        "assignment": {
            "current": {
                "staffOwnerContactId": world.rng.randint(1, STAFF_COUNT) if kind == "customer" else 0,
                "leadSourceId": world.rng.randint(1, LEAD_SOURCE_COUNT) if kind == "customer" else 0,
                "accountReference": f"{last[:4].upper()}{contact_id:05d}",
            }
        },
        "organisation": {"organisationId": contact_id, "name": company} if company else {},
        "tradeStatus": "WHOLESALE"
        if company and kind == "customer"
        else ("SUPPLIER" if kind == "supplier" else "RETAIL"),
        "createdByid": 1,
        "createdOn": world.stamp(created),
        "updatedOn": world.stamp(world.later(created, 500)),
        "contactTags": "",
        "aliases": {},
        "companyId": contact_id if company else 0,
    }
    if world.chance(0.3):
        record["lastContactedOn"] = world.stamp(world.later(created, 300))
    return record


def build_contacts(world: World) -> Iterator[Record]:
    custom_fields = world.offshoot("contact-custom-fields")
    contact_id = 0
    for kind, count in (
        ("staff", STAFF_COUNT),
        ("supplier", world.scaled(2, 6, 400)),
        ("customer", world.scaled(250, 30)),
    ):
        for _ in range(count):
            contact_id += 1
            first, last = world.pick(FIRST_NAMES), world.pick(LAST_NAMES)
            if kind == "supplier":
                company = SUPPLIER_NAMES[contact_id % len(SUPPLIER_NAMES)]
            elif kind == "customer" and world.chance(0.25):
                company = f"{last} {world.pick(['Trading', 'Goods', 'Supply', 'Studio', 'Collective'])}"
            else:
                company = "Acme Outfitters Inc." if kind == "staff" else ""
            contact = _contact(world, contact_id, first, last, company, kind)
            if kind != "staff":
                contact["customFields"] = custom_field_values(custom_fields, kind)
            yield contact


TAGS = ["VIP", "Wholesale", "Net 30", "Do not mail", "Influencer"]
# id, name, description, who belongs (a rule on the contact, so membership needs no random draws)
CONTACT_GROUPS = [
    (
        1,
        "Newsletter",
        "Opted in to the monthly newsletter",
        lambda c: c["marketingDetails"]["isReceiveEmailNewsletter"],
    ),
    (2, "Trade accounts", "Customers buying on wholesale terms", lambda c: c["tradeStatus"] == "WHOLESALE"),
    (3, "VIP", "Top customers by lifetime value", lambda c: c["tradeStatus"] == "RETAIL" and c["contactId"] % 17 == 0),
    (4, "Approved suppliers", "Suppliers cleared by purchasing", lambda c: c["relationshipToAccount"]["isSupplier"]),
]


def build_companies(world: World) -> Iterator[Record]:
    """One company per customer or supplier organisation; the account's own staff are not one."""
    for contact in world.records("contact"):
        organisation = contact["organisation"]
        if organisation and not contact["relationshipToAccount"]["isStaff"]:
            yield {
                "id": organisation["organisationId"],
                "name": organisation["name"],
                "primaryContactId": contact["contactId"],
                "createdOn": contact["createdOn"],
                "updatedOn": contact["updatedOn"],
            }


def build_contact_group_members(world: World) -> Iterator[Record]:
    """One record per group listing its members; the member search has a row per member."""
    members: dict[int, list[Record]] = {group[0]: [] for group in CONTACT_GROUPS}
    for contact in world.records("contact"):
        for group_id, _, _, belongs in CONTACT_GROUPS:
            if belongs(contact):
                members[group_id].append(
                    {
                        "contactId": contact["contactId"],
                        "firstName": contact["firstName"],
                        "lastName": contact["lastName"],
                    }
                )
    for group_id, name, description, _ in CONTACT_GROUPS:
        yield {"contactGroupId": group_id, "name": name, "description": description, "members": members[group_id]}


def group_member_rows(group: Record) -> Iterator[Record]:
    for member in group["members"]:
        yield {
            **member,
            "contactGroupId": group["contactGroupId"],
            "contactGroupName": group["name"],
            "contactGroupDescription": group["description"],
        }


def build_contact_groups(world: World) -> Iterator[Record]:
    for group in world.records("contact-group-member"):
        yield {
            "contactGroupId": group["contactGroupId"],
            "name": group["name"],
            "description": group["description"],
            "numberOfMembers": len(group["members"]),
        }


def build_lead_sources(world: World) -> Iterator[Record]:
    for lead_source_id, name in enumerate(LEAD_SOURCES, start=1):
        yield {
            "id": lead_source_id,
            "ownerId": 1 + lead_source_id % STAFF_COUNT,
            "parentId": 0,
            "name": name,
            "isActive": True,
        }


def build_tags(world: World) -> Iterator[Record]:
    # the GET is a map keyed by tag ID that also carries `tagId`; `id` is the key the store pops
    for tag_id, name in enumerate(TAGS, start=1):
        yield {"id": tag_id, "tagId": tag_id, "tagName": name}
