"""`airbyte-cdk connector test`, the CDK's generic suite, run as a user would, offline, against the mock Brightpearl.

The command takes a connector directory, names the connector after it, and for `language:python` builds
`source_brightpearl.SourceBrightpearl()` without a config, handing each command its scenario's config file. Its
scenarios come from `acceptance-test-config.yml`, whose configs name the mock's default address: so the test runs
it on a copy of the connector's root (metadata, acceptance config, configs pointed at the mock's real port), in a
directory named as the connector is. The image tests are deselected: they need a container engine (the image has
its own test) and the connector registry.
"""

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_server.testing import MockServer

CONNECTOR_ROOT = Path(__file__).resolve().parent.parent
# The fewest orders with which every stream has records, as the suite's basic read requires.
MOCK_ORDERS = 30


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(orders=MOCK_ORDERS, rate_limit=0) as server:
        yield server


def _connector_root_copy(destination: Path, mock: MockServer) -> Path:
    root = destination / "source-brightpearl"
    (root / "integration_tests").mkdir(parents=True)
    for name in ("metadata.yaml", "acceptance-test-config.yml"):
        shutil.copy(CONNECTOR_ROOT / name, root / name)
    for path in (CONNECTOR_ROOT / "integration_tests").glob("*.json"):
        content = json.loads(path.read_text())
        if isinstance(content, dict) and "api_domain" in content:
            content["api_domain"] = mock.base_url
        (root / "integration_tests" / path.name).write_text(json.dumps(content))
    return root


def test_given_the_connector_directory_when_airbyte_cdk_connector_test_runs_then_every_standard_test_passes(
    mock, tmp_path, report_line
):
    root = _connector_root_copy(tmp_path, mock)

    result = subprocess.run(
        [str(Path(sys.executable).with_name("airbyte-cdk")), "connector", "test", str(root)]
        + ["--pytest-arg=-m", "--pytest-arg=not image_tests"],
        capture_output=True,
        text=True,
        timeout=900,
    )

    assert result.returncode == 0, result.stdout[-5000:]
    report = ElementTree.parse(root / "build" / "test-results" / "standard-tests-junit.xml").getroot()
    outcomes: dict[str, list[str]] = {"passed": [], "skipped": []}
    for case in report.iter("testcase"):
        outcomes["skipped" if case.find("skipped") is not None else "passed"].append(case.get("name"))
    report_line(f"airbyte-cdk connector test: {len(outcomes['passed'])} passed, {len(outcomes['skipped'])} skipped")
    for test in ("test_check", "test_discover", "test_basic_read"):
        assert any(name.startswith(test) for name in outcomes["passed"]), f"{test} did not run"
