"""The control API under `/_mock/`: health, stats, faults, clock, rate limit, tokens, mutations, webhooks.

Tests and benchmarks steer the running mock with it; `testing.MockServer` wraps each route.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .oauth import ACCESS_TOKEN_SECONDS
from .replies import json_response
from .state import Fault, MockState
from .store import deep_merge


def control_routes(state: MockState) -> list[Route]:
    async def health(request: Request) -> Response:
        return json_response({"status": "ok", "account": state.credentials.account, "counts": state.dataset.counts()})

    async def stats(request: Request) -> Response:
        if request.method == "DELETE":
            state.stats.reset()
        return json_response(state.stats.report())

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.faults.clear()
        elif request.method == "POST":
            specs = await _body(request)
            try:
                added = [Fault(**spec) for spec in (specs if isinstance(specs, list) else [specs])]
            except (TypeError, ValueError, re.error) as error:
                return json_response({"error": str(error)}, 400)
            state.faults.extend(added)
        return json_response({"faults": [fault.describe() for fault in state.faults]})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            state.clock.advance(float(body.get("advance_seconds", 0)))
        return json_response({"now": state.now_stamp(), "offset_seconds": state.clock.offset})

    async def rate_limit(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            if "limit" in body:
                state.limiter.limit = int(body["limit"])
            if body.get("reset"):
                state.limiter.reset()
        return json_response({"limit": state.limiter.limit})

    async def tokens(request: Request) -> Response:
        body = await _body(request)
        expires_in = int(body.get("expires_in", ACCESS_TOKEN_SECONDS))
        token = state.credentials.issue_access_token(state.clock.now(), expires_in)
        return json_response({"access_token": token, "token_type": "Bearer", "expires_in": expires_in})

    async def mutations(request: Request) -> Response:
        body = await _body(request)
        try:
            with state.webhooks.batch():
                results = [_mutate(state, change) for change in (body if isinstance(body, list) else [body])]
        except (KeyError, TypeError, ValueError) as error:
            return json_response({"error": f"bad mutation: {error!r}"}, 400)
        return json_response({"results": results})

    async def webhooks(request: Request) -> Response:
        if request.method == "DELETE":
            state.webhooks.clear_log()
        elif request.method == "POST":
            body = await _body(request)
            state.webhooks.retry_ms = int(body.get("retry_ms", state.webhooks.retry_ms))
            state.webhooks.max_attempts = int(body.get("max_attempts", state.webhooks.max_attempts))
        return json_response(state.webhooks.report())

    async def webhook_deliveries(request: Request) -> Response:
        """The delivery log, after waiting up to `?wait=SECONDS` for the queue to drain."""
        wait = float(request.query_params.get("wait", 0))
        drained = await asyncio.to_thread(state.webhooks.wait_drained, wait)
        report = state.webhooks.report()
        return json_response({"drained": drained, "pending": report["pending"], "deliveries": report["deliveries"],
                              "attempts": report["attempts"]})

    return [
        Route("/_mock/health", health, methods=["GET"]),
        Route("/_mock/webhooks", webhooks, methods=["GET", "POST", "DELETE"]),
        Route("/_mock/webhooks/deliveries", webhook_deliveries, methods=["GET"]),
        Route("/_mock/stats", stats, methods=["GET", "DELETE"]),
        Route("/_mock/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_mock/clock", clock, methods=["GET", "POST"]),
        Route("/_mock/rate-limit", rate_limit, methods=["GET", "POST"]),
        Route("/_mock/tokens", tokens, methods=["POST"]),
        Route("/_mock/mutations", mutations, methods=["POST"]),
    ]


async def _body(request: Request) -> Any:
    raw = await request.body()
    return orjson.loads(raw) if raw else {}


def _mutate(state: MockState, change: dict) -> dict:
    """`{"resource", "action": create|update|delete, "id", "changes", "touch"}`.

    `touch: false` leaves `updatedOn` as it was: Brightpearl is known to change records without
    bumping it, and a connector's lookback window exists for exactly that. A change made this way
    stands for one made in Brightpearl's UI, so it raises `{resource}.created|modified|destroyed`.
    """
    table = state.dataset[change["resource"]]
    action = change["action"]
    id_field = table.resource.id_field
    if action == "delete":
        table.delete(int(change["id"]))
        state.webhooks.publish(f"{change['resource']}.destroyed", [int(change["id"])])
        return {"id": int(change["id"]), "deleted": True}
    now = state.now_stamp()
    if action == "create":
        template_id = int(change.get("template_id") or table.ids()[-1])
        record = table.record(template_id)
        record[id_field] = max(table.ids()) + 1
        if "createdOn" in record:
            record["createdOn"] = now
    elif action == "update":
        record = table.record(int(change["id"]))
    else:
        raise ValueError(f"action must be create, update or delete, not {action!r}")
    deep_merge(record, change.get("changes", {}))
    if "updatedOn" in record and change.get("touch", True):
        record["updatedOn"] = now
    table.put(record)
    lifecycle_event = "created" if action == "create" else "modified"
    state.webhooks.publish(f"{change['resource']}.{lifecycle_event}", [record[id_field]])
    return {"id": record[id_field], "updatedOn": record.get("updatedOn")}
