import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

from source_brightpearl.source import SourceBrightpearl


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    """Retries back off with time.sleep; the tests only care that they happen."""
    monkeypatch.setattr("time.sleep", lambda seconds: None)


@pytest.fixture(scope="session", autouse=True)
def manifest_resolved_once_per_content() -> Iterator[None]:
    """Almost every test builds a `SourceBrightpearl`, and parsing the manifest's YAML, resolving its
    references and `$parameters` and validating the result against the CDK's schema take seconds of
    CPU each time, while each depends on nothing but its input. So each is done for real once per
    distinct input (the file's bytes; the parsed manifest, which a config's `request_timeout_seconds`
    changes; the resolved manifest), and a source built later from the same input gets its own copy of
    the result (a pickle round trip: nothing a test or a component changes in it reaches the next
    source). The bundled manifest is resolved here, before any test, so that runs forked from this
    process (test_bad_input.py) inherit it."""
    parse = YamlDeclarativeSource._read_and_parse_yaml_file
    resolve = ConcurrentDeclarativeSource._pre_process_manifest
    validate = ConcurrentDeclarativeSource._validate_source
    results: dict[tuple[str, bytes], bytes] = {}

    def once(step: str, key: bytes, compute: Callable[[], Any]) -> Any:
        if (step, key) not in results:
            results[(step, key)] = pickle.dumps(compute())
        return pickle.loads(results[(step, key)])

    def parse_once(self: YamlDeclarativeSource, path: str) -> dict[str, Any]:
        return once("parse", pickle.dumps((path, Path(path).read_bytes())), lambda: parse(self, path))

    def resolve_once(self: ConcurrentDeclarativeSource, manifest: dict[str, Any]) -> dict[str, Any]:
        return once("resolve", pickle.dumps(manifest), lambda: resolve(self, manifest))

    def validate_once(self: ConcurrentDeclarativeSource) -> None:
        once("validate", pickle.dumps(self._source_config), lambda: validate(self))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(YamlDeclarativeSource, "_read_and_parse_yaml_file", parse_once)
        patch.setattr(ConcurrentDeclarativeSource, "_pre_process_manifest", resolve_once)
        patch.setattr(ConcurrentDeclarativeSource, "_validate_source", validate_once)
        SourceBrightpearl()
        yield
