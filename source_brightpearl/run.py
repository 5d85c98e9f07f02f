"""Console entry point `source-brightpearl` (spec | check | discover | read)."""

from __future__ import annotations

import sys
import traceback
from typing import List, Optional

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
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

from source_brightpearl.source import SourceBrightpearl


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


def run() -> None:
    args = sys.argv[1:]
    source = _get_source(args)
    if source is None:
        sys.exit(1)
    launch(source, args)
