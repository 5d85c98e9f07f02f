"""What each injected fault does to a call: every fault effect in one place.

Which calls a fault hits is `state.Fault`'s; the pipeline (`app.py`) asks here at three moments:
before the call is served (`slow` pauses, `expire_tokens` ages every token, `throttle`, `429`,
`token_expired`, `500`, `502` and `504` answer in its place), after it is served (`truncate` cuts
the body, `reset` drops the connection mid-body), and, from `reads.py`, when an ID-set GET names
an ID a `bad_id` fault holds.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.responses import Response

from . import errors
from .replies import json_response
from .resources import Resource
from .state import Fault, MockState

# what the nginx in front of Brightpearl's services answers when they fail
PROXY_PAGE = (
    "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)
REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Time-out"}


class InjectedReset(Exception):
    """Raised mid-body to make the server drop the connection (the `reset` fault)."""


class ResetResponse(Response):
    """Sends the headers and half the body, then drops the connection."""

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True})
        raise InjectedReset()


class _DropInjectedResets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedReset))


def quiet_injected_resets() -> None:
    """Keep uvicorn from logging a traceback for every connection a `reset` fault drops on purpose."""
    logging.getLogger("uvicorn.error").addFilter(_DropInjectedResets())


def hitting(state: MockState, path: str) -> list[Fault]:
    """The faults that hit a call to `path`, each counting it; `bad_id` waits for the IDs (`check_ids`)."""
    return [fault for fault in state.faults if fault.kind != "bad_id" and fault.hits(path)]


async def before_serving(state: MockState, faults: list[Fault]) -> Response | None:
    """Pause, age the tokens, or answer in the call's place (the first such fault wins)."""
    for fault in faults:
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_ms / 1000)
        elif fault.kind == "expire_tokens":
            state.credentials.expire_access_tokens(state.clock.now())
        else:
            answer = _answer_instead(fault)
            if answer is not None:
                return answer
    return None


def _answer_instead(fault: Fault) -> Response | None:
    if fault.kind == "throttle":
        return json_response(
            {"response": errors.TOO_MANY_REQUESTS},
            503,
            {"brightpearl-requests-remaining": "0", "brightpearl-next-throttle-period": str(fault.period_ms)},
        )
    if fault.kind == "429":
        return json_response({"response": errors.TOO_MANY_REQUESTS}, 429, {"retry-after": str(fault.retry_after)})
    if fault.kind == "token_expired":
        return json_response({"response": errors.TOKEN_EXPIRED}, 401, {"message-type": "api-proxy"})
    if fault.kind in ("500", "502", "504"):
        status = int(fault.kind)
        return Response(PROXY_PAGE.format(status=status, reason=REASONS[status]), status, media_type="text/html")
    return None


def after_serving(faults: list[Fault], response: Response) -> Response:
    """The served answer as the faults spoil it: its body cut in half, or its connection dropped mid-body."""
    for fault in faults:
        if fault.kind == "truncate":
            response.body = response.body[: len(response.body) // 2]
            response.headers["content-length"] = str(len(response.body))
        elif fault.kind == "reset":
            response = ResetResponse(response.body, response.status_code, dict(response.headers))
    return response


def check_ids(state: MockState, resource: Resource, ids: list[int]) -> None:
    """Fail an ID-set GET naming an ID a `bad_id` fault holds: one bad record fails the whole set,
    as availability and order GETs do for real."""
    for fault in state.faults:
        if fault.kind == "bad_id" and set(fault.ids) & set(ids) and fault.hits(resource.name):
            raise errors.bad_request("One or more of the requested resources could not be loaded")
