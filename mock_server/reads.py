"""Reads: the registry's searches, ID-set GETs and OPTIONS, and the reads of one record's part.

Every resource in `registry.RESOURCES` is served by the same three handlers; `find_read` turns a
path into the one that serves it. Besides them: the account configuration, a warehouse's default
location and a record's custom fields (`custom_fields.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from starlette.requests import Request
from starlette.responses import Response

from . import custom_fields, errors
from .builders.reference import default_location
from .errors import ApiError
from .faults import check_ids
from .idsets import IdRanges, IdSetError, IdSetTooLarge, chunks, format_id_set, id_ranges
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
            service_routes.append(
                ResourceRoute(resource, "search", re.compile(f"^{re.escape(resource.search)}/?$"), resource.search)
            )
        if resource.get:
            literal = re.escape(resource.get).replace(re.escape("{parent}"), "(?P<parent>[^/]+)")
            service_routes.append(
                ResourceRoute(
                    resource, "get", re.compile(f"^{literal}(?:/(?P<ids>[^/]*))?/?$"), resource.get + "/{ids}"
                )
            )
    for service_routes in routes.values():
        # `product/custom-field-meta-data` must win over `product/{ids}`
        service_routes.sort(key=lambda route: -len(route.template))
    return routes


ROUTES = _routes_by_service(RESOURCES)
_DEFAULT_LOCATION = re.compile(r"^warehouse-service/warehouse/(?P<id>[1-9][0-9]{0,17})/location/default/?$")


def find_read(state: MockState, request: Request, path: str) -> tuple[str, Callable[[], Response]]:
    """What serves the read of `path`: the route's name for the stats and the handler to call.

    A path no resource has is 404; a resource path asked with a method it does not take is 405.
    """
    method = request.method
    if method == "GET":
        found = _record_part(state, path)
        if found is not None:
            return found
    service, _, rest = path.partition("-service/")
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


def _record_part(state: MockState, path: str) -> tuple[str, Callable[[], Response]] | None:
    """The GETs that answer one thing rather than a resource's records, or None when `path` is none of them."""
    if path.rstrip("/") == "integration-service/account-configuration":
        return "integration-service/account-configuration", lambda: json_response(
            {"response": state.dataset.account_configuration}, headers={"message-type": "get-account-configuration"}
        )
    match = _DEFAULT_LOCATION.match(path)
    if match:
        return "warehouse-service/warehouse/{id}/location/default", partial(_default_location, state, int(match["id"]))
    owned = custom_fields.owner_of(path)
    if owned:
        owner, record_id = owned
        return f"{owner.path}/{{id}}/custom-field", partial(_custom_fields, state, owner, record_id)
    return None


def _default_location(state: MockState, warehouse_id: int) -> Response:
    """A bare location ID, as the clients that call it read the answer (brightpearl-api.md §8.7)."""
    if warehouse_id not in state.dataset["warehouse"]:
        raise errors.not_found(f"Warehouse {warehouse_id} not found")
    return json_response({"response": default_location(warehouse_id)}, headers={"message-type": "get-default-location"})


def _custom_fields(state: MockState, owner: custom_fields.Owner, record_id: int) -> Response:
    record = custom_fields.record_of(state.dataset, owner, record_id)
    return json_response({"response": custom_fields.set_values(record)}, headers={"message-type": "get-custom-fields"})


def _search(state: MockState, resource: Resource, params: dict) -> Response:
    dataset = state.dataset
    body = run_search(
        dataset[resource.name],
        params,
        dataset.account_tz,
        lambda table_name, ids: reference_table(dataset, table_name, ids),
    )
    return json_response(body, headers={"message-type": "bulk-data-search"})


def _ranges(text: str | None) -> IdRanges | None:
    """The ID set a path segment names; None for none or `*` (all)."""
    if not text or text == "*":
        return None
    try:
        return id_ranges(text)
    except IdSetError as error:
        raise errors.bad_request(f"'{text}' is not a valid ID set: {error}") from None


def _selected_ids(state: MockState, resource: Resource, match: re.Match, listing: bool = False) -> list[int]:
    """The existing IDs a GET (or, with `listing`, an OPTIONS) names.

    A GET's set is sized before it is expanded (at most `max_ids`); an OPTIONS lists the existing
    IDs a set of any size covers without expanding it.
    """
    table = state.dataset[resource.name]
    requested = _ranges(match.group("ids"))
    parents = _ranges(match.groupdict().get("parent"))
    if requested is None:
        if not (listing or resource.get_all or resource.parent_field):
            raise errors.bad_request(f"An ID set of {resource.name} IDs is required")
        ids = table.ids()
    elif listing:
        ids = [record_id for record_id in table.ids() if record_id in requested]
    else:
        try:
            ids = requested.ids(resource.max_ids)
        except IdSetTooLarge as error:
            raise errors.bad_request(
                f"The ID set asks for {error.size} {resource.name} IDs; "
                f"at most {resource.max_ids} can be requested at once"
            ) from None
    if parents is not None:
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
