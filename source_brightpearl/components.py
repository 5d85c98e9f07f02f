"""Custom components for what manifest.yaml cannot express on its own."""

from __future__ import annotations

import copy
import ipaddress
import logging
import logging
import re
import threading
import time
from dataclasses import InitVar, dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, MutableMapping, Optional, Tuple, Union
from urllib.parse import urlsplit

import backoff
import orjson
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.auth.oauth import DeclarativeSingleUseRefreshTokenOauth2Authenticator
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.requesters.error_handlers import DefaultErrorHandler
from airbyte_cdk.sources.declarative.retrievers import SimpleRetriever
from airbyte_cdk.sources.declarative.schema.schema_loader import SchemaLoader
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.declarative.transformations.config_transformations.config_transformation import (
    ConfigTransformation,
)
from airbyte_cdk.sources.declarative.validators.validation_strategy import ValidationStrategy
from airbyte_cdk.sources.streams.call_rate import APIBudget
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import (
    SUCCESS_RESOLUTION,
    ErrorResolution,
    ResponseAction,
)
from airbyte_cdk.sources.types import Config, Record, StreamSlice, StreamState
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.datetime_helpers import AirbyteDateTime, ab_datetime_now
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

LOGGER = logging.getLogger("airbyte")
THROTTLE_PERIOD_HEADER = "brightpearl-next-throttle-period"
THROTTLED_RESPONSE_TEXT = "too many requests"
REQUESTS_REMAINING_HEADER = "brightpearl-requests-remaining"
TOKEN_EXPIRED_TEXT = "authorization token expired"
# Private-app tokens: nothing can renew them, unlike an OAuth access token.
NON_REFRESHABLE_AUTH_TYPES = ("account_token", "staff_token")


def decode_body(response: requests.Response) -> Any:
    """The JSON body of a response, parsed once by orjson (several times faster than `response.json()`).

    A body cut short (a connection dropped mid-response) is a transient failure, not an empty page:
    the CDK's JsonDecoder would yield `{}` for it and the page's records would be lost silently.
    """
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as error:
        raise AirbyteTracedException(
            message=(
                "Brightpearl sent an incomplete or malformed response. This is usually temporary: "
                "run the sync again."
            ),
            internal_message=f"Invalid JSON ({error}) in the {response.status_code} answer to {response.url}",
            failure_type=FailureType.transient_error,
        ) from None


@dataclass
class BrightpearlResponseExtractor(RecordExtractor):
    """The records in Brightpearl's `{"response": ...}` envelope: one per item of a list, or the
    object itself.

    `DpathExtractor` with `field_path: ["response"]` does the same, but `dpath.get` visits every
    value of the body to find that one key: at 200 orders a GET it was a third of a read's CPU time
    (bench/PROFILE.md).
    """

    parameters: InitVar[Mapping[str, Any]]

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[str, Any]]:
        return response_records(response)


def response_records(response: requests.Response) -> Iterable[MutableMapping[str, Any]]:
    """The records in a body's `response`: the items of a list, or a non-empty object."""
    body = decode_body(response)
    records = body.get("response") if isinstance(body, Mapping) else None
    if isinstance(records, list):
        yield from records
    elif isinstance(records, Mapping) and records:
        yield records


@dataclass
class BrightpearlSearchRowsExtractor(RecordExtractor):
    """Turns `*-search` rows into records keyed by column name.

    Search results are positional arrays whose meaning is given by `metaData.columns[].name`, and
    Brightpearl adds columns over time, so rows must be zipped with the column list of the same
    response. A `DpathExtractor` can only select values, not pair them with a sibling list.
    """

    parameters: InitVar[Mapping[str, Any]]

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[str, Any]]:
        body = decode_body(response).get("response") or {}
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
        keyed_map: Any = decode_body(response)
        for key in self.field_path:
            keyed_map = keyed_map.get(key) if isinstance(keyed_map, Mapping) else None
        # A resource with no records answers `[]` or `{}` rather than an empty map.
        if isinstance(keyed_map, Mapping):
            yield from flatten_keyed_map(keyed_map, self.key_fields)


@dataclass
class BrightpearlChildRowsExtractor(RecordExtractor):
    """The rows nested in each record of an ID-set GET (an order's `orderRows` map keyed by row
    ID), each carrying its key and the named fields of its parent (`orderId`, `updatedOn`).

    Read this way a child stream pages like its parent, one slice per ID set of 200, and the GETs
    the parent already made are answered from the request cache. A `SubstreamPartitionRouter` over
    the parent makes one slice per parent record instead, each with its own cursor, slice hash and
    three `dpath` walks of the whole parent: 90 % of a read of orders and order rows (bench/PROFILE.md).
    """

    parameters: InitVar[Mapping[str, Any]]
    rows_field: str = ""
    key_fields: List[str] = dataclass_field(default_factory=list)
    # child field -> parent field
    parent_fields: Mapping[str, str] = dataclass_field(default_factory=dict)

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[str, Any]]:
        for parent in response_records(response):
            rows = parent.get(self.rows_field)
            if not isinstance(rows, Mapping):
                continue
            inherited = {child: parent.get(field) for child, field in self.parent_fields.items()}
            for row in flatten_keyed_map(rows, self.key_fields):
                row.update(inherited)
                yield row


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


# The credentials the connector sends: as HTTP headers (tokens, app and developer references) or in
# the OAuth token request's form (client secret, refresh token).
CREDENTIAL_FIELDS = ("account_token", "staff_token", "app_ref", "dev_ref", "client_id", "client_secret",
                     "access_token", "refresh_token")
# What RFC 9110 allows in a header value: visible ASCII, space, tab and obs-text (0x80-0xFF). requests
# refuses only line breaks (quoting the value in its error) and http.client what is not latin-1.
HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


@dataclass
class BrightpearlCredentialsTrim(ConfigTransformation):
    """Strips the spaces and line breaks around each credential (`CREDENTIAL_FIELDS`) in the config:
    a token pasted with the newline of a terminal or a password manager would otherwise fail every
    request in the HTTP client, with a traceback quoting the token.

    `ConfigAddFields` with `| trim` would need one conditional transformation per field and auth type
    (or it adds the fields of every auth type to every config), and its interpolation turns a token
    of digits into a number. The OAuth tokens are read from the config itself, so trimming them in
    the authenticator's interpolation is not possible.
    """

    def transform(self, config: MutableMapping[str, Any]) -> None:
        credentials = config.get("credentials")
        if not isinstance(credentials, MutableMapping):
            return
        for name in CREDENTIAL_FIELDS:
            if isinstance(credentials.get(name), str):
                credentials[name] = credentials[name].strip()


@dataclass
class BrightpearlCredentialsValidation(ValidationStrategy):
    """Rejects a credential that, once trimmed, still cannot be sent in an HTTP header (a line break
    inside, a control character, a character outside latin-1), naming the field and never the value.

    A JSON-schema `pattern` in the spec would say the same, but the CDK's own spec check (the one
    Airbyte's declarative runtime runs) quotes the value that breaks it: the token.
    """

    def validate(self, value: Any) -> None:
        if not isinstance(value, Mapping):
            return
        for name in CREDENTIAL_FIELDS:
            credential = value.get(name)
            if isinstance(credential, str) and not HEADER_VALUE.fullmatch(credential):
                raise config_error(
                    f"Config field 'credentials.{name}' holds a line break, a control character or a character "
                    "outside latin-1, which cannot be sent to Brightpearl. Copy the value again, on one line."
                )


@dataclass
class BrightpearlApiDomainValidation(ValidationStrategy):
    """Rejects an `api_domain` (or `oauth_host`) that is not a bare host or an http(s) base URL as
    the HTTP client reads it, that could send requests to a host other than the one it seems to
    name, or that uses plain http to anything but a loopback host (credentials would travel
    unencrypted): see `base_url_problem`. The value is quoted without its password, if it has one.

    A JSON-schema `pattern` can approximate this but not say which rule was broken.
    """

    # The config field it checks, for the message (the manifest names the others it is used for).
    field: str = "api_domain"

    def validate(self, value: Any) -> None:
        if value in (None, ""):
            return
        text = str(value).strip()
        problem = base_url_problem(text)
        if problem:
            raise config_error(f"{self.field} '{without_password(text)}' {problem}")


def base_url_problem(text: str) -> Optional[str]:
    """What makes `text` unfit to start request URLs, or None: it must be a host or an http(s) URL
    with no path, read as requests reads it (urllib3's `parse_url`), which Python's `urlsplit` (and
    so any other parser) must read the same way. `http://attacker.example.com\\@127.0.0.1` is
    loopback to `urlsplit`, but requests sends it to attacker.example.com."""
    if "\\" in text:
        return ("holds a backslash: the HTTP client would send requests to the host before it, not the one "
                "after it. Remove it.")
    if "@" in text:
        return ("holds a user name or password ('user:password@'): credentials are never put in the address, "
                "and what comes before the '@' could be taken for the host. Remove it.")
    not_a_base_url = ("is not a host (like use1.brightpearlconnect.com) or a base URL (like "
                      "https://proxy.example.com), without a path, query or fragment.")
    url = text if "://" in text else f"https://{text}"
    try:
        parts = parse_url(url)
        other_reading = urlsplit(url).hostname
    except (LocationParseError, ValueError):
        return not_a_base_url
    if (parts.scheme not in ("http", "https") or not parts.host or parts.path not in (None, "", "/")
            or parts.query is not None or parts.fragment is not None):
        return not_a_base_url
    host = parts.host.strip("[]")
    if not url.isascii() or host != other_reading:
        return ("does not name its host plainly (URL parsers read it differently); write the host in ASCII, "
                "without %-escapes (an international domain in its xn-- form).")
    if parts.scheme == "http" and not _is_loopback(host):
        return ("uses plain http:// to a host that is not loopback; use https://. "
                "Plain http:// is only allowed for 127.0.0.0/8, localhost and ::1.")
    return None


def without_password(text: str) -> str:
    """`text` with whatever comes before its last '@' (a user name and password) masked."""
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "", text
    _, at, host = rest.rpartition("@")
    return f"{scheme}{separator}***@{host}" if at else text


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
    (e.g. `2024-02-30T00:00:00Z`) or not a plausible one (year 0001 or 9999: nothing to read, or a
    typo), which a JSON-schema pattern cannot detect."""

    # Brightpearl started in 2007, so no account holds records before this.
    EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)

    def validate(self, value: Any) -> None:
        if value in (None, ""):
            return
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise config_error(
                f"start_date '{value}' is not a valid date-time; use the form 2024-01-31T00:00:00Z."
            ) from None
        if moment.tzinfo is None:  # the spec reads a start_date without an offset as UTC
            moment = moment.replace(tzinfo=timezone.utc)
        now = datetime.now(timezone.utc)
        if not self.EARLIEST <= moment <= now:
            raise config_error(
                f"start_date '{value}' is outside the accepted range, from {self.EARLIEST:%Y-%m-%dT%H:%M:%SZ} "
                f"to now ({now:%Y-%m-%dT%H:%M:%SZ}); leave it empty to replicate everything."
            )


def config_error(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.config_error
    )


# Brightpearl's token endpoint answers within a second; these bound one that accepts the connection
# and never answers, or trickles its answer (the CDK's refresh would wait forever).
TOKEN_REQUEST_TIMEOUT_SECONDS = (10, 20)  # (to connect, between two bytes of the answer)
TOKEN_ANSWER_SECONDS = 30  # for the whole answer
TOKEN_ANSWER_MAX_BYTES = 64 * 1024  # a real answer is under 500 bytes
TOKEN_REQUEST_ATTEMPTS = 3
# Brightpearl's access tokens live 7 days. A lifetime outside (0, 31 days] is a broken answer; the
# token is then taken to last an hour, as the CDK assumes when an answer gives none.
MAX_TOKEN_LIFETIME = timedelta(days=31)
DEFAULT_TOKEN_LIFETIME = timedelta(hours=1)


def post_token_request(url: str, form: Mapping[str, Any]) -> Tuple[int, Any]:
    """POSTs `form` to an OAuth token endpoint: the answer's status and JSON body (None if the body
    is not JSON). The request has timeouts, its answer is read within `TOKEN_ANSWER_SECONDS` and up
    to `TOKEN_ANSWER_MAX_BYTES`, and a redirect is never followed: it would take the client secret
    and the refresh token (or the authorization code) to wherever it points.

    Raises a transient AirbyteTracedException when the endpoint cannot be reached or its answer does
    not arrive in full, and a config error naming the target host when it redirects.
    """
    try:
        with requests.post(url, data=form, timeout=TOKEN_REQUEST_TIMEOUT_SECONDS, allow_redirects=False,
                           stream=True) as response:
            body = _bounded_token_answer(response, url)
    except requests.RequestException as error:
        raise _token_endpoint_trouble(url, f"could not be reached ({type(error).__name__})") from None
    status = response.status_code
    if 300 <= status < 400:
        target = urlsplit(response.headers.get("Location", "")).hostname
        raise config_error(
            f"The OAuth token endpoint {url} answered HTTP {status}, a redirect to "
            f"{repr(target[:100]) if target else 'another path'}, which is not followed: it would take the client "
            "secret and refresh token there. Check the OAuth server setting (credentials.oauth_host)."
        )
    try:
        return status, orjson.loads(body)
    except orjson.JSONDecodeError:
        return status, None


def _bounded_token_answer(response: requests.Response, url: str) -> bytes:
    deadline = time.monotonic() + TOKEN_ANSWER_SECONDS
    body = bytearray()
    for chunk in response.iter_content(chunk_size=4096):
        body += chunk
        if len(body) > TOKEN_ANSWER_MAX_BYTES:
            raise _token_endpoint_trouble(url, f"sent an answer larger than {TOKEN_ANSWER_MAX_BYTES // 1024} KiB")
        if time.monotonic() > deadline:
            raise _token_endpoint_trouble(url, f"did not send its answer within {TOKEN_ANSWER_SECONDS} s")
    return bytes(body)


def _token_endpoint_trouble(url: str, what_happened: str) -> AirbyteTracedException:
    message = f"The OAuth token endpoint {url} {what_happened}. This is usually temporary: try again."
    return AirbyteTracedException(message=message, internal_message=message,
                                  failure_type=FailureType.transient_error)


@dataclass(frozen=True)
class TokenAnswer:
    """What may be saved from a token endpoint's 200 answer, each field checked."""

    access_token: str
    refresh_token: Optional[str]  # None: absent or unusable, so the stored one stays
    lifetime: Optional[timedelta]  # None: absent or implausible
    api_domain: Optional[str]  # as given; the `oauth` command checks it before saving it

    @classmethod
    def from_body(cls, body: Any, url: str) -> "TokenAnswer":
        """Raises a transient error when `body` holds no usable access token: nothing is saved then."""
        fields = body if isinstance(body, Mapping) else {}
        access_token = _usable_token(fields.get("access_token"))
        if access_token is None:
            raise _token_endpoint_trouble(url, "answered without an access token, so nothing was saved")
        refresh_token = _usable_token(fields.get("refresh_token"))
        add_to_secrets(access_token)
        if refresh_token:
            add_to_secrets(refresh_token)
        api_domain = fields.get("api_domain")
        return cls(access_token, refresh_token, _token_lifetime(fields.get("expires_in")),
                   api_domain.strip() if isinstance(api_domain, str) and api_domain.strip() else None)


def _usable_token(value: Any) -> Optional[str]:
    token = value.strip() if isinstance(value, str) else ""
    return token if token and HEADER_VALUE.fullmatch(token) else None


def _token_lifetime(expires_in: Any) -> Optional[timedelta]:
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float, str)):
        return None
    try:
        seconds = float(expires_in)
    except ValueError:
        return None
    # Also false for NaN and infinity.
    return timedelta(seconds=seconds) if 0 < seconds <= MAX_TOKEN_LIFETIME.total_seconds() else None


@dataclass(eq=False, repr=False)
class BrightpearlOAuthAuthenticator(DeclarativeSingleUseRefreshTokenOauth2Authenticator):
    """The CDK's `OAuthAuthenticator` with a `refresh_token_updater` (the client ID and secret, the
    tokens and their expiry read from `credentials`, refreshed ones written back there and sent out
    as a CONTROL message), with a token request and answer that can be trusted:

    - the POST goes through `post_token_request` (timeouts, a bounded answer, no redirect followed),
      at most `TOKEN_REQUEST_ATTEMPTS` times: the CDK's has no timeout, follows redirects with the
      client secret and refresh token, and retries for five minutes;
    - nothing is saved from an answer without a usable access token (the CDK saves `null`, and
      every later run is refused); the refresh token is replaced only by a non-empty one (the CDK
      saves an empty one); an absent or implausible `expires_in` counts as an hour (the CDK crashes
      on `"soon"`, or saves an expiry already past).

    The manifest's `OAuthAuthenticator` has no setting for any of this.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    token_refresh_endpoint: str = ""
    refresh_token_error_status_codes: List[int] = dataclass_field(default_factory=list)
    refresh_token_error_key: str = ""
    refresh_token_error_values: List[str] = dataclass_field(default_factory=list)

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__init__(
            self.config,
            InterpolatedString.create(self.token_refresh_endpoint, parameters=parameters or {}).eval(self.config),
            refresh_token_error_status_codes=tuple(self.refresh_token_error_status_codes),
            refresh_token_error_key=self.refresh_token_error_key,
            refresh_token_error_values=tuple(self.refresh_token_error_values),
        )

    def get_token_expiry_date(self) -> AirbyteDateTime:
        """The stored expiry; one that is not a date-time (a hand-edited config) counts as passed, so
        the token is refreshed and a good expiry saved, where the CDK crashes."""
        try:
            return super().get_token_expiry_date()
        except ValueError:
            return ab_datetime_now() - timedelta(days=1)

    def refresh_access_token(self) -> Tuple[str, AirbyteDateTime, Optional[str]]:
        answer = TokenAnswer.from_body(self._make_handled_request(), self.get_token_refresh_endpoint())
        if answer.lifetime is None:
            LOGGER.warning("The OAuth token answer gave no plausible expires_in: the new access token is taken "
                           f"to last {DEFAULT_TOKEN_LIFETIME.total_seconds() / 3600:.0f} h.")
        return answer.access_token, ab_datetime_now() + (answer.lifetime or DEFAULT_TOKEN_LIFETIME), answer.refresh_token

    @backoff.on_exception(
        backoff.expo,
        AirbyteTracedException,
        max_tries=TOKEN_REQUEST_ATTEMPTS,
        giveup=lambda error: error.failure_type != FailureType.transient_error,
        logger=None,  # a failure that is not retried is raised, and says what happened itself
        on_backoff=lambda details: LOGGER.info(
            f"{details['exception'].message} Trying again in {details['wait']:.1f} s."
        ),
    )
    def _make_handled_request(self) -> Any:
        url = self.get_token_refresh_endpoint()
        status, body = post_token_request(url, self.build_refresh_request_body())
        if status == 200:
            return body
        if status == 429 or status >= 500:
            raise _token_endpoint_trouble(url, f"answered HTTP {status}")
        error = body.get(self._refresh_token_error_key) if isinstance(body, Mapping) else None
        if status in self._refresh_token_error_status_codes and error in self._refresh_token_error_values:
            raise config_error(
                f"Brightpearl refused to refresh the OAuth token of app '{self.get_client_id()}' ({error}): the "
                "refresh token has expired, been revoked or been used already, or the client secret is wrong. "
                "Re-authenticate in the connector settings (or run `source-brightpearl oauth` again)."
            )
        raise config_error(
            f"The OAuth token endpoint {url} answered HTTP {status}. Check the OAuth server setting "
            "(credentials.oauth_host) and the account code."
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


class BrightpearlBudgetPacer(APIBudget):
    """Paces every request of the account on Brightpearl's own budget headers, so the sync never
    spends the last `reserve` calls of the rolling minute that the account's other apps (shop,
    shipping, ERP) share with it.

    It keeps an estimate of the calls left: each response's `brightpearl-requests-remaining` resets
    it, and each request sent takes one off, so threads released together cannot overspend it. Once
    the estimate is down to the reserve, requests go one at a time: the first when
    `brightpearl-next-throttle-period` (milliseconds until the oldest call leaves Brightpearl's
    rolling minute) has passed, each next one `SPACING_SECONDS` later unless an answer says more
    calls were freed. The manifest's `HTTPAPIBudget` cannot do this: its policies adopt the server's
    remaining count as their own budget (no reserve below it) and its reset header must be absolute
    epoch seconds. The HTTP client calls `acquire_call` before and `update_from_response` after each
    request that reaches the network (cache hits do neither), so the source installs one instance
    for all requesters.
    """

    # Under the 0.3 s in which Brightpearl frees a call at a steady 200 a minute, so requests at the
    # reserve keep up with the freed calls; the reserve absorbs the small overshoot.
    SPACING_SECONDS = 0.25

    def __init__(self, reserve: int) -> None:
        super().__init__(policies=[])
        self.reserve = reserve
        self._lock = threading.Lock()
        self._remaining: Optional[int] = None
        self._resume_at = 0.0

    def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        with self._lock:
            wait = self._wait_for_a_call()
        if wait > 0:
            log = _LOGGER.info if wait >= 5 else _LOGGER.debug
            log(f"Brightpearl budget down to its reserve of {self.reserve} calls; waiting {wait:.1f} s.")
            time.sleep(wait)

    def _wait_for_a_call(self) -> float:
        now = time.monotonic()
        if self._remaining is None or self._remaining > self.reserve:
            if self._remaining is not None:
                self._remaining -= 1
            return 0.0
        go_at = max(now, self._resume_at)
        self._resume_at = go_at + self.SPACING_SECONDS
        return go_at - now

    def update_from_response(self, request: Any, response: Any) -> None:
        headers = getattr(response, "headers", None) or {}
        try:
            remaining = int(headers[REQUESTS_REMAINING_HEADER])
            period_seconds = float(headers[THROTTLE_PERIOD_HEADER]) / 1000
        except (KeyError, ValueError):
            return
        with self._lock:
            self._remaining = remaining
            if remaining <= self.reserve:
                self._resume_at = time.monotonic() + period_seconds


_LOGGER = logging.getLogger("airbyte")


class IdSetRejected(Exception):
    """Brightpearl refused a whole ID-set GET (400), typically because of one bad record in it."""


@dataclass
class BrightpearlErrorHandler(ErrorHandler):
    """The manifest's `error_handler`, plus two answers that depend on more than the response body:

    - 401 "Authorization token expired" to an account or staff token (which nothing can refresh)
      fails at once as a config error saying what to do, where `error_handler` asks for an OAuth
      refresh that such a token cannot have and retries for minutes;
    - 400 to an ID-set GET is handed back to `BrightpearlIdSetRetriever` (IGNORE), which splits the set.

    A response filter cannot do either: its `predicate` sees neither the config nor the status
    code, and `http_codes: [400]` would also ignore a 400 to a search, losing its rows silently.
    """

    error_handler: DefaultErrorHandler
    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._is_id_set_get = bool((parameters or {}).get("id_set_get"))

    @property
    def max_retries(self) -> Optional[int]:
        return self.error_handler.max_retries

    @property
    def max_time(self) -> Optional[int]:
        return self.error_handler.max_time

    @property
    def backoff_strategies(self) -> Optional[List[BackoffStrategy]]:
        return self.error_handler.backoff_strategies

    def interpret_response(
        self, response_or_exception: Optional[Union[requests.Response, Exception]]
    ) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response):
            status = response_or_exception.status_code
            if response_or_exception.ok:
                # Every filter of `error_handler` would parse the body again (a 200-order ID set five
                # times over) and no 2xx can be an error: a 200 whose text says "too many requests"
                # (an order note) must not be retried as throttling.
                return SUCCESS_RESOLUTION
            if status == 400 and self._is_id_set_get:
                return ErrorResolution(
                    response_action=ResponseAction.IGNORE,
                    failure_type=FailureType.system_error,
                    error_message="Brightpearl rejected an ID set; reading it again in halves to find the bad record.",
                )
            if status == 401 and TOKEN_EXPIRED_TEXT in response_or_exception.text.lower():
                auth_type = (self.config.get("credentials") or {}).get("auth_type")
                if auth_type in NON_REFRESHABLE_AUTH_TYPES:
                    return ErrorResolution(
                        response_action=ResponseAction.FAIL,
                        failure_type=FailureType.config_error,
                        error_message=(
                            f"Brightpearl says the {auth_type.replace('_', ' ')} of app "
                            f"'{self.config['credentials'].get('app_ref')}' on account '{self.config.get('account_code')}' "
                            "has expired. It cannot be renewed automatically: create a new one (Settings > "
                            "App Store > Private apps, or the staff member's token) and put it in the connector "
                            "settings, or switch to OAuth, whose tokens are refreshed."
                        ),
                    )
        return self.error_handler.interpret_response(response_or_exception)


@dataclass
class BrightpearlIdSetRetriever(SimpleRetriever):
    """Reads one batch of IDs with one ID-set GET; when Brightpearl rejects the whole set (one bad
    record fails all of it), reads each half again, down to the bad IDs, which are skipped with a
    warning that names them while every other record still arrives.

    Finding the bad ID takes new, smaller requests, which no response filter or backoff can make.
    Its requester's `BrightpearlErrorHandler` lets the 400 through to it.

    `cached_responses_of` names another stream whose GETs this one reads from the response cache
    (`order_rows` reads those of `orders`): the CDK keeps a requester's cached responses in a file
    named after the requester, which a custom retriever's requester cannot rename in the manifest.
    """

    cached_responses_of: Optional[str] = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        if self.cached_responses_of:
            self.requester.name = self.cached_responses_of
            self.requester.__post_init__(self.requester._parameters)  # builds its HttpClient again

    def read_records(
        self, records_schema: Mapping[str, Any], stream_slice: Optional[StreamSlice] = None
    ) -> Iterable[Any]:
        assert stream_slice is not None, "an ID-set GET needs a slice of IDs"
        for record in self._read_id_set(records_schema, stream_slice, list(stream_slice.partition["ids"])):
            # Records must point to the partition the cursor knows, not to the half they came from.
            yield self._reassociate_with_original_slice(record, stream_slice)

    def _read_id_set(self, records_schema: Mapping[str, Any], stream_slice: StreamSlice, ids: List[Any]) -> Iterable[Any]:
        part = StreamSlice(
            partition={**stream_slice.partition, "ids": ids},
            cursor_slice=stream_slice.cursor_slice,
            extra_fields=stream_slice.extra_fields,
        )
        try:
            # One request: a rejection comes before any record, so nothing is emitted twice.
            records = list(super().read_records(records_schema, part))
        except IdSetRejected:
            if len(ids) == 1:
                _LOGGER.warning(
                    f"Skipping {self.name} record {ids[0]}: Brightpearl fails every GET that includes it (HTTP 400)."
                )
                return
            middle = len(ids) // 2
            yield from self._read_id_set(records_schema, stream_slice, ids[:middle])
            yield from self._read_id_set(records_schema, stream_slice, ids[middle:])
            return
        yield from records

    def _parse_response(
        self,
        response: Optional[requests.Response],
        records_schema: Mapping[str, Any],
        stream_slice: Optional[StreamSlice] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Record]:
        if response is not None and response.status_code == 400:
            raise IdSetRejected()
        yield from super()._parse_response(response, records_schema, stream_slice, next_page_token)


@dataclass
class BrightpearlParentRowsRetriever(SimpleRetriever):
    """Reads a child's rows out of its parent record (`lazy_read_pointer`), on every sync, without
    a request of its own.

    The CDK reads the handed-over rows only while the stream has no state; once it has one (an
    incremental cursor, or the state of a full-refresh stream that the platform carries into a
    retried attempt) it requests the child's own URL, one call per parent record. Brightpearl has
    no such URL for order rows, price lists or availability rows (they come only inside their
    parent), so those syncs would fail.
    """

    def _read_pages(
        self,
        records_generator_fn: Callable[[Optional[requests.Response]], Iterable[Record]],
        stream_slice: StreamSlice,
    ) -> Iterable[Record]:
        yield from records_generator_fn(stream_slice.extra_fields["child_response"])
