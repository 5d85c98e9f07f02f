"""The Brightpearl source: the declarative manifest plus a connection check with precise messages."""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterator, List, Mapping, Optional

import requests
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteStateMessage,
    AirbyteStreamStatus,
    ConfiguredAirbyteCatalog,
    Level,
    Status,
    TraceType,
    Type,
)
from airbyte_cdk.sources.declarative.models.declarative_component_schema import (
    HttpRequester as HttpRequesterModel,
)
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import (
    ModelToComponentFactory,
)
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.utils.datetime_helpers import ab_datetime_now, ab_datetime_try_parse
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_brightpearl.components import BrightpearlBudgetPacer

CHECK_REQUESTER_NAME = "check_connection"
# Calls of each rolling minute left to the account's other apps unless the config says otherwise.
DEFAULT_RATE_LIMIT_RESERVE = 20


class SourceBrightpearl(YamlDeclarativeSource):
    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            path_to_yaml="manifest.yaml", catalog=catalog, config=config, state=state, **kwargs
        )
        # Every requester the factory builds shares this one budget (HttpRequester.api_budget); the
        # manifest's `api_budget` can only describe the CDK's own policies (see the pacer's docstring).
        reserve = (config or {}).get("rate_limit_reserve", DEFAULT_RATE_LIMIT_RESERVE)
        self._constructor._api_budget = BrightpearlBudgetPacer(reserve=int(reserve))

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        """The declarative read, plus one log line per incremental stream when it is done: its new
        cursor and how far that is behind now (how stale the destination is). The concurrent reader
        sends a stream's final state just after its COMPLETE status, so the line follows that state.
        """
        cursors: Dict[str, str] = {}
        completed: List[str] = []
        for message in super().read(logger, config, catalog, state):
            yield message
            if message.type == Type.STATE and message.state.stream:
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

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """One `GET integration-service/account-configuration`, sent once.

        Replaces the manifest's stream check because that one retries throttling and network
        errors for minutes and reports every failure as "stream not available".
        """
        try:
            if self._spec_component:
                self._spec_component.validate_config(self._config)
            self._build_check_requester().send_request()
        except AirbyteTracedException as error:
            return _failed(self._describe_check_failure(error))
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    def _build_check_requester(self) -> Any:
        definition = self.resolved_manifest["definitions"]["account_configuration_requester"]
        # The check reports its outcome itself; the HTTP client's "retries exhausted" log line
        # would only add a stack trace to it.
        logging.getLogger(f"airbyte.HttpRequester.{CHECK_REQUESTER_NAME}").setLevel(logging.CRITICAL)
        return ModelToComponentFactory(disable_retries=True).create_component(
            HttpRequesterModel, definition, self._config, name=CHECK_REQUESTER_NAME
        )

    def _describe_check_failure(self, error: AirbyteTracedException) -> str:
        retried = _find_backoff_exception(error)
        if retried is None:
            return error.message or "The connection check failed."
        if retried.response is None:
            return (
                f"Could not connect to {self._config.get('base_url')}. Check the datacenter "
                "(or api_domain) setting and that this host can reach Brightpearl."
            )
        response = retried.response
        if isinstance(response, requests.Response) and response.status_code in (429, 503):
            return str(retried) or (
                f"Brightpearl answered HTTP {response.status_code} (busy or throttled). Try again in a minute."
            )
        return str(retried) or error.message or "The connection check failed."


def _find_backoff_exception(error: BaseException) -> Optional[BaseBackoffException]:
    """The retryable HTTP failure behind an AirbyteTracedException, if any."""
    seen: Optional[BaseException] = error
    while seen is not None:
        if isinstance(seen, BaseBackoffException):
            return seen
        seen = getattr(seen, "_exception", None) or seen.__cause__ or seen.__context__
    return None


def _cursor_value(stream_state: Mapping[str, Any]) -> Optional[str]:
    """The cursor of a stream state, plain (`{"updatedOn": ...}`) or global
    (`{"use_global_cursor": true, "state": {"updatedOn": ...}, "parent_state": ...}`)."""
    inner = stream_state.get("state")
    values = (inner if isinstance(inner, Mapping) else stream_state).values()
    return next((value for value in values if isinstance(value, str) and ab_datetime_try_parse(value)), None)


def _cursor_lag_log(stream: str, cursor: str) -> AirbyteMessage:
    behind = ab_datetime_now() - ab_datetime_try_parse(cursor)
    minutes = max(int(behind.total_seconds() // 60), 0)
    message = f"Stream '{stream}' cursor is now {cursor}, {minutes // 60} h {minutes % 60:02d} min behind now."
    return AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.INFO, message=message))


def _failed(message: str) -> AirbyteConnectionStatus:
    return AirbyteConnectionStatus(status=Status.FAILED, message=message)
