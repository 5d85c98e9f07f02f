"""The Brightpearl source: the declarative manifest plus a connection check with precise messages."""

from __future__ import annotations

import logging
from typing import Any, List, Mapping, Optional

import requests
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    Status,
)
from airbyte_cdk.sources.declarative.models.declarative_component_schema import (
    HttpRequester as HttpRequesterModel,
)
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import (
    ModelToComponentFactory,
)
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

CHECK_REQUESTER_NAME = "check_connection"


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


def _failed(message: str) -> AirbyteConnectionStatus:
    return AirbyteConnectionStatus(status=Status.FAILED, message=message)
