"""The context record builders share: a seeded random source, the account's clock and the tables so far.

Every value comes from `rng` and fixed dates, never from the wall clock, so a seed always yields the
same account. Builders read what earlier builders made through `records()` (decoded on the fly, so a
100k-order account is never held twice as Python objects).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from .resources import Record
from .store import Dataset

T = TypeVar("T")

HISTORY_START = datetime(2024, 1, 1, tzinfo=UTC)
HISTORY_END = datetime(2026, 11, 1, tzinfo=UTC)
_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(9)}


def format_stamp(moment: datetime, account_tz: ZoneInfo) -> str:
    """`2024-03-04T03:12:40.000-06:00`: milliseconds and the account's display offset."""
    return moment.astimezone(account_tz).isoformat(timespec="milliseconds")


class World:
    def __init__(self, dataset: Dataset, seed: int, orders: int, timezone_name: str):
        self.dataset = dataset
        self.seed = seed
        self.rng = random.Random(seed)
        self.orders = orders
        self.tz = ZoneInfo(timezone_name)

    def offshoot(self, name: str) -> World:
        """The same world drawing from a random source of its own: values added to the account later take
        no draws from `rng`, so every record seeded before them stays as it was."""
        branch = World(self.dataset, 0, self.orders, str(self.tz))
        branch.rng = random.Random(f"{self.seed}/{name}")
        return branch

    def scaled(self, per_thousand_orders: float, minimum: int, maximum: int | None = None) -> int:
        """A count that grows with the order count, within bounds."""
        count = max(minimum, round(self.orders * per_thousand_orders / 1000))
        return min(count, maximum) if maximum is not None else count

    def records(self, resource: str) -> Iterator[Record]:
        return self.dataset[resource].records()

    def ids(self, resource: str) -> list[int]:
        return self.dataset[resource].ids()

    # random choices ---------------------------------------------------------------------------
    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def pick(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def weighted(self, options: dict[T, float]) -> T:
        return self.rng.choices(list(options), weights=list(options.values()))[0]

    def moment(self, start: datetime = HISTORY_START, end: datetime = HISTORY_END) -> datetime:
        """A random instant in [start, end), whole milliseconds."""
        span_ms = max(1, int((end - start).total_seconds() * 1000))
        return start + timedelta(milliseconds=self.rng.randrange(span_ms))

    def later(self, moment: datetime, max_days: float) -> datetime:
        """A random instant up to `max_days` after `moment`, never past the end of history."""
        if moment >= HISTORY_END:
            return moment
        return self.moment(moment, min(moment + timedelta(days=max_days), HISTORY_END))

    # formatting --------------------------------------------------------------------------------
    def stamp(self, moment: datetime) -> str:
        return format_stamp(moment, self.tz)

    @staticmethod
    def money(amount: Decimal | float | int, places: int = 4) -> str:
        """Money and quantities are decimal strings, as the API sends them."""
        if not isinstance(amount, Decimal):
            amount = Decimal(str(amount))
        return str(amount.quantize(_QUANTA[places], rounding=ROUND_HALF_UP))
