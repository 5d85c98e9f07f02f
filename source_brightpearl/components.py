"""Custom components for what manifest.yaml cannot express on its own."""

from __future__ import annotations

import ipaddress
from dataclasses import InitVar, dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, MutableMapping, Optional, Union
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.declarative.validators.validation_strategy import ValidationStrategy
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

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
    its key as an integer `key_field`.

    Brightpearl nests child objects as maps keyed by ID (e.g. `orderRows`); `AddFields` can only
    set values at fixed paths and cannot iterate over a map's keys.
    """

    parameters: InitVar[Mapping[str, Any]]
    field: str = ""
    key_field: str = ""

    def transform(
        self,
        record: MutableMapping[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        keyed_map = record.get(self.field)
        if isinstance(keyed_map, Mapping):
            record[self.field] = [
                {**value, self.key_field: int(key)} for key, value in keyed_map.items()
            ]


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
