"""Builds a seeded mock account: every registry resource, in registry order (a derived one when first read)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from .builders.reference import account_configuration
from .registry import RESOURCES
from .store import Dataset
from .world import World


def seed_dataset(seed: int, orders: int, account: str, timezone_name: str = "America/Chicago") -> Dataset:
    dataset = Dataset(RESOURCES, ZoneInfo(timezone_name))
    world = World(dataset, seed, orders, timezone_name)
    for resource in RESOURCES:
        if not resource.derived_from:
            dataset[resource.name].put_all(resource.build(world))
    dataset.account_configuration = account_configuration(world, account)
    return dataset
