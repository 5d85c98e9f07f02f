"""Webhook subscription writes: subscribe, unsubscribe and simulate, checked as Brightpearl checks them.

What happens to a subscription afterwards (matching events, delivering calls) is `webhooks.py`'s.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .. import errors
from ..errors import ApiError
from ..idsets import IdSetError, IdSetTooLarge, format_id_set, parse_id_set
from ..resources import Record
from ..webhooks import TEMPLATE_VARIABLE, covers
from .framework import WriteCall, existing

# Brightpearl's documented events plus three an open-source client that registers webhooks found
# subscribable (`order.modified`, `product.modified`, `goods-out-note.modified`); a prefix of any of
# them subscribes to all it covers.
SUBSCRIBABLE_EVENTS = frozenset(
    {
        "drop-ship-note.created",
        "drop-ship-note.destroyed",
        "drop-ship-note.modified.shipped",
        "goods-in-note.created",
        "quarantine-release.created",
        "goods-out-note.created",
        "goods-out-note.destroyed",
        "goods-out-note.modified",
        *(
            f"goods-out-note.modified.{specifier}"
            for specifier in ("printed", "picked", "packed", "un-printed", "un-picked", "un-packed", "shipped")
        ),
        "order.modified",
        "order.modified.fully-shipped",
        "order.modified.order-status",
        "sales-order.created",
        "product.created",
        "product.destroyed",
        "product.modified",
        "product.modified.on-hand-modified",
    }
)
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE")
SIMULATE_MAX_IDS = 10
MISSING_WEBHOOK = "Cannot find webhook: {id}"


def subscribable(pattern: str) -> bool:
    return any(covers(pattern, event) for event in SUBSCRIBABLE_EVENTS)


def post_webhook(call: WriteCall) -> int:
    return call.state.webhooks.subscribe(_validated_subscription(call.body))


def delete_webhook(call: WriteCall) -> None:
    """Remove a subscription; its queued deliveries are dropped too."""
    webhook_id = call.ids["webhookId"]
    existing(call.dataset, "webhook", webhook_id, MISSING_WEBHOOK)
    call.state.webhooks.unsubscribe(webhook_id)


def simulate_webhook(call: WriteCall) -> None:
    """Send the subscription one call with `testData` standing in for the event's variables."""
    subscription = existing(call.dataset, "webhook", call.ids["webhookId"], MISSING_WEBHOOK)
    test_data = call.body.get("testData", {}) if isinstance(call.body, dict) else None
    if not isinstance(test_data, dict):
        raise errors.bad_request(
            'testData must be an object of template variables, e.g. {"testData": {"${resource-id}": "1-5"}}'
        )
    ids_text = str(test_data.get("${resource-id}", "1"))
    try:
        ids = parse_id_set(ids_text, SIMULATE_MAX_IDS)
    except IdSetTooLarge as error:
        raise errors.bad_request(f"A simulation takes at most {SIMULATE_MAX_IDS} IDs, not {error.size}") from None
    except IdSetError as error:
        raise errors.bad_request(f"'{ids_text}' is not a valid ID set: {error}") from None
    event = str(test_data.get("${full-event}", subscription["subscribeTo"]))
    overrides = {key[2:-1]: str(value) for key, value in test_data.items() if TEMPLATE_VARIABLE.fullmatch(key)}
    call.state.webhooks.simulate(subscription, event, format_id_set(ids), overrides)


def _validated_subscription(body: Any) -> Record:
    """The stored subscription for a `POST integration-service/webhook` body, or the 400 the real one answers."""
    if not isinstance(body, dict):
        raise errors.bad_request("The request body must be a JSON object describing the webhook")
    event = body.get("subscribeTo")
    if not isinstance(event, str) or not event:
        raise errors.bad_request("subscribeTo is required: the event to subscribe to, e.g. order.modified")
    if not subscribable(event):
        raise ApiError(400, "INTC-064", f"{event} either does not exist or cannot be subscribed too")
    method = body.get("httpMethod")
    if method not in HTTP_METHODS:
        raise errors.bad_request(f"httpMethod must be one of {', '.join(HTTP_METHODS)}, not {method!r}")
    uri = body.get("uriTemplate")
    if not isinstance(uri, str) or urlsplit(uri).scheme not in ("http", "https") or not urlsplit(uri).netloc:
        raise errors.bad_request(f"uriTemplate must be an absolute http(s) URL, not {uri!r}")
    if method in ("POST", "PUT"):
        for name in ("bodyTemplate", "contentType"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise errors.bad_request(f"{name} is required when httpMethod is {method}")
    id_set_accepted = body.get("idSetAccepted", False)
    if not isinstance(id_set_accepted, bool):
        raise errors.bad_request(f"idSetAccepted must be true or false, not {id_set_accepted!r}")
    quality = body.get("qualityOfService", 0)
    if quality not in (0, 1) or isinstance(quality, bool):
        raise errors.bad_request(f"qualityOfService must be 0 (at most once) or 1 (at least once), not {quality!r}")
    record = {
        "subscribeTo": event,
        "httpMethod": method,
        "uriTemplate": uri,
        "idSetAccepted": id_set_accepted,
        "qualityOfService": quality,
    }
    if method in ("POST", "PUT"):
        record.update(bodyTemplate=body["bodyTemplate"], contentType=body["contentType"])
    return record
