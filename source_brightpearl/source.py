"""The Brightpearl source: the declarative manifest plus a connection check with precise messages."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import sys
import tempfile
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from queue import Full, Queue
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteConnectionStatus,
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStream,
    AirbyteStreamState,
    AirbyteStreamStatus,
    ConfiguredAirbyteCatalog,
    FailureType,
    Level,
    Status,
    SyncMode,
    TraceType,
    Type,
)
from airbyte_cdk.sources.concurrent_source.thread_pool_manager import ThreadPoolManager
from airbyte_cdk.sources.declarative.concurrent_declarative_source import get_declarative_component_schema
from airbyte_cdk.sources.declarative.datetime.datetime_parser import DatetimeParser
from airbyte_cdk.sources.declarative.interpolation import InterpolatedString
from airbyte_cdk.sources.declarative.models import declarative_component_schema
from airbyte_cdk.sources.declarative.models.declarative_component_schema import (
    HttpRequester as HttpRequesterModel,
)
from airbyte_cdk.sources.declarative.parsers.custom_code_compiler import SDM_COMPONENTS_MODULE_NAME
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import (
    ModelToComponentFactory,
)
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.streams.concurrent.helpers import get_primary_key_from_stream
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.utils.datetime_helpers import ab_datetime_now, ab_datetime_try_parse
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_brightpearl import components
from source_brightpearl.components import config_error
from source_brightpearl.config_errors import close_matches, quote_value

CHECK_REQUESTER_NAME = "check_connection"
# The internal message of the error the CDK's concurrent read ends with when streams failed.
FAILED_STREAMS_SUMMARY = "Concurrent read failure"
# `check` makes one small call, and a host that never answers must be reported within half a minute,
# whatever the (longer) request timeout of a read.
CHECK_TIMEOUT_SECONDS = 15
# A failed read ends with the most serious class among its streams' failures: one that needs the
# user (a config error) outranks a bug, which outranks what a retry may cure.
FAILURE_TYPES_BY_SEVERITY = (FailureType.config_error, FailureType.system_error, FailureType.transient_error)
# Records with a cursor in the future named in warnings, per stream.
FUTURE_RECORDS_NAMED = 10
# How far a cursor may lie ahead of this host's clock before it is called a date in the future: a
# record changed during the sync, on a server whose clock runs a little ahead, is not a typo.
CLOCK_SKEW = timedelta(minutes=5)
# Items (records, mostly) waiting between the threads that read them and the main thread, which
# writes them out and so sets a read's pace; the CDK allows 10,000 (see SourceBrightpearl.__init__).
RECORDS_IN_FLIGHT = 1000
# Partitions (ID sets, mostly) made and not yet read, those on the queue included. The CDK allows 10,000, so a
# search's ID sets all wait at once (1,000 at 100k orders for orders and order_rows, with the futures of
# those read, which it drops only past that bound: 12 MB of a read's peak, bench/PROFILE.md); fifty keep
# both reading threads busy. The thread generating them waits meanwhile.
PARTITIONS_IN_FLIGHT = 50
# How soon a reading thread waiting to hand a record over notices that the main thread has left the read.
HAND_OVER_POLL_SECONDS = 0.5


class ReadAbandoned(Exception):
    """A reading thread's hand-over once the main thread has left the read (`PartitionsInFlight.abandon`)."""


class PartitionsInFlight(ThreadPoolManager):
    """The CDK's thread pool, with a bound on partitions that holds when the main thread lags, and with
    threads that end when the main thread leaves a read before its end.

    The bound: the thread generating partitions checks it against the futures submitted, but the partitions
    it puts on the queue wait there, behind records, for the main thread to submit them: when the main thread
    lags, more than the bound wait (115 of 50 were seen on a loaded machine). Here each partition counts from
    the check that lets it onto the queue, as a future of its own that its submission resolves.

    The end: once the main thread has left (its consumer stopped reading, as a closed stdout makes it; an
    error raised while it handled a message), nothing takes a partition or empties the queue, so the thread
    generating partitions would wait on the bound and the reading threads on a full queue for ever, and the
    interpreter's exit waits for them. `abandon` cancels the partitions not started, and then each thread's
    next hand-over raises ReadAbandoned, ending its task: a check of the bound, or a put on the queue (one
    already waiting notices within HAND_OVER_POLL_SECONDS). A thread in a request ends after it, within its
    timeouts and retries. The CDK builds the queue in its constructor and hands it to every reader, so the
    queue's own `put` takes the check. The main thread's puts, which never block, are the queue's."""

    def __init__(self, pool: ThreadPoolManager, bound: int, queue: Queue) -> None:
        super().__init__(pool._threadpool, pool._logger, bound)
        self._queued: deque[Future[None]] = deque()
        self._abandoned = threading.Event()
        self._put_on_queue = queue.put
        queue.put = self._put_unless_abandoned

    def abandon(self) -> None:
        self._abandoned.set()
        self._threadpool.shutdown(wait=False, cancel_futures=True)

    def prune_to_validate_has_reached_futures_limit(self) -> bool:
        if self._abandoned.is_set():
            raise ReadAbandoned
        if super().prune_to_validate_has_reached_futures_limit():
            return True
        queued: Future[None] = Future()
        with self._lock:
            self._queued.append(queued)
            self._futures.append(queued)
        return False

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        # At once, so that no check can find the queued partition's future gone and the real one not yet there.
        with self._lock:
            if args and isinstance(args[0], Partition) and self._queued:
                self._queued.popleft().set_result(None)
            super().submit(function, *args)

    def _put_unless_abandoned(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if not block or timeout is not None:
            return self._put_on_queue(item, block, timeout)
        while not self._abandoned.is_set():
            try:  # not `suppress`: this runs for every record, and a context manager costs more than a try
                return self._put_on_queue(item, timeout=HAND_OVER_POLL_SECONDS)
            except Full:
                continue
        raise ReadAbandoned


class ResolvedManifestCache:
    """The manifest as the CDK resolves it (`$ref`s, `$parameters`, types) after it passed the CDK's
    validation: the two take over a second of CPU at every start, `spec` included, for a result
    that depends on nothing but the manifest's text, the request timeout put into it, the CDK and
    this file. Each result is a JSON file named by a hash of those, so one made from anything else
    is never read; a file that cannot be read or written counts as absent, and the manifest is then
    resolved and validated as usual."""

    PREFIX = "resolved-manifest-"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @staticmethod
    def key(manifest_text: bytes, request_timeout: float | None) -> str:
        sources = hashlib.sha256(manifest_text)
        sources.update(version("airbyte-cdk").encode())
        sources.update(Path(__file__).read_bytes())
        return f"{sources.hexdigest()[:32]}-{'default' if request_timeout is None else repr(request_timeout)}"

    def path(self, key: str) -> Path:
        return self.directory / f"{self.PREFIX}{key}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        try:
            manifest = orjson.loads(self.path(key).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return manifest if isinstance(manifest, dict) else None

    def store(self, key: str, manifest: Mapping[str, Any]) -> None:
        """Writes the manifest unless JSON would not give it back as it is (a YAML date, say);
        replaces the files of other sources' hashes (older manifests or CDKs)."""
        try:
            text = orjson.dumps(manifest)
        except TypeError:
            return
        if orjson.loads(text) != manifest:
            return
        sources = key.split("-")[0]
        unfinished = None
        try:
            self.directory.mkdir(exist_ok=True)
            # Another process may be reading or writing the same name: it sees a whole file or none.
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=f".{self.PREFIX}", delete=False) as written:
                unfinished = written.name
                written.write(text)
            # Readable by the user an image runs as, whoever built it; it holds nothing secret.
            os.chmod(unfinished, 0o644)
            os.replace(unfinished, self.path(key))
            unfinished = None
            for other in self.directory.glob(f"{self.PREFIX}*.json"):
                if not other.name.startswith(f"{self.PREFIX}{sources}-"):
                    other.unlink(missing_ok=True)
        except OSError:
            pass
        finally:
            if unfinished:
                with suppress(OSError):
                    os.unlink(unfinished)


class SourceBrightpearl(YamlDeclarativeSource):
    # Beside the package's bytecode, and like it written by the first run that may write there (the
    # image's build runs `spec` for that).
    resolved_manifests = ResolvedManifestCache(Path(__file__).with_name("__pycache__"))

    def __init__(
        self,
        catalog: ConfiguredAirbyteCatalog | None = None,
        config: Mapping[str, Any] | None = None,
        state: list[AirbyteStateMessage] | None = None,
        **kwargs: Any,
    ) -> None:
        # The config is checked against the spec only when a command runs, before any request, so
        # until then its values may be any JSON: a wrong one is reported then, and ignored here.
        # (Kept before the parent's constructor, which reads the manifest.)
        self._configured_request_timeout = _positive_number((config or {}).get("request_timeout_seconds"))
        self._manifest_from_cache = False
        self._resolved_manifest: dict[str, Any] | None = None
        # The manifest's `class_name`s use the module name that Airbyte's declarative runtime gives an injected
        # components.py, so one manifest runs on both; here that name is the package's module. Set at each
        # build: a manifest source built earlier in this process (PyAirbyte) may have registered its own.
        sys.modules[SDM_COMPONENTS_MODULE_NAME] = components
        # The package's manifest by absolute path: the CDK opens a relative one in the current directory first.
        super().__init__(
            path_to_yaml=str(Path(__file__).with_name("manifest.yaml")),
            catalog=catalog,
            config=config,
            state=state,
            **kwargs,
        )
        # 10,000 parsed orders waiting for the main thread are 20 MB of a read's peak memory
        # (bench/PROFILE.md); a thousand keep the reading threads as far ahead as they need to be.
        self._concurrent_source._queue.maxsize = RECORDS_IN_FLIGHT
        self._concurrent_source._threadpool = PartitionsInFlight(
            self._concurrent_source._threadpool, PARTITIONS_IN_FLIGHT, self._concurrent_source._queue
        )
        self.logger.addFilter(CONFIG_ERROR_TRACEBACK_FILTER)
        self._cursors = StreamCursors(self.resolved_manifest, self._config)
        self._incoming_state_warnings = self._clamp_incoming_state(state or [])

    def configure(self, config: Mapping[str, Any], temp_dir: str) -> Mapping[str, Any]:
        """A source built without a config (as `airbyte-cdk connector test` builds one, handing the config
        to each command only) is built again with the command's: a declarative source's streams, budget and
        cursors come from the config its constructor was given."""
        if not self._config and config:
            self.__init__(config=config)
        return super().configure(config, temp_dir)

    def _clamp_incoming_state(self, state: list[AirbyteStateMessage]) -> list[str]:
        """Checks each stream's `--state` cursors before the CDK reads them (an odd format would end
        in a traceback there) and moves a cursor in the future back to now (from there every later
        sync would find nothing new); returns a warning for each one moved."""
        now = ab_datetime_now()
        warnings: list[str] = []
        for message in state:
            if not message.stream:
                continue
            descriptor = message.stream.stream_descriptor
            stream_state = self._connector_state_manager.get_stream_state(descriptor.name, descriptor.namespace)
            try:
                clamped, moved = self._cursors.bounded(stream_state, now)
            except ValueError as error:
                raise config_error(
                    f"The state of stream '{descriptor.name}' has {error}, which is not a date-time like "
                    f"{self._cursors.example}. Correct it, or leave that stream out of the state to read it in full."
                ) from None
            if moved:
                self._connector_state_manager.update_state_for_stream(descriptor.name, descriptor.namespace, clamped)
                warnings += [
                    f"The state of stream '{descriptor.name}' has {path} {value}, which is in the future; "
                    f"reading from now ({self._cursors.format(now)}) instead."
                    for path, value, _ in moved
                ]
        return warnings

    def _read_and_parse_yaml_file(self, path_to_yaml_file: str) -> dict[str, Any]:
        """The manifest, with the config's `request_timeout_seconds` (if any) as every requester's read
        timeout: the CDK takes an HttpRequester's timeouts as plain numbers, never from the config.

        Already resolved and validated when `resolved_manifests` holds it (see `_pre_process_manifest`)."""
        manifest_text = Path(path_to_yaml_file).read_bytes()
        self._manifest_key = self.resolved_manifests.key(manifest_text, self._configured_request_timeout)
        resolved = self.resolved_manifests.load(self._manifest_key)
        if resolved is not None:
            self._manifest_from_cache = True
            return resolved
        manifest = self._parse(manifest_text.decode())
        if self._configured_request_timeout is not None:
            manifest["definitions"]["base_requester"]["read_timeout_in_seconds"] = self._configured_request_timeout
        return manifest

    def _pre_process_manifest(self, manifest: dict[str, Any]) -> dict[str, Any]:
        if self._manifest_from_cache:
            return manifest
        return super()._pre_process_manifest(manifest)

    @property
    def _source_config(self) -> dict[str, Any]:
        """The resolved manifest the CDK builds streams from, read again (from `resolved_manifests`
        when it holds it) after a read has let it go (`_read_selected_streams`)."""
        if self._resolved_manifest is None:
            self._resolved_manifest = self._pre_process_manifest(self._read_and_parse_yaml_file(self._path_to_yaml))
            self._post_process_manifest()
        return self._resolved_manifest

    @_source_config.setter
    def _source_config(self, manifest: dict[str, Any] | None) -> None:
        self._resolved_manifest = manifest

    @property
    def _declarative_component_schema(self) -> dict[str, Any]:
        """The CDK's component schema, loaded when asked for: the CDK's constructor loads it and keeps it for the
        life of the source (1 MB of a read's memory), but only a manifest not yet stored is checked against it."""
        return get_declarative_component_schema()

    @_declarative_component_schema.setter
    def _declarative_component_schema(self, _: dict[str, Any]) -> None:
        pass

    def _validate_source(self) -> None:
        """The CDK's validation of the resolved manifest against its component schema, once per
        version of the manifest, the CDK and this file: the manifest is stored once it passes."""
        if self._manifest_from_cache:
            return
        super()._validate_source()
        self.resolved_manifests.store(self._manifest_key, self._source_config)

    @property
    def _request_timeout_seconds(self) -> float:
        return self.resolved_manifest["definitions"]["base_requester"]["read_timeout_in_seconds"]

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        """The declarative read, plus:

        - one log line per incremental stream when it is done: its new cursor and how far that is
          behind now (how stale the destination is). The concurrent reader sends a stream's final
          state just after its COMPLETE status, so the line follows that state;
        - no state past the sync's start: a record whose cursor lies in the future (a mistyped date)
          is delivered with a warning, but a state there would make every later sync skip what
          changes until that date, so each state's cursors are capped at the start.
        """
        self._check_catalog_streams(catalog)
        sync_start = ab_datetime_now()
        for warning in self._incoming_state_warnings:
            yield _log(Level.WARN, warning)
        future_records: dict[str, int] = {}
        capped_streams: set[str] = set()
        cursors: dict[str, str] = {}
        completed: list[str] = []
        for message in _with_plain_stream_errors(self._read_selected_streams(logger, config, catalog, state)):
            if message.type == Type.STATE and message.state.stream:
                warning = self._cap_at_start(message.state.stream, sync_start, capped_streams)
                if warning:
                    yield _log(Level.WARN, warning)
            yield message
            if message.type == Type.RECORD:
                warning = self._future_record_warning(message.record, sync_start, future_records)
                if warning:
                    yield _log(Level.WARN, warning)
            elif message.type == Type.STATE and message.state.stream:
                name = message.state.stream.stream_descriptor.name
                stream_state = message.state.stream.stream_state
                cursor = _cursor_value(stream_state.__dict__ if stream_state else {})
                if cursor:
                    cursors[name] = cursor
                if name in completed and name in cursors:
                    completed.remove(name)
                    yield _cursor_lag_log(name, cursors[name])
            elif message.type == Type.TRACE and message.trace.type == TraceType.STREAM_STATUS:
                status = message.trace.stream_status
                if status.status == AirbyteStreamStatus.COMPLETE:
                    completed.append(status.stream_descriptor.name)
        for name in completed:
            if name in cursors:
                yield _cursor_lag_log(name, cursors[name])

    def _read_selected_streams(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None,
    ) -> Iterator[AirbyteMessage]:
        """The CDK's concurrent read, building only the streams the catalog selects (each with its
        parents, which the manifest inlines): the CDK's `read` builds all 56, about a second of CPU
        before the first request when a catalog selects one. `_check_catalog_streams` has made sure
        that each name is one of the manifest's streams. Left before its end, it ends its threads
        (`abandon_read`)."""
        try:
            streams = self._streams_by_name([configured.stream.name for configured in catalog.streams])
            if streams is None:
                yield from super().read(logger, config, catalog, state)
                return
            # Built: the resolved manifest (7 MB of dicts for every stream) would otherwise be held all
            # through the read, 15 MB of its peak memory at 100k orders (bench/PROFILE.md).
            self._source_config = None
            yield from self._concurrent_source.read(self._select_streams(streams=streams, configured_catalog=catalog))
        finally:
            self.abandon_read()

    def abandon_read(self) -> None:
        """Ends the threads of a read the main thread has left or is leaving (see PartitionsInFlight); after a
        read's end there are none left. A source reads once: the CDK shuts its thread pool down after a read."""
        self._concurrent_source._threadpool.abandon()

    def _initialize_cache_for_parent_streams(
        self, stream_configs: list[dict[str, Any]], all_stream_configs: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The CDK's response-cache settings for the streams about to be built (its own copy of their
        definitions), kept only where another of them reads the cache (`_cache_only_shared_responses`)."""
        return _cache_only_shared_responses(
            super()._initialize_cache_for_parent_streams(stream_configs, all_stream_configs=all_stream_configs)
        )

    def _cap_at_start(self, state: AirbyteStreamState, sync_start: datetime, capped_streams: set[str]) -> str | None:
        """Caps a stream state's cursors at the sync's start; a warning the first time a stream's cap
        hides a date in the future."""
        capped, moved = self._cursors.bounded(state.stream_state.__dict__ if state.stream_state else {}, sync_start)
        if moved:
            state.stream_state = AirbyteStateBlob(capped)
        future = [value for _, value, moment in moved if moment > datetime.now(UTC) + CLOCK_SKEW]
        name = state.stream_descriptor.name
        if not future or name in capped_streams:
            return None
        capped_streams.add(name)
        return (
            f"Stream '{name}' state stops at this sync's start ({self._cursors.format(sync_start)}), not at "
            f"{future[0]}: changes made after the start are read by the next sync."
        )

    def _future_record_warning(
        self, record: AirbyteRecordMessage, sync_start: datetime, future_records: dict[str, int]
    ) -> str | None:
        """A warning for a record whose cursor lies in the future (the first few of each stream)."""
        found = self._cursors.beyond(record.stream, record.data, datetime.now(UTC) + CLOCK_SKEW)
        if found is None:
            return None
        record_id, field, value = found
        seen = future_records[record.stream] = future_records.get(record.stream, 0) + 1
        if seen > FUTURE_RECORDS_NAMED:
            return None
        more = " Further ones are not listed." if seen == FUTURE_RECORDS_NAMED else ""
        return (
            f"Stream '{record.stream}' record {record_id} has {field} {value}, in the future: it is delivered, "
            f"and the stream's state stops at this sync's start ({self._cursors.format(sync_start)}).{more}"
        )

    def _check_catalog_streams(self, catalog: ConfiguredAirbyteCatalog) -> None:
        """Fails on a catalog that selects nothing or names a stream this connector lacks: the CDK
        would mark such a stream INCOMPLETE and exit 0, so a typo would silently sync nothing."""
        known = [stream["name"] for stream in self.resolved_manifest["streams"]]
        if not catalog.streams:
            raise config_error("The catalog selects no streams; select at least one stream from discover's output.")
        unknown = [configured.stream.name for configured in catalog.streams if configured.stream.name not in known]
        if unknown:
            described = "; ".join(f"'{name}'{close_matches(name, known)}" for name in unknown)
            raise config_error(
                f"The catalog names streams this connector does not have: {described}. "
                "Run discover for the list of streams."
            )

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        """The CDK's catalog, made from each stream's resolved definition without building the stream:
        the CDK's `discover` builds every stream (retrievers, requesters with their response caches,
        cursors, inlined parents: about a second of CPU) to read a name, a schema, a primary key and a
        cursor field off each. Only the schema loaders are built, as some ask the account for its
        custom fields. `test_catalog_against_mock` holds the result to the CDK's, stream by stream."""
        self._prepare_for_stream_build()
        definitions = self._stream_configs(self._source_config)
        return AirbyteCatalog(streams=[self._catalog_stream(definition) for definition in definitions])

    def _catalog_stream(self, definition: Mapping[str, Any]) -> AirbyteStream:
        """What `DefaultStream.as_airbyte_stream` says of the stream the CDK's factory would build from `definition`."""
        loader = definition["schema_loader"]
        schema_loader = self._constructor.create_component(
            getattr(declarative_component_schema, loader["type"]), loader, self._config
        )
        stream = AirbyteStream(
            name=definition["name"],
            json_schema=dict(schema_loader.get_json_schema()),
            supported_sync_modes=[SyncMode.full_refresh],
            is_resumable=False,
            is_file_based=bool(definition.get("file_uploader")),
        )
        cursor_field = self._cursors.cursor_field(definition["name"])
        if cursor_field is not None:
            stream.source_defined_cursor = not definition["incremental_sync"].get("allow_catalog_defined_cursor_field")
            stream.is_resumable = True
            stream.supported_sync_modes.append(SyncMode.incremental)
            stream.default_cursor_field = [cursor_field]
        primary_key = get_primary_key_from_stream(definition.get("primary_key"))
        if primary_key:
            stream.source_defined_primary_key = [[key] for key in primary_key]
        return stream

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """One `GET integration-service/account-configuration`, sent once, whose answer must be the
        account's configuration.

        Replaces the manifest's stream check because that one retries throttling and network
        errors for minutes, reports every failure as "stream not available", and takes any 200 (a
        captive portal's page, a proxy's `{}`) for Brightpearl.
        """
        try:
            if self._spec_component:
                self._spec_component.validate_config(self._config)
            response = self._build_check_requester().send_request()
        except AirbyteTracedException as error:
            return _failed(self._describe_check_failure(error))
        if not _is_account_configuration(response):
            return _failed(
                f"{self._config.get('base_url')} does not answer like Brightpearl: {_describe_answer(response)} is "
                "not the account's configuration. Check the datacenter and api_domain settings, and any proxy or "
                "captive portal between this machine and Brightpearl."
            )
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    @property
    def _check_timeout_seconds(self) -> float:
        return min(self._request_timeout_seconds, CHECK_TIMEOUT_SECONDS)

    def _build_check_requester(self) -> Any:
        definition = {
            **self.resolved_manifest["definitions"]["account_configuration_requester"],
            "read_timeout_in_seconds": self._check_timeout_seconds,
        }
        # The check reports its outcome itself; the HTTP client's "retries exhausted" log line
        # would only add a stack trace to it.
        logging.getLogger(f"airbyte.HttpRequester.{CHECK_REQUESTER_NAME}").setLevel(logging.CRITICAL)
        factory = ModelToComponentFactory(disable_retries=True)
        return factory.create_component(HttpRequesterModel, definition, self._config, name=CHECK_REQUESTER_NAME)

    def _describe_check_failure(self, error: AirbyteTracedException) -> str:
        retried = _find_backoff_exception(error)
        if retried is None:
            return error.message or "The connection check failed."
        if retried.response is None:
            return (
                f"Could not connect to {self._config.get('base_url')}, or it did not answer within "
                f"{self._check_timeout_seconds:g} s. Check the datacenter "
                "(or api_domain) setting and that this host can reach Brightpearl."
            )
        response = retried.response
        if isinstance(response, requests.Response) and response.status_code in (429, 503):
            return str(retried) or (
                f"Brightpearl answered HTTP {response.status_code} (busy or throttled). Try again in a minute."
            )
        return str(retried) or error.message or "The connection check failed."


class _ConfigErrorWithoutTraceback(logging.Filter):
    """Drops the traceback the CDK logs with a stream's config error (a rejected token, an unknown
    account): its TRACE message says what to fix, and there is no code to debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, AirbyteTracedException) and error.failure_type == FailureType.config_error:
            record.exc_info, record.exc_text = None, None
        return True


CONFIG_ERROR_TRACEBACK_FILTER = _ConfigErrorWithoutTraceback()


def _with_plain_stream_errors(messages: Iterator[AirbyteMessage]) -> Iterator[AirbyteMessage]:
    """The read's messages, with a stream's config error sent without a stack trace, and the CDK's
    closing error for failed streams (which quotes each exception's internal repr) saying instead
    what each stream's error said."""
    failures: dict[str, list[str]] = {}
    failure_types: set[FailureType] = set()
    try:
        for message in messages:
            if message.type == Type.TRACE and message.trace.type == TraceType.ERROR:
                error = message.trace.error
                if error.failure_type == FailureType.config_error:
                    error.stack_trace = None
                stream = error.stream_descriptor.name if error.stream_descriptor else "(no stream)"
                failures.setdefault(error.message, []).append(stream)
                failure_types.add(error.failure_type or FailureType.system_error)
            yield message
    except AirbyteTracedException as summary:
        if summary.internal_message != FAILED_STREAMS_SUMMARY or not failures:
            raise
        described = " ".join(f"{', '.join(streams)}: {message}" for message, streams in failures.items())
        raise AirbyteTracedException(
            message=f"Streams failed. {described}",
            internal_message=summary.internal_message,
            # The CDK's summary is always a config_error; the platform retries a transient failure.
            failure_type=next(kind for kind in FAILURE_TYPES_BY_SEVERITY if kind in failure_types),
        ) from None


def _positive_number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def _is_account_configuration(response: requests.Response | None) -> bool:
    """Whether an answer is Brightpearl's `{"response": {"configuration": {...}}}` (brightpearl-api.md §1)."""
    try:
        body = orjson.loads(response.content) if response is not None else None
    except orjson.JSONDecodeError:
        return False
    answer = body.get("response") if isinstance(body, dict) else None
    configuration = answer.get("configuration") if isinstance(answer, dict) else None
    return isinstance(configuration, dict) and bool(configuration)


def _describe_answer(response: requests.Response | None) -> str:
    if response is None:
        return "the empty answer"
    content_type = response.headers.get("Content-Type") or "no content type"
    return f"its answer to {urlsplit(response.url).path} (HTTP {response.status_code}, {content_type})"


def _find_backoff_exception(error: BaseException) -> BaseBackoffException | None:
    """The retryable HTTP failure behind an AirbyteTracedException, if any."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, BaseBackoffException):
            return seen
        seen = getattr(seen, "_exception", None) or seen.__cause__ or seen.__context__
    return None


class StreamCursors:
    """The date-time cursors of the manifest's streams and of their hidden search parents: the keys
    that hold one in a state, the formats they are read in and written in, and each stream's
    cursor field and primary key (to name a record)."""

    def __init__(self, manifest: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        self._formats: dict[str, list[str]] = {}
        self._output_format = ""
        for definition in _datetime_cursor_definitions(manifest["streams"]):
            self._output_format = definition["datetime_format"]
            self._formats[self._field(definition, config)] = [
                *definition.get("cursor_datetime_formats", []),
                definition["datetime_format"],
            ]
        self._cursor_field_and_key = {
            stream["name"]: (self._field(stream["incremental_sync"], config), _key_fields(stream.get("primary_key")))
            for stream in manifest["streams"]
            if stream.get("incremental_sync")
        }
        self.example = self.format(datetime(2024, 1, 31, tzinfo=UTC))

    @staticmethod
    def _field(definition: Mapping[str, Any], config: Mapping[str, Any]) -> str:
        field = InterpolatedString.create(definition["cursor_field"], parameters=definition.get("$parameters", {}))
        return str(field.eval(config))

    def cursor_field(self, stream: str) -> str | None:
        return self._cursor_field_and_key[stream][0] if stream in self._cursor_field_and_key else None

    def format(self, moment: datetime) -> str:
        return DatetimeParser().format(moment.astimezone(UTC), self._output_format)

    def bounded(self, state: Any, limit: datetime, path: str = "") -> tuple[Any, list[tuple[str, str, datetime]]]:
        """`state` with each cursor later than `limit` replaced by `limit`, and the path, value and
        moment of each one replaced. A cursor in no format of its stream raises ValueError naming it."""
        moved: list[tuple[str, str, datetime]] = []
        if isinstance(state, Mapping):
            bounded_state = {}
            for key, value in state.items():
                where = f"{path}.{key}" if path else key
                if key in self._formats:
                    moment = self._parse(key, value)
                    if moment is None:
                        raise ValueError(f"{where} {quote_value(value)}")
                    if moment > limit:
                        moved.append((where, value, moment))
                        value = self.format(limit)
                else:
                    value, moved_inside = self.bounded(value, limit, where)
                    moved += moved_inside
                bounded_state[key] = value
            return bounded_state, moved
        if isinstance(state, list):
            items = [self.bounded(item, limit, f"{path}[{index}]") for index, item in enumerate(state)]
            return [item for item, _ in items], [each for _, moved_inside in items for each in moved_inside]
        return state, moved

    @staticmethod
    @functools.lru_cache(maxsize=4)
    def _day_before(day: date) -> str:
        """The ISO date before `day`: asked for each record, it changes once a day."""
        return (day - timedelta(days=1)).isoformat()

    def _parse(self, field: str, value: Any) -> datetime | None:
        for datetime_format in self._formats[field]:
            try:
                return DatetimeParser().parse(value, datetime_format)
            except (TypeError, ValueError):
                continue
        return None

    def beyond(self, stream: str, data: Mapping[str, Any], limit: datetime) -> tuple[str, str, str] | None:
        """The ID, cursor field and value of a record of `stream` whose cursor is later than `limit`."""
        if stream not in self._cursor_field_and_key:
            return None
        field, key_fields = self._cursor_field_and_key[stream]
        value = data.get(field)
        # Most cursors are days old: their date alone says so, without parsing them.
        if not isinstance(value, str) or value[:10] < self._day_before(limit.date()):
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) <= limit:
            return None
        return "/".join(str(data.get(key)) for key in key_fields), field, value


def _cache_only_shared_responses(stream_configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stream definitions, given `use_cache: false` on each stream's requester whose cached responses
    nothing else among them can read.

    The CDK caches every parent's responses, and the manifest the GETs that a sibling reads again
    (`cached_responses_of`), in SQLite files named after the requester. Saving each ID-set body there,
    and looking each request up first, was a tenth of a read of orders alone, which nothing reads
    again (bench/PROFILE.md). A response is read again only through a requester of the same name: a
    stream's requester is named after the stream (or the one it reads the cache of), a schema
    loader's after its `$parameters` name.
    """
    definitions, loader_requesters = [], []
    for config in stream_configs:
        _collect_requesters(config, definitions, loader_requesters)
    readers = Counter(_cache_name(definition) for definition in definitions)
    readers.update(requester.get("$parameters", {}).get("name") for requester in loader_requesters)
    for definition in definitions:
        if readers[_cache_name(definition)] == 1:
            definition["retriever"]["requester"]["use_cache"] = False
    return stream_configs


def _collect_requesters(stream_config: dict[str, Any], definitions: list, loader_requesters: list) -> None:
    """Adds each stream definition with a requester of its own (the stream and its inlined parents),
    and each other requester that caches (its schema loader's), skipping the schemas themselves."""
    pending: list[Any] = [stream_config]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            retriever = node.get("retriever")
            if isinstance(retriever, dict) and isinstance(retriever.get("requester"), dict):
                definitions.append(node)
                pending += [value for key, value in retriever.items() if key != "requester"]
                pending += [value for key, value in node.items() if key not in ("retriever", "schema")]
                continue
            if node.get("use_cache") is True:
                loader_requesters.append(node)
            pending += [value for key, value in node.items() if key != "schema"]
        elif isinstance(node, list):
            pending += node


def _cache_name(definition: Mapping[str, Any]) -> str:
    return definition["retriever"].get("cached_responses_of") or definition["name"]


def _datetime_cursor_definitions(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        if node.get("type") == "DatetimeBasedCursor":
            yield node
        for key, value in node.items():
            if key != "schema_loader":  # the bulk of a stream's definition, and never a cursor
                yield from _datetime_cursor_definitions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datetime_cursor_definitions(item)


def _key_fields(primary_key: Any) -> list[str]:
    if isinstance(primary_key, str):
        return [primary_key]
    return [key if isinstance(key, str) else key[0] for key in primary_key or []]


def _cursor_value(stream_state: Mapping[str, Any]) -> str | None:
    """The cursor of a stream state, plain (`{"updatedOn": ...}`) or global
    (`{"use_global_cursor": true, "state": {"updatedOn": ...}, "parent_state": ...}`)."""
    inner = stream_state.get("state")
    values = (inner if isinstance(inner, Mapping) else stream_state).values()
    return next((value for value in values if isinstance(value, str) and ab_datetime_try_parse(value)), None)


def _cursor_lag_log(stream: str, cursor: str) -> AirbyteMessage:
    behind = int((ab_datetime_now() - ab_datetime_try_parse(cursor)).total_seconds() // 60)
    minutes = abs(behind)
    lag = f"{minutes // 60} h {minutes % 60:02d} min {'behind' if behind >= 0 else 'ahead of'} now"
    return _log(Level.INFO, f"Stream '{stream}' cursor is now {cursor}, {lag}.")


def _log(level: Level, message: str) -> AirbyteMessage:
    return AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=level, message=message))


def _failed(message: str) -> AirbyteConnectionStatus:
    return AirbyteConnectionStatus(status=Status.FAILED, message=message)
