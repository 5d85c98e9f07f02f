"""Webhook delivery: the account's subscriptions, the events changes raise, and the calls that carry them.

Subscriptions live in the account's `webhook` table, so `GET integration-service/webhook[/{idset}]`
serves them like any other resource; the subscription writes (`writes/integration.py`) check their
bodies. `publish` matches an event against them and queues thin deliveries built from each
subscription's templates; a background thread sends them with retries. Delivery is at-least-once,
as for real: a receiver that answers 500 after acting on a call gets it again, so receivers must
deduplicate.
"""

from __future__ import annotations

import heapq
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

import requests

from .idsets import format_id_set
from .resources import Record
from .store import Table

BRIGHTPEARL_VERSION = "5.12.0"
# RFC 6761 names that never resolve: the seeded subscriptions point there, so they are logged, not sent
RESERVED_SUFFIXES = (".example", ".invalid")
SEND_TIMEOUT_SECONDS = 5.0
TEMPLATE_VARIABLE = re.compile(r"\$\{([a-z-]+)\}")


def covers(pattern: str, event: str) -> bool:
    """Whether a subscription to `pattern` receives `event` (`product` covers `product.modified.x`)."""
    return event == pattern or event.startswith(pattern + ".")


def _utc_stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fill(template: str, variables: dict[str, str]) -> str:
    return TEMPLATE_VARIABLE.sub(lambda match: variables.get(match.group(1), match.group(0)), template)


@dataclass
class Delivery:
    """One call to a subscriber, retried until it succeeds, fails for good or runs out of attempts."""

    id: int
    webhook_id: int
    event: str
    resource_ids: str
    method: str
    url: str
    body: bytes | None
    content_type: str | None
    quality_of_service: int
    attempts: int = 0
    due: float = 0.0  # time.monotonic() of the next attempt
    outcome: str = "pending"  # pending | delivered | failed | cancelled | undeliverable

    def describe(self) -> dict:
        return {"id": self.id, "webhook": self.webhook_id, "event": self.event, "ids": self.resource_ids,
                "method": self.method, "url": self.url, "attempts": self.attempts, "outcome": self.outcome}


@dataclass
class Attempt:
    """One try at a delivery, as the log under `/_mock/webhooks` shows it."""

    delivery: int
    webhook: int
    event: str
    ids: str
    attempt: int
    method: str
    url: str
    at: str
    status: int | None
    error: str | None
    elapsed_ms: float
    outcome: str  # delivered | retrying | failed | undeliverable


@dataclass
class Webhooks:
    """The account's subscriptions, the delivery queue and its log, and the worker that drains it.

    A failed attempt is retried after `retry_ms`, doubling each time, up to `max_attempts` in all:
    quality of service 1 retries on anything but a 4xx, 0 only on a 503, as Brightpearl documents
    for `qualityOfService`. `now` is the mock's clock, which stamps `${raised-on}`.
    """

    table: Table
    account: str
    now: Callable[[], float]
    retry_ms: int = 250
    max_attempts: int = 6
    attempts: list[Attempt] = field(default_factory=list)
    deliveries: dict[int, Delivery] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._queue: list[tuple[float, int, Delivery]] = []
        self._pending = 0
        self._cancelled: set[int] = set()
        self._ids = itertools.count(1)
        self._batch: dict[str, set[int]] | None = None
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._session = requests.Session()
        # never reused, so a deleted subscription's cancelled deliveries cannot catch a new one
        self._webhook_ids = itertools.count(max(self.table.ids(), default=0) + 1)

    # subscriptions ---------------------------------------------------------------------------
    def subscribe(self, subscription: Record) -> int:
        """Store a checked subscription under a new ID."""
        subscription["id"] = next(self._webhook_ids)
        self.table.put(subscription)
        return subscription["id"]

    def unsubscribe(self, webhook_id: int) -> None:
        """Remove a subscription; its queued deliveries are dropped too."""
        self.table.delete(webhook_id)
        with self._condition:
            self._cancelled.add(webhook_id)

    def simulate(self, subscription: Record, event: str, resource_ids: str, overrides: dict[str, str]) -> None:
        """Send the subscription one call for `event`, with `overrides` standing in for template variables."""
        if self._thread is None:
            return  # a simulation replayed from `--data-file` before the server starts was sent the first time
        with self._condition:
            self._enqueue(subscription, event, resource_ids, overrides)

    # events ----------------------------------------------------------------------------------
    def publish(self, full_event: str, ids: Iterable[int]) -> None:
        """Raise `full_event` (`order.modified.order-status`) for `ids`; matching subscribers get calls."""
        ids = set(ids)
        if not ids:
            return
        if self._batch is not None:
            self._batch.setdefault(full_event, set()).update(ids)
            return
        subscriptions = [record for record in self.table.records() if covers(record["subscribeTo"], full_event)]
        with self._condition:
            for subscription in subscriptions:
                if subscription.get("idSetAccepted"):
                    self._enqueue(subscription, full_event, format_id_set(sorted(ids)))
                else:
                    for record_id in sorted(ids):
                        self._enqueue(subscription, full_event, str(record_id))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Gather the events raised inside into one per event name, as one change of several records raises."""
        if self._batch is not None:
            yield
            return
        self._batch = {}
        try:
            yield
        finally:
            gathered, self._batch = self._batch, None
            for full_event, ids in gathered.items():
                self.publish(full_event, ids)

    def _enqueue(self, subscription: dict, event: str, resource_ids: str,
                 overrides: dict[str, str] | None = None) -> None:
        resource_type, _, rest = event.partition(".")
        lifecycle_event, _, specifier = rest.partition(".")
        variables = {"account-code": self.account, "resource-type": resource_type, "resource-id": resource_ids,
                     "lifecycle-event": lifecycle_event, "full-event": event, "resource-specifier": specifier,
                     "raised-on": _utc_stamp(self.now()), "brightpearl-version": BRIGHTPEARL_VERSION,
                     **(overrides or {})}
        method = subscription["httpMethod"]
        body_template = subscription.get("bodyTemplate")
        delivery = Delivery(
            id=next(self._ids), webhook_id=subscription["id"], event=event, resource_ids=variables["resource-id"],
            method=method, url=_fill(subscription["uriTemplate"], variables),
            body=_fill(body_template, variables).encode() if method in ("POST", "PUT") and body_template else None,
            content_type=subscription.get("contentType"),
            quality_of_service=int(subscription.get("qualityOfService", 0)), due=time.monotonic())
        self.deliveries[delivery.id] = delivery
        host = urlsplit(delivery.url).hostname or ""
        if host.endswith(RESERVED_SUFFIXES):
            delivery.outcome = "undeliverable"
            self._log(delivery, None, f"{host} is a reserved name that never resolves (RFC 6761)", 0.0)
            return
        self._pending += 1
        heapq.heappush(self._queue, (delivery.due, delivery.id, delivery))
        self._condition.notify_all()

    # the worker ------------------------------------------------------------------------------
    def start(self) -> None:
        with self._condition:
            self._stopping = False
        self._thread = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread:
            self._thread.join(timeout=SEND_TIMEOUT_SECONDS + 1)
        self._session.close()

    def wait_drained(self, timeout: float) -> bool:
        """Block until no delivery is pending (True) or `timeout` seconds pass (False)."""
        with self._condition:
            return self._condition.wait_for(lambda: self._pending == 0, timeout)

    def _next_due(self) -> Delivery | None:
        with self._condition:
            while not self._stopping:
                if self._queue:
                    wait = self._queue[0][0] - time.monotonic()
                    if wait <= 0:
                        delivery = heapq.heappop(self._queue)[2]
                        if delivery.webhook_id in self._cancelled:
                            self._finish(delivery, "cancelled")
                            continue
                        return delivery
                    self._condition.wait(wait)
                else:
                    self._condition.wait()
            return None

    def _run(self) -> None:
        while (delivery := self._next_due()) is not None:
            status, error, elapsed_ms = self._send(delivery)
            with self._condition:
                self._settle(delivery, status, error, elapsed_ms)

    def _send(self, delivery: Delivery) -> tuple[int | None, str | None, float]:
        started = time.perf_counter()
        headers = {"content-type": delivery.content_type} if delivery.body is not None and delivery.content_type else {}
        try:
            response = self._session.request(delivery.method, delivery.url, data=delivery.body, headers=headers,
                                             timeout=SEND_TIMEOUT_SECONDS, allow_redirects=False)
            status, error = response.status_code, None
            response.close()
        except requests.RequestException as exception:
            status, error = None, f"{type(exception).__name__}: {exception}"
        return status, error, (time.perf_counter() - started) * 1000

    def _settle(self, delivery: Delivery, status: int | None, error: str | None, elapsed_ms: float) -> None:
        delivery.attempts += 1
        if status is not None and 200 <= status < 300:
            outcome = "delivered"
        elif self._retryable(delivery, status) and delivery.attempts < self.max_attempts:
            outcome = "retrying"
        else:
            outcome = "failed"
        self._log(delivery, status, error, elapsed_ms, outcome)
        if outcome == "retrying":
            delivery.due = time.monotonic() + self.retry_ms * 2 ** (delivery.attempts - 1) / 1000
            heapq.heappush(self._queue, (delivery.due, delivery.id, delivery))
        else:
            self._finish(delivery, outcome)

    @staticmethod
    def _retryable(delivery: Delivery, status: int | None) -> bool:
        if delivery.quality_of_service == 1:
            return status is None or not 400 <= status < 500
        return status == 503

    def _finish(self, delivery: Delivery, outcome: str) -> None:
        delivery.outcome = outcome
        self._pending -= 1
        self._condition.notify_all()

    def _log(self, delivery: Delivery, status: int | None, error: str | None, elapsed_ms: float,
             outcome: str | None = None) -> None:
        self.attempts.append(Attempt(
            delivery=delivery.id, webhook=delivery.webhook_id, event=delivery.event, ids=delivery.resource_ids,
            attempt=delivery.attempts, method=delivery.method, url=delivery.url, at=_utc_stamp(time.time()),
            status=status, error=error, elapsed_ms=round(elapsed_ms, 1), outcome=outcome or delivery.outcome))

    # the delivery log --------------------------------------------------------------------------
    def report(self) -> dict:
        with self._condition:
            return {"subscriptions": list(self.table.records()),
                    "pending": self._pending,
                    "deliveries": [delivery.describe() for delivery in self.deliveries.values()],
                    "attempts": [vars(attempt).copy() for attempt in self.attempts],
                    "retry_ms": self.retry_ms, "max_attempts": self.max_attempts}

    def clear_log(self) -> None:
        """Forget finished deliveries and all attempts; pending deliveries go on."""
        with self._condition:
            self.attempts.clear()
            self.deliveries = {key: value for key, value in self.deliveries.items() if value.outcome == "pending"}

