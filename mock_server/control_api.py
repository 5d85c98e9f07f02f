"""The control API under `/_mock/`: health, stats, faults, clock, rate limit, tokens, mutations, webhooks.

Tests and benchmarks steer the running mock with it; `testing.MockServer` wraps each route. Input
it cannot use (a body that is not JSON, a number that is not one or out of range, an unknown
resource or field) answers 400 `{"error": "<what to fix>"}` and changes nothing.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .oauth import ACCESS_TOKEN_SECONDS
from .replies import json_response
from .state import Fault, MockState
from .writes.journal import JournalWriteError, WriteJournal
from .writes.mutations import BadMutation, apply_mutations

# how long `/_mock/webhooks/deliveries?wait=` may hold a request open, and the clock's largest step
MAX_WAIT_SECONDS = 120.0
MAX_CLOCK_STEP_SECONDS = 10 * 365 * 86400.0
MAX_LIMIT = 1_000_000


class BadInput(ValueError):
    """Control-API input answered with a 400 and this message."""


def control_routes(state: MockState, journal: WriteJournal | None = None) -> list[Route]:
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
            specs = await _body(request, list)
            try:
                added = [Fault(**spec) for spec in (specs if isinstance(specs, list) else [specs])]
            except (TypeError, ValueError, re.error) as error:
                raise BadInput(f"bad fault: {error}") from None
            state.faults.extend(added)
        return json_response({"faults": [fault.describe() for fault in state.faults]})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            state.clock.advance(_number(body, "advance_seconds", 0.0, -MAX_CLOCK_STEP_SECONDS, MAX_CLOCK_STEP_SECONDS))
        return json_response({"now": state.now_stamp(), "offset_seconds": state.clock.offset})

    async def rate_limit(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            limit = int(_number(body, "limit", state.limiter.limit, 0, MAX_LIMIT, whole=True))
            reset = body.get("reset", False)
            if not isinstance(reset, bool):
                raise BadInput(f"reset must be true or false, not {reset!r}")
            state.limiter.limit = limit
            if reset:
                state.limiter.reset()
        return json_response({"limit": state.limiter.limit})

    async def tokens(request: Request) -> Response:
        body = await _body(request)
        expires_in = int(
            _number(
                body, "expires_in", ACCESS_TOKEN_SECONDS, -MAX_CLOCK_STEP_SECONDS, MAX_CLOCK_STEP_SECONDS, whole=True
            )
        )
        token = state.credentials.issue_access_token(state.clock.now(), expires_in)
        return json_response({"access_token": token, "token_type": "Bearer", "expires_in": expires_in})

    async def mutations(request: Request) -> Response:
        """Apply the whole batch or none of it; kept in `--data-file` like an API write."""
        changes = await _body(request, list)
        now = state.now_stamp()
        try:
            with state.dataset.transaction():
                results, events = apply_mutations(state, changes, now)
                if journal is not None:
                    journal.append_mutations(changes, now)
        except JournalWriteError as error:
            return json_response({"error": str(error)}, 500)
        except BadMutation as error:
            raise BadInput(f"bad mutation: {error}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            # a change the record's own shape refuses (a search column cannot read what it was given)
            raise BadInput(f"bad mutation: the changed record cannot be stored: {error!r}") from None
        with state.webhooks.batch():
            for full_event, ids in events:
                state.webhooks.publish(full_event, ids)
        return json_response({"results": results})

    async def webhooks(request: Request) -> Response:
        if request.method == "DELETE":
            state.webhooks.clear_log()
        elif request.method == "POST":
            body = await _body(request)
            retry_ms = int(_number(body, "retry_ms", state.webhooks.retry_ms, 0, MAX_WAIT_SECONDS * 1000, whole=True))
            max_attempts = int(_number(body, "max_attempts", state.webhooks.max_attempts, 1, 100, whole=True))
            state.webhooks.retry_ms, state.webhooks.max_attempts = retry_ms, max_attempts
        return json_response(state.webhooks.report())

    async def webhook_deliveries(request: Request) -> Response:
        """The delivery log, after waiting up to `?wait=SECONDS` for the queue to drain."""
        wait = _number(dict(request.query_params), "wait", 0.0, 0, MAX_WAIT_SECONDS, text=True)
        drained = await asyncio.to_thread(state.webhooks.wait_drained, wait)
        report = state.webhooks.report()
        return json_response(
            {
                "drained": drained,
                "pending": report["pending"],
                "deliveries": report["deliveries"],
                "attempts": report["attempts"],
            }
        )

    return [
        Route("/_mock/health", health, methods=["GET"]),
        Route("/_mock/webhooks", _answering_bad_input(webhooks), methods=["GET", "POST", "DELETE"]),
        Route("/_mock/webhooks/deliveries", _answering_bad_input(webhook_deliveries), methods=["GET"]),
        Route("/_mock/stats", stats, methods=["GET", "DELETE"]),
        Route("/_mock/faults", _answering_bad_input(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_mock/clock", _answering_bad_input(clock), methods=["GET", "POST"]),
        Route("/_mock/rate-limit", _answering_bad_input(rate_limit), methods=["GET", "POST"]),
        Route("/_mock/tokens", _answering_bad_input(tokens), methods=["POST"]),
        Route("/_mock/mutations", _answering_bad_input(mutations), methods=["POST"]),
    ]


def _answering_bad_input(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except BadInput as error:
            return json_response({"error": str(error)}, 400)

    return answer


async def _body(request: Request, *shapes: type) -> Any:
    """The JSON body: an object (or one of `shapes`); `{}` when empty."""
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as error:
        raise BadInput(f"the body is not JSON: {error}") from None
    if not isinstance(body, (dict, *shapes)):
        raise BadInput(f"the body must be a JSON object, not {type(body).__name__}")
    return body


def _number(
    values: dict, name: str, default: float, low: float, high: float, whole: bool = False, text: bool = False
) -> float:
    """`values[name]` as a finite number in [low, high] (a whole one with `whole`; parsed from text with `text`)."""
    value = values.get(name, default)
    if text and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise BadInput(f"{name} must be a number, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadInput(f"{name} must be a number, not {value!r}")
    if whole and value != int(value):
        raise BadInput(f"{name} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise BadInput(f"{name} must be between {low:g} and {high:g}, not {value!r}")
    return value
