"""Builders for configs, Brightpearl responses and connector runs used by the unit tests."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import jsonschema
import yaml
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
from airbyte_cdk.sources.declarative.parsers.custom_code_compiler import (
    INJECTED_COMPONENTS_PY,
    INJECTED_COMPONENTS_PY_CHECKSUMS,
    INJECTED_MANIFEST,
)
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, _run_command
from airbyte_cdk.test.entrypoint_wrapper import read as entrypoint_read
from airbyte_cdk.test.models import ExpectedOutcome
from airbyte_cdk.test.state_builder import StateBuilder

import source_brightpearl
from source_brightpearl.run import run
from source_brightpearl.source import SourceBrightpearl

ACCOUNT = "acme"
APP_REF = "acme-analytics"
# Long and distinctive, so that finding them in output means a leak, not a coincidence.
ACCOUNT_TOKEN = "unit-account-token-4f9d2c7b1e8a"
STAFF_TOKEN = "unit-staff-token-8b3e6a0d5c2f"
DEFAULT_BASE = "https://euw1.brightpearlconnect.com"
MANIFEST_PATH = Path(source_brightpearl.__file__).with_name("manifest.yaml")


class ConfigBuilder:
    def __init__(self) -> None:
        self._config: dict[str, Any] = {
            "account_code": ACCOUNT,
            "credentials": {"auth_type": "account_token", "app_ref": APP_REF, "account_token": ACCOUNT_TOKEN},
        }

    def with_staff_token(self) -> ConfigBuilder:
        self._config["credentials"] = {"auth_type": "staff_token", "app_ref": APP_REF, "staff_token": STAFF_TOKEN}
        return self

    def with_fields(self, **fields: Any) -> ConfigBuilder:
        self._config.update(fields)
        return self

    def build(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._config))


def api_url(path: str, base: str = DEFAULT_BASE) -> str:
    return f"{base}/public-api/{ACCOUNT}/{path}"


def search_body(id_column: str, ids: list[int], first: int, total: int) -> dict[str, Any]:
    """A `*-search` page holding `ids`, starting at the 1-based position `first` of `total`."""
    meta: dict[str, Any] = {
        "morePagesAvailable": first - 1 + len(ids) < total,
        "resultsAvailable": total,
        "resultsReturned": len(ids),
        "columns": [{"name": id_column, "reportDataType": "IDSET"}],
        "sorting": [],
    }
    if ids:
        meta.update(firstResult=first, lastResult=first - 1 + len(ids))
    return {"response": {"results": [[record_id] for record_id in ids], "metaData": meta}, "reference": {}}


def strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` wherever it lists properties and says nothing else,
    so a field the schema does not describe fails validation."""
    if isinstance(schema, dict):
        tightened = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            tightened["additionalProperties"] = False
        return tightened
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def schema_errors(schema: Mapping[str, Any], records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Where records break the `strict` schema, formats (`date-time`) included: `path: message` each."""
    validator = jsonschema.Draft7Validator(strict(schema), format_checker=jsonschema.FormatChecker())
    return [f"{list(error.path)}: {error.message}" for record in records for error in validator.iter_errors(record)]


def order(order_id: int, row_ids: Iterable[int] = ()) -> dict[str, Any]:
    return {
        "id": order_id,
        "orderTypeCode": "SO",
        "updatedOn": "2024-03-05T16:01:02.000Z",
        "totalValue": {"net": "50.00", "total": "60.00"},
        "orderRows": {
            str(row_id): {"orderRowSequence": "10", "productId": 1140, "quantity": {"magnitude": "2.0000"}}
            for row_id in row_ids
        },
    }


def run_read(config: Mapping[str, Any], *streams: str, expect_failure: bool = False) -> EntrypointOutput:
    catalog_builder = CatalogBuilder()
    for stream in streams:
        catalog_builder.with_stream(stream, SyncMode.full_refresh)
    catalog = catalog_builder.build()
    source = SourceBrightpearl(config=config, catalog=catalog)
    outcome = ExpectedOutcome.EXPECT_EXCEPTION if expect_failure else ExpectedOutcome.EXPECT_SUCCESS
    return entrypoint_read(source, config, catalog, expected_outcome=outcome)


def run_incremental_read(
    config: Mapping[str, Any], stream: str, state: Mapping[str, Any] | None = None, expect_failure: bool = False
) -> EntrypointOutput:
    catalog = CatalogBuilder().with_stream(stream, SyncMode.incremental).build()
    states = StateBuilder().with_stream_state(stream, state).build() if state else None
    source = SourceBrightpearl(config=config, catalog=catalog, state=states)
    outcome = ExpectedOutcome.EXPECT_EXCEPTION if expect_failure else ExpectedOutcome.EXPECT_SUCCESS
    return entrypoint_read(source, config, catalog, state=states, expected_outcome=outcome)


def final_stream_state(output: EntrypointOutput) -> dict[str, Any]:
    return output.most_recent_state.stream_state.__dict__


def run_declarative_read(config: Mapping[str, Any], stream: str, expect_failure: bool = False) -> EntrypointOutput:
    """A read on Airbyte's declarative runtime, without source.py: the manifest and components.py injected as
    text into the config, as the Connector Builder and PyAirbyte by manifest send them."""
    catalog = CatalogBuilder().with_stream(stream, SyncMode.full_refresh).build()
    manifest = yaml.safe_load(MANIFEST_PATH.read_text())
    components_text = MANIFEST_PATH.with_name("components.py").read_text()
    injected_config = {
        **config,
        INJECTED_MANIFEST: manifest,
        INJECTED_COMPONENTS_PY: components_text,
        INJECTED_COMPONENTS_PY_CHECKSUMS: {"md5": hashlib.md5(components_text.encode()).hexdigest()},
    }
    outcome = ExpectedOutcome.EXPECT_EXCEPTION if expect_failure else ExpectedOutcome.EXPECT_SUCCESS
    with mock.patch.dict(os.environ, {"AIRBYTE_ENABLE_UNSAFE_CODE": "true"}):
        source = ConcurrentDeclarativeSource(
            source_config=manifest, config=injected_config, catalog=catalog, state=None
        )
        return entrypoint_read(source, injected_config, catalog, expected_outcome=outcome)


def probe(code: str) -> list[str]:
    """The words of the last line a Python program printed (a command's own messages come before it)."""
    answer = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=True
    )
    return answer.stdout.splitlines()[-1].split()


def run_command(command: str, config: Mapping[str, Any] | None = None) -> EntrypointOutput:
    """Runs spec/check/discover through the CDK entrypoint, as the console script does."""
    if config is None:
        return _run_command(SourceBrightpearl(), [command])
    with tempfile.TemporaryDirectory() as directory:
        config_path = Path(directory) / "config.json"
        config_path.write_text(json.dumps(config))
        source = SourceBrightpearl(config=config)
        return _run_command(source, [command, "--config", str(config_path)], expected_outcome=ExpectedOutcome.ALLOW_ANY)


def start_entry_point(directory: Path, argv: Sequence[str]) -> int:
    """Forks a child that runs the console entry point `run()` with `argv`, its stdout and stderr
    going to files in `directory`; returns its pid (see `finish_entry_point`).

    The child is the `source-brightpearl` program without the ~2.5 s of importing the CDK that a new
    process pays: an uncaught exception goes through `sys.excepthook` as in the interpreter.
    """
    directory.mkdir(parents=True, exist_ok=True)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            with open(directory / "stdout", "w") as out, open(directory / "stderr", "w") as err:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            sys.argv = ["source-brightpearl", *argv]
            try:
                run()
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            except BaseException:
                sys.excepthook(*sys.exc_info())
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    return pid


def finish_entry_point(directory: Path, pid: int, argv: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """Waits for a child of `start_entry_point`: its exit code, stdout and stderr."""
    _, status = os.waitpid(pid, 0)
    return subprocess.CompletedProcess(
        list(argv),
        os.waitstatus_to_exitcode(status),
        (directory / "stdout").read_text(),
        (directory / "stderr").read_text(),
    )


def run_entry_point(directory: Path, *args: str, **files: Any) -> subprocess.CompletedProcess:
    """`source-brightpearl <args> --config ... --catalog ... --state ...` in a forked child, each file
    written to `directory` from its JSON value."""
    argv = list(args)
    for name, value in files.items():
        if value is not None:
            (directory / f"{name}.json").write_text(json.dumps(value))
            argv += [f"--{name}", str(directory / f"{name}.json")]
    return finish_entry_point(directory, start_entry_point(directory, argv), argv)
