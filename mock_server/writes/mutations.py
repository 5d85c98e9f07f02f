"""Changes made as if in Brightpearl's own UI: the control API's `/_mock/mutations`, checked and journaled.

`{"resource", "action": create|update|delete, "id", "template_id", "changes", "touch"}`. A change
made this way raises `{resource}.created|modified|destroyed` like one made in the UI; `touch: false`
leaves `updatedOn` as it was, as Brightpearl is known to change records without bumping it (a
connector's lookback exists for exactly that). Every field is checked before anything changes, and
a batch is applied whole or not at all (the caller runs it in a transaction); like the API's writes
they are kept in `--data-file` and replayed at start-up, so the two can be mixed.
"""

from __future__ import annotations

from typing import Any

from ..state import MockState
from ..store import Table, deep_merge

ACTIONS = ("create", "update", "delete")


class BadMutation(ValueError):
    """A mutation the control API refuses with a 400, naming what to fix."""


def apply_mutations(state: MockState, changes: Any, now: str) -> tuple[list[dict], list[tuple[str, list[int]]]]:
    """Apply one change or a list of them; returns their results and the events they raise, in order."""
    results, events = [], []
    for change in changes if isinstance(changes, list) else [changes]:
        result, event = _mutate(state, change, now)
        results.append(result)
        events.append(event)
    return results, events


def _record_id(table: Table, change: dict, key: str) -> int:
    value = change.get(key)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if type(value) is not int or value not in table:
        raise BadMutation(f"{key} must be the ID of an existing {table.resource.name} record, not {value!r}")
    return value


def _mutate(state: MockState, change: Any, now: str) -> tuple[dict, tuple[str, list[int]]]:
    if not isinstance(change, dict):
        raise BadMutation(f"a mutation must be a JSON object, not {change!r}")
    name = change.get("resource")
    if not isinstance(name, str) or name not in state.dataset.tables:
        raise BadMutation(f"resource must be one of {', '.join(sorted(state.dataset.tables))}, not {name!r}")
    derived_from = state.dataset.tables[name].resource.derived_from
    if derived_from:
        raise BadMutation(f"{name} is derived from {', '.join(derived_from)}: change those instead")
    action = change.get("action")
    if action not in ACTIONS:
        raise BadMutation(f"action must be create, update or delete, not {action!r}")
    changes = change.get("changes", {})
    if not isinstance(changes, dict):
        raise BadMutation(f"changes must be a JSON object of the fields to change, not {changes!r}")
    table = state.dataset[name]
    id_field = table.resource.id_field
    if id_field in changes:
        raise BadMutation(f"changes cannot set {id_field}: create makes a new one, update keeps it")
    if action == "delete":
        record_id = _record_id(table, change, "id")
        table.delete(record_id)
        return {"id": record_id, "deleted": True}, (f"{name}.destroyed", [record_id])
    if action == "create":
        if not len(table):
            raise BadMutation(f"{name} has no record to copy a new one from")
        template_id = _record_id(table, change, "template_id") if "template_id" in change else table.ids()[-1]
        record = table.record(template_id)
        record[id_field] = state.dataset.next_id(name, lambda: max(table.ids()), taken=table)
        if "createdOn" in record:
            record["createdOn"] = now
    else:
        record = table.record(_record_id(table, change, "id"))
    deep_merge(record, changes)
    if "updatedOn" in record and change.get("touch", True):
        record["updatedOn"] = now
    table.put(record)
    lifecycle_event = "created" if action == "create" else "modified"
    return (
        {"id": record[id_field], "updatedOn": record.get("updatedOn")},
        (f"{name}.{lifecycle_event}", [record[id_field]]),
    )
