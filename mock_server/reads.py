"""Reads: the registry's searches, ID-set GETs and OPTIONS, and the account configuration.

Every resource in `registry.RESOURCES` is served by the same three handlers; `find_read` turns a
path into the one that serves it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from starlette.requests import Request
from starlette.responses import Response

from . import errors
from .errors import ApiError
from .faults import check_ids
from .idsets import IdSetError, chunks, format_id_set, parse_id_set
from .registry import RESOURCES, reference_table
from .replies import json_response
from .resources import Resource
from .search import run_search
from .state import MockState


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


ROUTES = _routes_by_service(RESOURCES)


def find_read(state: MockState, request: Request, path: str) -> tuple[str, Callable[[], Response]]:
    """What serves the read of `path`: the route's name for the stats and the handler to call.

    A path no resource has is 404; a resource path asked with a method it does not take is 405.
    """
    method = request.method
    service, _, rest = path.partition("-service/")
    if service == "integration" and rest.rstrip("/") == "account-configuration" and method == "GET":
        return "integration-service/account-configuration", lambda: json_response(
            {"response": state.dataset.account_configuration}, headers={"message-type": "get-account-configuration"})
    for route in ROUTES.get(service, []):
        match = route.pattern.match(rest)
        if not match:
            continue
        name = f"{service}-service/{route.template}"
        params = dict(request.query_params)
        if route.kind == "search" and method == "GET":
            return name, partial(_search, state, route.resource, params)
        if route.kind == "get" and method == "GET":
            return name, partial(_get, state, route.resource, match, params)
        if route.kind == "get" and method == "OPTIONS":
            return name, partial(_options, state, route.resource, match)
        raise ApiError(405, "CMNC-405", f"{method} is not supported on {request.url.path}")
    raise errors.unknown_uri(request.url.path)


def _search(state: MockState, resource: Resource, params: dict) -> Response:
    dataset = state.dataset
    body = run_search(dataset[resource.name], params, dataset.account_tz,
                      lambda table_name, ids: reference_table(dataset, table_name, ids))
    return json_response(body, headers={"message-type": "bulk-data-search"})


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
    check_ids(state, resource, found)
    if not found and resource.missing is not None:
        raise errors.not_found(resource.missing.message.format(ids=match.group("ids")))
    include = frozenset(params.get("includeOptional", "").split(","))
    if resource.as_map:
        items = b",".join(b'"%d":%s' % (record_id, table.render(record_id, include)) for record_id in found)
        body = b'{"response":{' + items + b"}}"
    else:
        body = b'{"response":[' + b",".join(table.render(record_id, include) for record_id in found) + b"]}"
    return json_response(body, headers={"message-type": f"get-{resource.name}"})


def _options(state: MockState, resource: Resource, match: re.Match) -> Response:
    ids = sorted(_selected_ids(state, resource, match, listing=True))
    prefix = "/" + resource.get.replace("{parent}", "*")
    uris = [f"{prefix}/{format_id_set(chunk)}" for chunk in chunks(ids, resource.max_ids)]
    return json_response({"response": {"getUris": uris}}, headers={"message-type": f"options-{resource.name}"})
