"""Webhooks the account has registered (brightpearl-api.md §9): an order feed, stock changes, shipments."""

from __future__ import annotations

from collections.abc import Iterator

from ..resources import Record
from ..world import World

BODY_TEMPLATE = (
    '{"accountCode":"${account-code}","resourceType":"${resource-type}","id":"${resource-id}",'
    '"lifecycleEvent":"${lifecycle-event}","fullEvent":"${full-event}","raisedOn":"${raised-on}",'
    '"brightpearlVersion":"${brightpearl-version}"}'
)
# event, HTTP method, path on the subscriber, whether one call carries an ID set
WEBHOOKS = [
    ("order.modified", "POST", "orders", True),
    ("product.modified.on-hand-modified", "POST", "stock", True),
    ("goods-out-note.modified.shipped", "GET", "shipments/${resource-id}", False),
]


def build_webhooks(world: World) -> Iterator[Record]:
    for webhook_id, (event, method, path, id_set) in enumerate(WEBHOOKS, start=1):
        record = {
            "id": webhook_id,
            "subscribeTo": event,
            "httpMethod": method,
            "uriTemplate": f"https://hooks.acme-analytics.example/brightpearl/${{account-code}}/{path}",
            "idSetAccepted": id_set,
            "qualityOfService": 1 if method == "POST" else 0,
        }
        if method in ("POST", "PUT"):
            record.update(bodyTemplate=BODY_TEMPLATE, contentType="application/json")
        yield record
