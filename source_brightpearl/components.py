"""Custom components for what manifest.yaml cannot express on its own."""

from __future__ import annotations

import copy
import ipaddress
import logging
from dataclasses import InitVar, dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any, Dict, Iterable, Iterator, List, Mapping, MutableMapping, Optional, Union
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.schema.schema_loader import SchemaLoader
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.declarative.validators.validation_strategy import ValidationStrategy
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

LOGGER = logging.getLogger("airbyte")
THROTTLE_PERIOD_HEADER = "brightpearl-next-throttle-period"
THROTTLED_RESPONSE_TEXT = "too many requests"


@dataclass
class BrightpearlSearchRowsExtractor(RecordExtractor):
    """Turns `*-search` rows into records keyed by column name.

    Search results are positional arrays whose meaning is given by `metaData.columns[].name`, and
    Brightpearl adds columns over time, so rows must be zipped with the column list of the same
    response. A `DpathExtractor` can only select values, not pair them with a sibling list.
    """

    parameters: InitVar[Mapping[str, Any]]

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[str, Any]]:
        body = response.json().get("response") or {}
        column_names = [column["name"] for column in body.get("metaData", {}).get("columns", [])]
        for row in body.get("results", []):
            yield dict(zip(column_names, row))


@dataclass
class BrightpearlKeyedMapToList(RecordTransformation):
    """Replaces a map keyed by ID (`{"20871": {...}}`) with a list of its values, each carrying
    its key as an integer field.

    Brightpearl nests child objects as maps keyed by ID (`orderRows`, availability per warehouse);
    `AddFields` can only set values at fixed paths and cannot iterate over a map's keys. `key_fields`
    names one key per level of nesting (`breakDownByLocation` is warehouse -> location -> figures),
    and a leaf that is a list (goods-out `orderRows`: row -> [lines]) gives one item per line.
    """

    parameters: InitVar[Mapping[str, Any]]
    field: str = ""
    key_fields: List[str] = dataclass_field(default_factory=list)

    def transform(
        self,
        record: MutableMapping[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        keyed_map = record.get(self.field)
        if isinstance(keyed_map, Mapping):
            record[self.field] = list(flatten_keyed_map(keyed_map, self.key_fields))


def flatten_keyed_map(
    keyed_map: Mapping[str, Any], key_fields: List[str], keys: Optional[Mapping[str, int]] = None
) -> Iterator[MutableMapping[str, Any]]:
    """The leaves of a map nested `len(key_fields)` levels deep, each with its keys as integers."""
    key_field, deeper_key_fields = key_fields[0], key_fields[1:]
    for key, value in keyed_map.items():
        leaf_keys = {**(keys or {}), key_field: int(key)}
        if deeper_key_fields:
            yield from flatten_keyed_map(value, deeper_key_fields, leaf_keys)
        elif isinstance(value, list):
            yield from ({**item, **leaf_keys} for item in value)
        else:
            yield {**value, **leaf_keys}


@dataclass
class BrightpearlKeyedMapExtractor(RecordExtractor):
    """Records from a response whose `field_path` is a map keyed by ID (goods notes, availability,
    tags: `{"response": {"1140": {...}}}`), each carrying its key as an integer field.

    A `DpathExtractor` would return the map as one record, or its values without their keys.
    """

    parameters: InitVar[Mapping[str, Any]]
    field_path: List[str] = dataclass_field(default_factory=list)
    key_fields: List[str] = dataclass_field(default_factory=list)

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[str, Any]]:
        keyed_map: Any = response.json()
        for key in self.field_path:
            keyed_map = keyed_map.get(key) if isinstance(keyed_map, Mapping) else None
        # A resource with no records answers `[]` or `{}` rather than an empty map.
        if isinstance(keyed_map, Mapping):
            yield from flatten_keyed_map(keyed_map, self.key_fields)


@dataclass
class BrightpearlThrottleBackoff(BackoffStrategy):
    """Waits until Brightpearl's rate-limit window resets when a request was throttled.

    Brightpearl gives the wait in the `brightpearl-next-throttle-period` header in *milliseconds*,
    while `WaitTimeFromHeader` reads seconds; and since every response carries that header, it
    must be used only for throttled responses (503 "too many requests" or 429), not for outages.
    Returns None otherwise so the next strategy (Retry-After, then exponential) applies.
    """

    parameters: InitVar[Mapping[str, Any]]
    config: Optional[Config] = None

    def backoff_time(
        self,
        response_or_exception: Optional[Union[requests.Response, requests.RequestException]],
        attempt_count: int,
    ) -> Optional[float]:
        if not isinstance(response_or_exception, requests.Response) or not _is_throttled(
            response_or_exception
        ):
            return None
        try:
            milliseconds = float(response_or_exception.headers[THROTTLE_PERIOD_HEADER])
        except (KeyError, ValueError):
            return None
        # A zero or negative period still needs a short pause before the window has really moved.
        return max(milliseconds / 1000, 1.0)


def _is_throttled(response: requests.Response) -> bool:
    if response.status_code == 429:
        return True
    return response.status_code == 503 and THROTTLED_RESPONSE_TEXT in response.text.lower()


@dataclass
class BrightpearlApiDomainValidation(ValidationStrategy):
    """Rejects an `api_domain` that is not a bare host or an http(s) base URL, and plain http to
    anything but a loopback host (credentials would travel unencrypted).

    A JSON-schema `pattern` can approximate this but not say which rule was broken.
    """

    def validate(self, value: Any) -> None:
        if value in (None, ""):
            return
        text = str(value).strip()
        parts = urlsplit(text if "://" in text else f"https://{text}")
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise _config_error(
                f"api_domain '{text}' is not a host (like use1.brightpearlconnect.com) or a base URL "
                "(like https://proxy.example.com)."
            )
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise _config_error(
                f"api_domain '{text}' uses plain http:// to a host that is not loopback; use https://. "
                "Plain http:// is only allowed for 127.0.0.0/8, localhost and ::1."
            )


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


@dataclass
class BrightpearlStartDateValidation(ValidationStrategy):
    """Rejects a `start_date` that matches the spec's pattern but is not a real moment
    (e.g. `2024-02-30T00:00:00Z`), which a JSON-schema pattern cannot detect."""

    def validate(self, value: Any) -> None:
        if value in (None, ""):
            return
        try:
            datetime.fromisoformat(str(value))
        except ValueError:
            raise _config_error(
                f"start_date '{value}' is not a valid date-time; use the form 2024-01-31T00:00:00Z."
            ) from None


def _config_error(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.config_error
    )


# How each Brightpearl custom-field type arrives in a record (values are keyed by field code).
CUSTOM_FIELD_VALUE_SCHEMAS: Mapping[str, Mapping[str, Any]] = {
    "TEXT": {"type": ["null", "string"]},
    "TEXTAREA": {"type": ["null", "string"]},
    "INTEGER": {"type": ["null", "integer"]},
    "YESNO": {"type": ["null", "boolean"]},
    "DATE": {"type": ["null", "string"], "format": "date-time"},
    "SELECT": {
        "type": ["null", "object"],
        "properties": {"id": {"type": ["null", "integer"]}, "value": {"type": ["null", "string"]}},
    },
}


@dataclass
class BrightpearlCustomFieldsSchemaLoader(SchemaLoader):
    """The stream's inline schema with `customFields` typed per field, from the account's
    custom-field metadata (`.../custom-field-meta-data`), so each field is a typed column.

    `DynamicSchemaLoader` builds top-level properties from the first record of a single endpoint;
    custom fields are nested under `customFields`, orders need two endpoints (sale and purchase), and
    a SELECT value is an object, which its type mapping cannot express. Fields created after
    discovery still validate through the base schema's `additionalProperties`, and so do all fields
    when the metadata cannot be read (a warning says why): the records themselves are unaffected.
    """

    base_schema_loader: SchemaLoader
    metadata_requesters: List[Any]
    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def get_json_schema(self) -> Mapping[str, Any]:
        schema = copy.deepcopy(dict(self.base_schema_loader.get_json_schema()))
        try:
            typed_fields = self._typed_custom_fields()
        except Exception as error:  # noqa: BLE001 - any failure leaves the fields untyped, never the stream unreadable
            message = getattr(error, "message", None) or str(error)
            LOGGER.warning(f"Custom fields are left untyped: their metadata could not be read ({message}).")
            return schema
        custom_fields = schema["properties"]["customFields"]
        schema["properties"]["customFields"] = {**custom_fields, "properties": typed_fields}
        return schema

    def _typed_custom_fields(self) -> Dict[str, Any]:
        typed_fields: Dict[str, Any] = {}
        for requester in self.metadata_requesters:
            response = requester.send_request()
            for field in (response.json().get("response") or []) if response is not None else []:
                typed_fields[field["code"]] = {
                    **CUSTOM_FIELD_VALUE_SCHEMAS.get(field.get("customFieldType"), {}),
                    "title": field.get("name") or field["code"],
                }
        return typed_fields
