"""Console entry point `source-brightpearl` (spec | check | discover | read | oauth)."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any, List, Optional, TextIO

import orjson
from airbyte_cdk.entrypoint import PRINT_BUFFER, AirbyteEntrypoint, launch
from airbyte_cdk.models import (
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteTraceMessage,
    FailureType,
    TraceType,
    Type,
)
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.datetime_helpers import ab_datetime_now
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_brightpearl import oauth_cli
from source_brightpearl.source import SourceBrightpearl

CONTROL_MESSAGE_START = '{"type":"CONTROL"'


def _get_source(args: List[str]) -> Optional[SourceBrightpearl]:
    """Builds the source with config, catalog and state: the 7.x declarative source reads them
    from its constructor, not from the arguments of check/discover/read."""
    catalog_path = AirbyteEntrypoint.extract_catalog(args)
    config_path = AirbyteEntrypoint.extract_config(args)
    state_path = AirbyteEntrypoint.extract_state(args)
    try:
        return SourceBrightpearl(
            catalog=SourceBrightpearl.read_catalog(catalog_path) if catalog_path else None,
            config=SourceBrightpearl.read_config(config_path) if config_path else None,
            state=SourceBrightpearl.read_state(state_path) if state_path else None,
            config_path=config_path,
        )
    except Exception as error:
        failure_type = (
            error.failure_type
            if isinstance(error, AirbyteTracedException)
            else FailureType.system_error
        )
        message = AirbyteMessage(
            type=Type.TRACE,
            trace=AirbyteTraceMessage(
                type=TraceType.ERROR,
                emitted_at=ab_datetime_now().to_epoch_millis(),
                error=AirbyteErrorTraceMessage(
                    message=f"Error starting the sync: {error}",
                    stack_trace=traceback.format_exc(),
                    failure_type=failure_type,
                ),
            ),
        )
        print(filter_secrets(orjson.dumps(AirbyteMessageSerializer.dump(message)).decode()))
        return None


class _StdoutSavingRotatedTokens:
    """stdout that also saves the tokens of CONNECTOR_CONFIG control messages into the --config file.

    The CDK prints a rotated refresh token only as a CONTROL message (one `write()` per message) and
    does not rewrite the config file; the Airbyte platform persists the message, but a command-line
    or cron run would otherwise start next time with a refresh token Brightpearl has retired.
    """

    def __init__(self, stream: TextIO, config_path: Path):
        self._stream = stream
        self._config_path = config_path

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        if text.startswith(CONTROL_MESSAGE_START):
            message = orjson.loads(text)
            connector_config = (message["control"].get("connectorConfig") or {}).get("config")
            if connector_config:
                try:
                    oauth_cli.save_rotated_tokens(self._config_path, connector_config)
                except OSError as error:
                    print(f"source-brightpearl: could not save the new OAuth tokens to {self._config_path}: "
                          f"{error.strerror}; keep the CONTROL message's config instead.", file=sys.stderr)
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _uses_oauth(config_path: str) -> bool:
    credentials = SourceBrightpearl.read_config(config_path).get("credentials") or {}
    return credentials.get("auth_type") == "oauth"


def run() -> None:
    args = sys.argv[1:]
    if args[:1] == ["oauth"]:
        sys.exit(oauth_cli.main(args[1:]))
    source = _get_source(args)
    if source is None:
        sys.exit(1)
    config_path = AirbyteEntrypoint.extract_config(args)
    if config_path and _uses_oauth(config_path):
        _launch_saving_rotated_tokens(source, args, Path(config_path))
    else:
        launch(source, args)


def _launch_saving_rotated_tokens(source: SourceBrightpearl, args: List[str], config_path: Path) -> None:
    """The CDK's `launch`, with stdout wrapped inside its print buffer (which replaces sys.stdout)."""
    entrypoint = AirbyteEntrypoint(source)
    parsed_args = entrypoint.parse_args(args)
    with PRINT_BUFFER:
        sys.stdout = _StdoutSavingRotatedTokens(sys.stdout, config_path)
        for message in entrypoint.run(parsed_args):
            print(f"{message}\n", end="")
