"""The HTTP face of the mock: the Starlette app, and the one pipeline every API call goes through.

account -> rate limit -> injected faults -> auth -> route -> the write (`writes/`) or read
(`reads.py`) handler -> the headers every real response carries, the call counted in the stats.
The control API (`control_api.py`) and OAuth (`oauth.py`) routes sit beside it.

Before any route is chosen, repeated slashes in the path are read as one, as the servlet container
in front of Brightpearl's services reads them (clients that join a base ending in `/` to a path
starting with one send `/public-api/acme//order-service/...`, and recorded real traffic answers
200). A path no route takes, top-level ones included, answers the services' JSON 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import errors, faults
from .control_api import control_routes
from .errors import ApiError, ProxyError
from .oauth import oauth_routes
from .reads import find_read
from .replies import json_response
from .state import MockState
from .writes import find_write
from .writes.framework import Write, decode_body, perform
from .writes.journal import JournalWriteError, WriteJournal

log = logging.getLogger("brightpearl-mock")

API_METHODS = ["GET", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
_REPEATED_SLASHES = re.compile(r"/{2,}")


class SingleSlashes:
    """Reads `//` (or more) in a request path as one `/`, before routing."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            scope = {
                **scope,
                "path": _REPEATED_SLASHES.sub("/", scope["path"]),
                "raw_path": re.sub(rb"/{2,}", b"/", scope.get("raw_path") or scope["path"].encode()),
            }
        await self.app(scope, receive, send)


async def _no_route(request: Request, exception: HTTPException) -> Response:
    """A path no route takes (404), or a method its route does not (405), in the services' error envelope."""
    if exception.status_code == 405:
        error = ApiError(405, "CMNC-405", f"{request.method} is not supported on {request.url.path}")
    else:
        error = errors.unknown_uri(request.url.path)
    return json_response(error.body(), error.status)


def create_app(state: MockState, journal: WriteJournal | None = None) -> Starlette:
    """The mock serving `state`; `journal` (`--data-file`) keeps every write served."""
    faults.quiet_injected_resets()

    async def api(request: Request) -> Response:
        started = time.perf_counter()
        route_name = "<unknown route>"
        response: Response
        budget_headers: dict[str, str] = {}
        try:
            if request.path_params["account"] != state.credentials.account:
                raise errors.not_found(f"Cannot find the account: {request.path_params['account']}")
            allowed, budget = state.limiter.take()
            budget_headers = budget.headers()
            if not allowed:
                raise ProxyError(503, errors.TOO_MANY_REQUESTS)
            if state.latency_ms:
                await asyncio.sleep(state.latency_ms / 1000)
            path = request.path_params["path"]
            hitting = faults.hitting(state, path)
            # a fault's answer stands in for the service's, uncounted and without its headers
            instead = await faults.before_serving(state, hitting)
            if instead is not None:
                return instead
            _authenticate(state, request)
            route_name, handle = _resolve(state, journal, request, path, await request.body())
            response = faults.after_serving(hitting, handle())
        except ApiError as error:
            response = json_response(error.body(), error.status)
        except ProxyError as error:
            response = json_response(error.body(), error.status, {"message-type": "api-proxy", **error.headers})
        except Exception:  # a bug in the mock: answer like the real service's internal error, and say so
            log.exception("unhandled error for %s %s", request.method, request.url.path)
            response = json_response({"errors": [{"code": "CMNU-003", "message": "Internal Server Error"}]}, 500)
        response.headers.update(budget_headers)
        response.headers["ruid"] = str(uuid.uuid4())
        state.stats.record(f"{request.method} {route_name}", response.status_code)
        if state.log_requests:
            # the path and query only: credentials travel in headers and are never printed
            print(
                f"{request.method} {request.url.path}{'?' + request.url.query if request.url.query else ''} "
                f"-> {response.status_code} {(time.perf_counter() - started) * 1000:.1f}ms",
                file=sys.stderr,
                flush=True,
            )
        return response

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.webhooks.start()
        try:
            yield
        finally:
            state.webhooks.stop()

    return Starlette(
        routes=[
            Route("/public-api/{account}/{path:path}", api, methods=API_METHODS),
            *control_routes(state, journal),
            *oauth_routes(state),
        ],
        middleware=[Middleware(SingleSlashes)],
        exception_handlers={404: _no_route, 405: _no_route},
        lifespan=lifespan,
    )


def _authenticate(state: MockState, request: Request) -> None:
    headers = request.headers
    credentials = state.credentials
    app_ref = headers.get("brightpearl-app-ref")
    authorization = headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
        expiry = credentials.access_tokens.get(token)
        if expiry is None:
            raise ProxyError(401, f"Invalid instance token: {token}")
        if expiry <= state.clock.now():
            raise ProxyError(401, errors.TOKEN_EXPIRED)
        if app_ref == credentials.app_ref and headers.get("brightpearl-dev-ref") == credentials.dev_ref:
            return
    elif app_ref == credentials.app_ref:
        if headers.get("brightpearl-account-token") == credentials.account_token:
            return
        if headers.get("brightpearl-staff-token") == credentials.staff_token:
            return
    raise ProxyError(401, errors.NOT_AUTHENTICATED)


def _resolve(
    state: MockState, journal: WriteJournal | None, request: Request, path: str, body: bytes
) -> tuple[str, Callable[[], Response]]:
    """Find what serves `path`: the route's name for the stats and the handler to call.

    The writes table comes first; then the registry's search, ID-set GET and OPTIONS routes.
    """
    found = find_write(request.method, path)
    if found is not None:
        write, ids = found
        return write.path, lambda: _write(state, journal, write, ids, path, body)
    return find_read(state, request, path)


def _write(
    state: MockState, journal: WriteJournal | None, write: Write, ids: dict[str, int], path: str, raw_body: bytes
) -> Response:
    """Serve a write, keep it in the journal (`--data-file`), then raise its webhook events.

    The write is kept only once its journal line is: a refused body or a line that cannot be
    written leaves the account as it was (the transaction puts back every record and ID).
    """
    body = decode_body(raw_body)
    try:
        with state.dataset.transaction():
            call = perform(state, write, ids, body, state.now_stamp())
            if journal is not None:
                # decoded afresh: a handler may have merged parts of the body into records it went on to change
                journal.append_write(write.method, path, decode_body(raw_body), call.now)
    except JournalWriteError as error:
        raise ApiError(500, "CMNU-003", f"Internal Server Error: {error}") from None
    with state.webhooks.batch():
        for full_event, event_ids in call.events:
            state.webhooks.publish(full_event, event_ids)
    return json_response(
        {} if call.result is None else {"response": call.result}, headers={"message-type": write.message_type}
    )
