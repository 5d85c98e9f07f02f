"""The running mock's state apart from HTTP: dataset, clock, rate limit, credentials, faults, counts, webhooks.

Handlers read and change it; tests drive it through the control API under `/_mock/` (`control_api.py`).
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections import Counter, defaultdict, deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from .store import Dataset
from .webhooks import Webhooks
from .world import format_stamp

WINDOW_SECONDS = 60.0


class Clock:
    """Wall time plus an offset tests can move (token expiry, the rate-limit window, `updatedOn` bumps)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Budget:
    """What the throttle headers tell a client after a call."""

    remaining: int
    next_period_ms: int

    def headers(self) -> dict[str, str]:
        return {
            "brightpearl-requests-remaining": str(self.remaining),
            "brightpearl-next-throttle-period": str(self.next_period_ms),
        }


UNLIMITED = Budget(199, int(WINDOW_SECONDS * 1000))


class RateLimiter:
    """Brightpearl's budget: `limit` calls in any rolling minute per account; 0 turns it off."""

    def __init__(self, clock: Clock, limit: int):
        self.clock = clock
        self.limit = limit
        self._calls: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._calls and self._calls[0] <= now - WINDOW_SECONDS:
            self._calls.popleft()

    def _budget(self, now: float) -> Budget:
        next_period = max(1, int((self._calls[0] + WINDOW_SECONDS - now) * 1000))
        return Budget(max(0, self.limit - len(self._calls)), next_period)

    def take(self) -> tuple[bool, Budget]:
        """Count one call; False when the budget is spent (the call is refused and not counted)."""
        if self.limit == 0:
            return True, UNLIMITED
        now = self.clock.now()
        self._expire(now)
        if len(self._calls) >= self.limit:
            return False, self._budget(now)
        self._calls.append(now)
        return True, self._budget(now)

    def reset(self) -> None:
        self._calls.clear()


# What `brightpearl-mock` accepts unless told otherwise; `testing.MockServer` sends the same.
DEFAULT_ACCOUNT = "acme"
DEFAULT_APP_REF = "acme-analytics"
DEFAULT_ACCOUNT_TOKEN = "acme-account-token-7f3a9c2e"
DEFAULT_STAFF_TOKEN = "acme-staff-token-5b21d4f0"
DEFAULT_DEV_REF = "acme-dev"


@dataclass
class Credentials:
    account: str
    app_ref: str
    account_token: str
    staff_token: str
    dev_ref: str
    # set for a "confidential" OAuth app: the token endpoint then requires it
    client_secret: str | None = None
    # OAuth access token -> expiry (clock seconds); issued by /_mock/tokens and the OAuth endpoints
    access_tokens: dict[str, float] = field(default_factory=dict)
    # live OAuth refresh tokens; each is single-use: a refresh replaces it with a new one
    refresh_tokens: set[str] = field(default_factory=set)

    def issue_access_token(self, now: float, expires_in: int) -> str:
        token = _oauth_token()
        self.access_tokens[token] = now + expires_in
        return token

    def issue_token_pair(self, now: float, expires_in: int) -> tuple[str, str]:
        refresh_token = _oauth_token()
        self.refresh_tokens.add(refresh_token)
        return self.issue_access_token(now, expires_in), refresh_token

    def rotate_refresh_token(self, refresh_token: str, now: float, expires_in: int) -> tuple[str, str] | None:
        """A new access and refresh token for a live refresh token, which stops working; None if it is not live."""
        if refresh_token not in self.refresh_tokens:
            return None
        self.refresh_tokens.discard(refresh_token)
        return self.issue_token_pair(now, expires_in)

    def expire_access_tokens(self, now: float) -> None:
        for token in self.access_tokens:
            self.access_tokens[token] = min(self.access_tokens[token], now)


def _oauth_token() -> str:
    """Standard base64 like Brightpearl's tokens, so `+`, `/` and `=` test the client's URL-encoding."""
    return base64.b64encode(secrets.token_bytes(31)).decode()


FAULT_KINDS = (
    "throttle",
    "429",
    "token_expired",
    "expire_tokens",
    "500",
    "502",
    "504",
    "slow",
    "reset",
    "truncate",
    "bad_id",
)


@dataclass
class Fault:
    """One injected fault. It lets `after` matching requests through, then hits `count` (None: every one).

    This says which calls a fault hits; `faults.py` says what each kind does to them.

    `path` is a regular expression searched in the request path after the account
    (`order-service/order-search`); `ids` are the bad IDs of `bad_id`; `delay_ms` the pause of
    `slow`; `retry_after` the seconds a 429 advertises and `period_ms` the next-throttle-period a
    `throttle` 503 advertises.
    """

    kind: str
    count: int | None = 1
    after: int = 0
    path: str | None = None
    ids: list[int] = field(default_factory=list)
    delay_ms: int = 2000
    retry_after: int = 1
    period_ms: int = 1000
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind '{self.kind}'; choose from {', '.join(FAULT_KINDS)}")
        if self.path:
            re.compile(self.path)

    @classmethod
    def from_cli(cls, text: str) -> Fault:
        """`KIND[:key=value,...]`, e.g. `429:count=3,retry_after=2` or `bad_id:ids=100005;100007,count=0`."""
        kind, _, options = text.partition(":")
        values: dict = {}
        for option in filter(None, options.split(",")):
            key, _, value = option.partition("=")
            if key == "ids":
                values[key] = [int(item) for item in value.split(";")]
            elif key == "path":
                values[key] = value
            else:
                values[key] = int(value)
        if values.get("count") == 0:
            values["count"] = None
        return cls(kind=kind, **values)

    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def hits(self, path: str) -> bool:
        """Count a request against this fault; True when the fault applies to it."""
        if self.exhausted() or (self.path and not re.search(self.path, path)):
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        self.fired += 1
        return True

    def describe(self) -> dict:
        return asdict(self)


class Stats:
    """Calls per route template and status, as `/_mock/stats` reports them."""

    def __init__(self) -> None:
        self.routes: defaultdict[str, Counter] = defaultdict(Counter)

    def record(self, route: str, status: int) -> None:
        self.routes[route][str(status)] += 1

    def report(self) -> dict:
        return {
            "total": sum(sum(c.values()) for c in self.routes.values()),
            "routes": {route: dict(counts) for route, counts in sorted(self.routes.items())},
        }

    def reset(self) -> None:
        self.routes.clear()


@dataclass
class MockState:
    """One account being served: its data and every moving part a call may read or change."""

    dataset: Dataset
    credentials: Credentials
    rate_limit: int = 200
    latency_ms: int = 0
    log_requests: bool = False
    oauth_auto_approve: bool = False
    clock: Clock = field(default_factory=Clock)
    faults: list[Fault] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    webhook_retry_ms: int = 250
    webhooks: Webhooks = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.clock, self.rate_limit)
        table = self.dataset["webhook"]
        seeded = max(table.ids(), default=0)
        # a dataset sequence, so a failed write gives its ID back; seeded once, so no deleted ID comes back
        self.webhooks = Webhooks(
            table,
            self.credentials.account,
            self.clock.now,
            lambda: self.dataset.next_id("webhook", lambda: seeded),
            self.webhook_retry_ms,
        )

    def now_stamp(self) -> str:
        return format_stamp(datetime.fromtimestamp(self.clock.now(), UTC), self.dataset.account_tz)
