"""The HTTP face of the mock: Brightpearl's URL space plus a control API under `/_mock/`.

Every API call goes through one pipeline: account -> rate limit -> injected faults -> auth ->
route -> generic search / ID-set GET / OPTIONS handler, then the headers every real response carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import errors
from .control import Clock, Credentials, Fault, RateLimiter, Stats
from .errors import ApiError, ProxyError
from .idsets import IdSetError, chunks, format_id_set, parse_id_set
from .oauth import oauth_routes
from .registry import RESOURCES, reference_table
from .resources import Resource
from .search import run_search
from .store import Dataset, deep_merge
from .webhooks import Webhooks
from .world import format_stamp
from .writes import Write, WriteJournal, decode_body, find_write, perform

log = logging.getLogger("brightpearl-mock")

JSON_TYPE = "application/json;charset=UTF-8"
STATIC_HEADERS = {"cache-control": "no-cache, must-revalidate", "expires": "Mon, 20 Dec 1998 01:00:00 GMT",
                  "pragma": "no-cache", "strict-transport-security": "max-age=15724800"}
PROXY_PAGE = ("<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1></center>"
              "<hr><center>nginx</center></body></html>")
REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Time-out"}
API_METHODS = ["GET", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]


class InjectedReset(Exception):
    """Raised mid-body to make the server drop the connection (the `reset` fault)."""


@dataclass
class ResourceRoute:
    """A resource path in one service: its regex, and whether it is the search or the ID-set GET."""

    resource: Resource
    kind: str  # "search" | "get"
    pattern: re.Pattern
    template: str


def _routes_by_service(resources: list[Resource]) -> dict[str, list[ResourceRoute]]:
    routes: dict[str, list[ResourceRoute]] = {}
    for resource in resources:
        service_routes = routes.setdefault(resource.service, [])
        if resource.search:
            service_routes.append(ResourceRoute(resource, "search", re.compile(f"^{re.escape(resource.search)}/?$"),
                                         resource.search))
        if resource.get:
            literal = re.escape(resource.get).replace(re.escape("{parent}"), "(?P<parent>[^/]+)")
            service_routes.append(ResourceRoute(resource, "get", re.compile(f"^{literal}(?:/(?P<ids>[^/]*))?/?$"),
                                         resource.get + "/{ids}"))
    for service_routes in routes.values():
        # `product/custom-field-meta-data` must win over `product/{ids}`
        service_routes.sort(key=lambda route: -len(route.template))
    return routes


@dataclass
class MockState:
    dataset: Dataset
    credentials: Credentials
    rate_limit: int = 200
    latency_ms: int = 0
    log_requests: bool = False
    oauth_auto_approve: bool = False
    clock: Clock = field(default_factory=Clock)
    faults: list[Fault] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    journal: WriteJournal | None = None  # `--data-file`: API writes kept across restarts
    webhook_retry_ms: int = 250
    webhooks: Webhooks = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.clock, self.rate_limit)
        self.routes = _routes_by_service(RESOURCES)
        self.webhooks = Webhooks(self.dataset["webhook"], self.credentials.account, self.clock, self.webhook_retry_ms)

    def now_stamp(self) -> str:
        return format_stamp(datetime.fromtimestamp(self.clock.now(), timezone.utc), self.dataset.account_tz)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, status_code=status, headers={**STATIC_HEADERS, **(headers or {})}, media_type=JSON_TYPE)


class ResetResponse(Response):
    """Sends the headers and half the body, then drops the connection."""

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True})
        raise InjectedReset()


class _DropInjectedResets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedReset))


def create_app(state: MockState) -> Starlette:
    logging.getLogger("uvicorn.error").addFilter(_DropInjectedResets())

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
            faults = [fault for fault in state.faults if fault.kind != "bad_id" and fault.hits(path)]
            for fault in faults:
                if fault.kind == "slow":
                    await asyncio.sleep(fault.delay_ms / 1000)
                elif fault.kind == "expire_tokens":
                    state.credentials.expire_access_tokens(state.clock.now())
                else:
                    early = _fault_response(fault)
                    if early is not None:
                        route_name = f"fault {fault.kind}"
                        return early
            _authenticate(state, request)
            route_name, handle = _resolve(state, request, path, await request.body())
            response = handle()
            for fault in faults:
                if fault.kind == "truncate":
                    response.body = response.body[: len(response.body) // 2]
                    response.headers["content-length"] = str(len(response.body))
                elif fault.kind == "reset":
                    response = ResetResponse(response.body, response.status_code, dict(response.headers))
        except ApiError as error:
            response = _json(error.body(), error.status)
        except ProxyError as error:
            response = _json(error.body(), error.status, {"message-type": "api-proxy", **error.headers})
        except Exception:  # a bug in the mock: answer like the real service's internal error, and say so
            log.exception("unhandled error for %s %s", request.method, request.url.path)
            response = _json({"errors": [{"code": "CMNU-003", "message": "Internal Server Error"}]}, 500)
        response.headers.update(budget_headers)
        response.headers["ruid"] = str(uuid.uuid4())
        state.stats.record(f"{request.method} {route_name}", response.status_code)
        if state.log_requests:
            # the path and query only: credentials travel in headers and are never printed
            print(f"{request.method} {request.url.path}{'?' + request.url.query if request.url.query else ''} "
                  f"-> {response.status_code} {(time.perf_counter() - started) * 1000:.1f}ms", file=sys.stderr, flush=True)
        return response

    def _fault_response(fault: Fault) -> Response | None:
        if fault.kind == "throttle":
            return _json({"response": errors.TOO_MANY_REQUESTS}, 503, {
                "brightpearl-requests-remaining": "0", "brightpearl-next-throttle-period": str(fault.period_ms)})
        if fault.kind == "429":
            return _json({"response": errors.TOO_MANY_REQUESTS}, 429, {"retry-after": str(fault.retry_after)})
        if fault.kind == "token_expired":
            return _json({"response": errors.TOKEN_EXPIRED}, 401, {"message-type": "api-proxy"})
        if fault.kind in ("500", "502", "504"):
            status = int(fault.kind)
            return Response(PROXY_PAGE.format(status=status, reason=REASONS[status]), status, media_type="text/html")
        return None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.webhooks.start()
        try:
            yield
        finally:
            state.webhooks.stop()

    return Starlette(routes=[
        Route("/public-api/{account}/{path:path}", api, methods=API_METHODS),
        *control_routes(state),
        *oauth_routes(state),
    ], lifespan=lifespan)


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


def _resolve(state: MockState, request: Request, path: str, body: bytes) -> tuple[str, Callable[[], Response]]:
    """Find what serves `path`: the route's name for the stats and the handler to call.

    The writes table comes first; then the registry's search, ID-set GET and OPTIONS routes.
    """
    method = request.method
    found = find_write(method, path)
    if found is not None:
        write, ids = found
        return write.path, lambda: _write(state, write, ids, path, body)
    service, _, rest = path.partition("-service/")
    if service == "integration" and rest.rstrip("/") == "account-configuration" and method == "GET":
        return "integration-service/account-configuration", lambda: _json(
            {"response": state.dataset.account_configuration}, headers={"message-type": "get-account-configuration"})
    for route in state.routes.get(service, []):
        match = route.pattern.match(rest)
        if not match:
            continue
        name = f"{service}-service/{route.template}"
        params = dict(request.query_params)
        if route.kind == "search" and method == "GET":
            return name, lambda: _search(state, route.resource, params)
        if route.kind == "get" and method == "GET":
            return name, lambda: _get(state, route.resource, match, params)
        if route.kind == "get" and method == "OPTIONS":
            return name, lambda: _options(state, route.resource, match)
        raise ApiError(405, "CMNC-405", f"{method} is not supported on {request.url.path}")
    raise errors.unknown_uri(request.url.path)


def _write(state: MockState, write: Write, ids: dict[str, int], path: str, raw_body: bytes) -> Response:
    """Serve a write, keep it in the journal (`--data-file`), then raise its webhook events."""
    body = decode_body(raw_body)
    call = perform(state, write, ids, body, state.now_stamp())
    if state.journal is not None:
        # decoded afresh: a handler may have merged parts of the body into records it went on to change
        state.journal.append(write.method, path, decode_body(raw_body), call.now)
    with state.webhooks.batch():
        for full_event, event_ids in call.events:
            state.webhooks.publish(full_event, event_ids)
    return _json({} if call.result is None else {"response": call.result},
                 headers={"message-type": write.message_type})


def _search(state: MockState, resource: Resource, params: dict) -> Response:
    dataset = state.dataset
    body = run_search(dataset[resource.name], params, dataset.account_tz,
                      lambda table_name, ids: reference_table(dataset, table_name, ids))
    return _json(body, headers={"message-type": "bulk-data-search"})


def _requested_ids(resource: Resource, text: str | None) -> list[int] | None:
    if not text or text == "*":
        return None
    try:
        ids = parse_id_set(text)
    except IdSetError as error:
        raise errors.bad_request(f"'{text}' is not a valid ID set: {error}") from None
    if len(ids) > resource.max_ids:
        raise errors.bad_request(f"The ID set asks for {len(ids)} {resource.name} IDs; "
                                 f"at most {resource.max_ids} can be requested at once")
    return ids


def _selected_ids(state: MockState, resource: Resource, match: re.Match, listing: bool = False) -> list[int]:
    """The existing IDs a GET (or, with `listing`, an OPTIONS) names."""
    table = state.dataset[resource.name]
    ids = _requested_ids(resource, match.group("ids"))
    parent_text = match.groupdict().get("parent")
    if ids is None:
        if not (listing or resource.get_all or resource.parent_field):
            raise errors.bad_request(f"An ID set of {resource.name} IDs is required")
        ids = table.ids()
    if parent_text not in (None, "*"):
        try:
            parents = set(parse_id_set(parent_text))
        except IdSetError as error:
            raise errors.bad_request(f"'{parent_text}' is not a valid ID set: {error}") from None
        ids = [record_id for record_id in ids if table.parent_of(record_id) in parents]
    return [record_id for record_id in ids if record_id in table]


def _get(state: MockState, resource: Resource, match: re.Match, params: dict) -> Response:
    table = state.dataset[resource.name]
    found = _selected_ids(state, resource, match)
    for fault in state.faults:
        if fault.kind == "bad_id" and set(fault.ids) & set(found) and fault.hits(resource.name):
            # one bad record fails the whole set, as availability and order GETs do for real
            raise errors.bad_request("One or more of the requested resources could not be loaded")
    if not found and resource.missing is not None:
        raise errors.not_found(resource.missing.message.format(ids=match.group("ids")))
    include = frozenset(params.get("includeOptional", "").split(","))
    if resource.as_map:
        items = b",".join(b'"%d":%s' % (record_id, table.render(record_id, include)) for record_id in found)
        body = b'{"response":{' + items + b"}}"
    else:
        body = b'{"response":[' + b",".join(table.render(record_id, include) for record_id in found) + b"]}"
    return _json(body, headers={"message-type": f"get-{resource.name}"})


def _options(state: MockState, resource: Resource, match: re.Match) -> Response:
    ids = sorted(_selected_ids(state, resource, match, listing=True))
    prefix = "/" + resource.get.replace("{parent}", "*")
    uris = [f"{prefix}/{format_id_set(chunk)}" for chunk in chunks(ids, resource.max_ids)]
    return _json({"response": {"getUris": uris}}, headers={"message-type": f"options-{resource.name}"})


# ---------------------------------------------------------------------------------------------
# Control API: health, stats, faults, clock, rate limit, tokens, mutations
# ---------------------------------------------------------------------------------------------

def control_routes(state: MockState) -> list[Route]:
    async def health(request: Request) -> Response:
        return _json({"status": "ok", "account": state.credentials.account, "counts": state.dataset.counts()})

    async def stats(request: Request) -> Response:
        if request.method == "DELETE":
            state.stats.reset()
        return _json(state.stats.report())

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.faults.clear()
        elif request.method == "POST":
            specs = await _body(request)
            try:
                added = [Fault(**spec) for spec in (specs if isinstance(specs, list) else [specs])]
            except (TypeError, ValueError, re.error) as error:
                return _json({"error": str(error)}, 400)
            state.faults.extend(added)
        return _json({"faults": [fault.describe() for fault in state.faults]})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            state.clock.advance(float(body.get("advance_seconds", 0)))
        return _json({"now": state.now_stamp(), "offset_seconds": state.clock.offset})

    async def rate_limit(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            if "limit" in body:
                state.limiter.limit = int(body["limit"])
            if body.get("reset"):
                state.limiter.reset()
        return _json({"limit": state.limiter.limit})

    async def tokens(request: Request) -> Response:
        body = await _body(request)
        expires_in = int(body.get("expires_in", 604800))
        token = state.credentials.issue_access_token(state.clock.now(), expires_in)
        return _json({"access_token": token, "token_type": "Bearer", "expires_in": expires_in})

    async def mutations(request: Request) -> Response:
        body = await _body(request)
        try:
            with state.webhooks.batch():
                results = [_mutate(state, change) for change in (body if isinstance(body, list) else [body])]
        except (KeyError, TypeError, ValueError) as error:
            return _json({"error": f"bad mutation: {error!r}"}, 400)
        return _json({"results": results})

    async def webhooks(request: Request) -> Response:
        if request.method == "DELETE":
            state.webhooks.clear_log()
        elif request.method == "POST":
            body = await _body(request)
            state.webhooks.retry_ms = int(body.get("retry_ms", state.webhooks.retry_ms))
            state.webhooks.max_attempts = int(body.get("max_attempts", state.webhooks.max_attempts))
        return _json(state.webhooks.report())

    async def webhook_deliveries(request: Request) -> Response:
        """The delivery log, after waiting up to `?wait=SECONDS` for the queue to drain."""
        wait = float(request.query_params.get("wait", 0))
        drained = await asyncio.to_thread(state.webhooks.wait_drained, wait)
        report = state.webhooks.report()
        return _json({"drained": drained, "pending": report["pending"], "deliveries": report["deliveries"],
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
