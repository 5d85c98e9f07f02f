"""Webhook delivery: the account's subscriptions, the events changes raise, and the calls that carry them.

Subscriptions live in the account's `webhook` table, so `GET integration-service/webhook[/{idset}]`
serves them like any other resource; the subscription writes (`writes/integration.py`) check their
bodies. `publish` matches an event against them and queues thin deliveries built from each
subscription's templates; a background thread sends them with retries. Delivery is at-least-once,
as for real: a receiver that answers 500 after acting on a call gets it again, so receivers must
deduplicate.

Each subscriber has a lane of its own (an asyncio task on the delivery thread's loop), so a receiver
that hangs or trickles its answer holds up only its own calls: an attempt gets `CONNECT_SECONDS` to
connect and `ANSWER_SECONDS` in all to send and have the answer's status line and headers back,
which are capped at `MAX_ANSWER_HEAD` bytes; the answer's body is never read. The log keeps the
last `MAX_LOGGED` attempts and finished deliveries; a subscriber with `MAX_QUEUED` calls waiting
gets no more until it catches up (the extra ones are logged as `dropped`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import re
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import h11

from .idsets import format_id_set
from .resources import Record
from .store import Table

BRIGHTPEARL_VERSION = "5.12.0"
# RFC 6761 names that never resolve: the seeded subscriptions point there, so they are logged, not sent
RESERVED_SUFFIXES = (".example", ".invalid")
CONNECT_SECONDS = 2.0
ANSWER_SECONDS = 5.0
MAX_ANSWER_HEAD = 16 * 1024
MAX_LOGGED = 1000
MAX_QUEUED = 10_000
USER_AGENT = "brightpearl-mock-webhooks"
TEMPLATE_VARIABLE = re.compile(r"\$\{([a-z-]+)\}")


def covers(pattern: str, event: str) -> bool:
    """Whether a subscription to `pattern` receives `event` (`product` covers `product.modified.x`)."""
    return event == pattern or event.startswith(pattern + ".")


def _utc_stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    outcome: str = "pending"  # pending | delivered | failed | cancelled | undeliverable | dropped

    def describe(self) -> dict:
        return {
            "id": self.id,
            "webhook": self.webhook_id,
            "event": self.event,
            "ids": self.resource_ids,
            "method": self.method,
            "url": self.url,
            "attempts": self.attempts,
            "outcome": self.outcome,
        }


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
    outcome: str  # delivered | retrying | failed | undeliverable | dropped


async def call_receiver(method: str, url: str, body: bytes | None, content_type: str | None) -> int:
    """One HTTP/1.1 call to a receiver, bounded in time and size; returns the answer's status.

    Raises OSError, TimeoutError or h11's errors when the receiver cannot be reached, is too slow,
    or answers something that is not HTTP.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    secure = parts.scheme == "https"
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            parts.hostname, parts.port or (443 if secure else 80), ssl=ssl.create_default_context() if secure else None
        ),
        CONNECT_SECONDS,
    )
    try:
        connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_ANSWER_HEAD)
        headers = [("host", parts.netloc), ("user-agent", USER_AGENT), ("connection", "close")]
        if body is not None:
            headers += [("content-length", str(len(body)))] + ([("content-type", content_type)] if content_type else [])
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        writer.write(connection.send(h11.Request(method=method, target=target, headers=headers)))
        if body:
            writer.write(connection.send(h11.Data(data=body)))
        writer.write(connection.send(h11.EndOfMessage()))
        await writer.drain()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(4096))
            elif isinstance(event, h11.Response):
                return event.status_code
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the receiver closed the connection before answering")
    finally:
        writer.close()


@dataclass
class Webhooks:
    """The account's subscriptions, a delivery lane per subscriber and their log, and the thread they run on.

    A failed attempt is retried after `retry_ms`, doubling each time, up to `max_attempts` in all:
    quality of service 1 retries on anything but a 4xx, 0 only on a 503, as Brightpearl documents
    for `qualityOfService`. `now` is the mock's clock, which stamps `${raised-on}`; `new_id` gives
    a new subscription its ID.
    """

    table: Table
    account: str
    now: Callable[[], float]
    new_id: Callable[[], int]
    retry_ms: int = 250
    max_attempts: int = 6
    attempts: deque[Attempt] = field(default_factory=lambda: deque(maxlen=MAX_LOGGED))
    deliveries: dict[int, Delivery] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # webhook id -> its lane's queue of (due, delivery id, delivery); guarded by `_condition`
        self._queues: dict[int, list[tuple[float, int, Delivery]]] = {}
        self._finished: deque[int] = deque()
        self._pending = 0
        self._cancelled: set[int] = set()
        self._ids = itertools.count(1)
        self._batch: dict[str, set[int]] | None = None
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lanes: dict[int, tuple[asyncio.Task, asyncio.Event]] = {}
        self._stopped: asyncio.Event | None = None

    # subscriptions ---------------------------------------------------------------------------
    def subscribe(self, subscription: Record) -> int:
        """Store a checked subscription under a new ID."""
        subscription["id"] = self.new_id()
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

    def _enqueue(
        self, subscription: dict, event: str, resource_ids: str, overrides: dict[str, str] | None = None
    ) -> None:
        resource_type, _, rest = event.partition(".")
        lifecycle_event, _, specifier = rest.partition(".")
        variables = {
            "account-code": self.account,
            "resource-type": resource_type,
            "resource-id": resource_ids,
            "lifecycle-event": lifecycle_event,
            "full-event": event,
            "resource-specifier": specifier,
            "raised-on": _utc_stamp(self.now()),
            "brightpearl-version": BRIGHTPEARL_VERSION,
            **(overrides or {}),
        }
        method = subscription["httpMethod"]
        body_template = subscription.get("bodyTemplate")
        delivery = Delivery(
            id=next(self._ids),
            webhook_id=subscription["id"],
            event=event,
            resource_ids=variables["resource-id"],
            method=method,
            url=_fill(subscription["uriTemplate"], variables),
            body=_fill(body_template, variables).encode() if method in ("POST", "PUT") and body_template else None,
            content_type=subscription.get("contentType"),
            quality_of_service=int(subscription.get("qualityOfService", 0)),
            due=time.monotonic(),
        )
        self.deliveries[delivery.id] = delivery
        host = urlsplit(delivery.url).hostname or ""
        queue = self._queues.setdefault(delivery.webhook_id, [])
        if host.endswith(RESERVED_SUFFIXES):
            self._refuse(delivery, "undeliverable", f"{host} is a reserved name that never resolves (RFC 6761)")
            return
        if len(queue) >= MAX_QUEUED:
            self._refuse(delivery, "dropped", f"{MAX_QUEUED} calls to this subscriber are already waiting")
            return
        self._pending += 1
        heapq.heappush(queue, (delivery.due, delivery.id, delivery))
        self._wake(delivery.webhook_id)

    # the lanes -------------------------------------------------------------------------------
    def start(self) -> None:
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="webhook-delivery", daemon=True)
        self._thread.start()
        started.wait(5)
        with self._condition:
            for webhook_id in list(self._queues):
                self._wake(webhook_id)

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread:
            self._thread.join(timeout=ANSWER_SECONDS + 1)

    def _run(self, started: threading.Event) -> None:
        async def main() -> None:
            self._loop, self._stopped = asyncio.get_running_loop(), asyncio.Event()
            started.set()
            await self._stopped.wait()
            for task, _ in list(self._lanes.values()):
                task.cancel()
            await asyncio.gather(*(task for task, _ in self._lanes.values()), return_exceptions=True)

        asyncio.run(main())

    def _wake(self, webhook_id: int) -> None:
        """Have the subscriber's lane look at its queue again (called with `_condition` held, from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake_lane, webhook_id)

    def _wake_lane(self, webhook_id: int) -> None:
        lane = self._lanes.get(webhook_id)
        if lane is None or lane[0].done():
            lane = (asyncio.ensure_future(self._lane(webhook_id)), asyncio.Event())
            self._lanes[webhook_id] = lane
        lane[1].set()

    async def _lane(self, webhook_id: int) -> None:
        """Send one subscriber's calls in order, each when due; ends when its queue is empty."""
        while True:
            woken = self._lanes[webhook_id][1]
            woken.clear()
            with self._condition:
                queue = self._queues.get(webhook_id)
                if not queue:
                    self._lanes.pop(webhook_id, None)
                    return
                wait = queue[0][0] - time.monotonic()
                delivery = heapq.heappop(queue)[2] if wait <= 0 else None
                if delivery is not None and delivery.webhook_id in self._cancelled:
                    self._finish(delivery, "cancelled")
                    continue
            if delivery is None:
                try:
                    await asyncio.wait_for(woken.wait(), wait)
                except TimeoutError:
                    pass
                continue
            status, error, elapsed_ms = await self._send(delivery)
            with self._condition:
                self._settle(delivery, status, error, elapsed_ms)

    async def _send(self, delivery: Delivery) -> tuple[int | None, str | None, float]:
        started = time.perf_counter()
        try:
            status, error = (
                await asyncio.wait_for(
                    call_receiver(delivery.method, delivery.url, delivery.body, delivery.content_type), ANSWER_SECONDS
                ),
                None,
            )
        except TimeoutError:
            status, error = None, f"TimeoutError: no answer within {ANSWER_SECONDS:g}s"
        except (OSError, ValueError, h11.ProtocolError) as exception:
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
            heapq.heappush(self._queues.setdefault(delivery.webhook_id, []), (delivery.due, delivery.id, delivery))
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
        self._retire(delivery)
        self._condition.notify_all()

    def _refuse(self, delivery: Delivery, outcome: str, reason: str) -> None:
        """Log a delivery that is never attempted."""
        delivery.outcome = outcome
        self._log(delivery, None, reason, 0.0)
        self._retire(delivery)

    def _retire(self, delivery: Delivery) -> None:
        """Count a finished delivery against the log's bound, forgetting the oldest past it."""
        self._finished.append(delivery.id)
        while len(self._finished) > MAX_LOGGED:
            self.deliveries.pop(self._finished.popleft(), None)

    def _log(
        self, delivery: Delivery, status: int | None, error: str | None, elapsed_ms: float, outcome: str | None = None
    ) -> None:
        self.attempts.append(
            Attempt(
                delivery=delivery.id,
                webhook=delivery.webhook_id,
                event=delivery.event,
                ids=delivery.resource_ids,
                attempt=delivery.attempts,
                method=delivery.method,
                url=delivery.url,
                at=_utc_stamp(time.time()),
                status=status,
                error=error,
                elapsed_ms=round(elapsed_ms, 1),
                outcome=outcome or delivery.outcome,
            )
        )

    # the delivery log --------------------------------------------------------------------------
    def wait_drained(self, timeout: float) -> bool:
        """Block until no delivery is pending (True) or `timeout` seconds pass (False)."""
        with self._condition:
            return self._condition.wait_for(lambda: self._pending == 0, timeout)

    def report(self) -> dict:
        with self._condition:
            return {
                "subscriptions": list(self.table.records()),
                "pending": self._pending,
                "deliveries": [delivery.describe() for delivery in self.deliveries.values()],
                "attempts": [vars(attempt).copy() for attempt in self.attempts],
                "retry_ms": self.retry_ms,
                "max_attempts": self.max_attempts,
            }

    def clear_log(self) -> None:
        """Forget finished deliveries and all attempts; pending deliveries go on."""
        with self._condition:
            self.attempts.clear()
            self._finished.clear()
            self.deliveries = {key: value for key, value in self.deliveries.items() if value.outcome == "pending"}
