"""The connector image: the Dockerfile built with buildah and run against the mock from inside it.

No container registry is reachable where the tests run, so scripts/standin-base-image.sh makes a local stand-in
of metadata.yaml's baseImage (Debian bookworm, Python 3.11, the `airbyte` user uid 1000; built once, then kept in
buildah's storage for later runs of the same machine). The Dockerfile is built on it unchanged but for the
BASE_IMAGE argument, with its layers cached (the last build's stages stay tagged, so a build context unchanged
since then builds from the cache), and each command runs in a container of the image, as the image's user,
reaching the mock on the host's loopback (buildah's chroot isolation keeps the host's network). Needs root,
buildah and debootstrap (.ci/run installs them with apt) and skips, saying which is missing, without them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from integration_tests.connector_process import (
    ConnectorRun,
    account_token_config,
    catalog,
    read,
    run_connector,
)
from mock_server.testing import MockServer

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_SECONDS = 900
RUN_TIMEOUT_SECONDS = 180
# Where the connector sees the test's files: the platform, too, hands them over as mounted files.
MOUNT_POINT = "/connector_files"
CACHED_TAG = "localhost/source-brightpearl:test"
MOCK_SERVER_PARTS = ("mock_server", "starlette", "uvicorn", "jsonpatch")
REPORT: list[str] = []


def _buildah(*args: str, timeout: float = RUN_TIMEOUT_SECONDS) -> subprocess.CompletedProcess:
    return subprocess.run(["buildah", *args], capture_output=True, text=True, timeout=timeout)


def _missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return "building images with buildah's chroot isolation needs root"
    missing = [tool for tool in ("buildah", "debootstrap") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (apt-get install -y buildah debootstrap; .ci/run does)"
    info = _buildah("info")
    if info.returncode != 0:
        return f"buildah cannot run here: {info.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="module", autouse=True)
def image_report(report_line) -> Iterator[None]:
    """Prints what was built and every command run in the image, with its outcome."""
    yield
    if REPORT:
        report_line("\n" + "\n".join(REPORT))


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    reason = _missing_prerequisite()
    if reason:
        pytest.skip(reason)
    started = time.monotonic()
    base = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "standin-base-image.sh")],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
    )
    if base.returncode != 0:
        pytest.fail(f"the stand-in base image could not be built:\n{base.stderr[-3000:]}")
    base_image, base_seconds = base.stdout.strip(), time.monotonic() - started
    # The last build's stages stay tagged, so that their layers are the next build's cache (a build context
    # unchanged since then builds nothing); what earlier builds left is no longer tagged, and goes.
    _buildah("rmi", "--prune")
    iid_file = tmp_path_factory.mktemp("image") / "iid"
    started = time.monotonic()
    cached = 0
    for stage, tag in (("builder", f"{CACHED_TAG}-builder"), (None, CACHED_TAG)):
        build = _buildah(
            "bud",
            "--layers",
            "--isolation",
            "chroot",
            "--build-arg",
            f"BASE_IMAGE={base_image}",
            *(["--target", stage] if stage else []),
            "--iidfile",
            str(iid_file),
            "--tag",
            tag,
            str(REPO_ROOT),
            timeout=BUILD_TIMEOUT_SECONDS,
        )
        assert build.returncode == 0, f"the image did not build:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
        cached += build.stdout.count("Using cache")
    # By its ID: another run on this machine may move the tag meanwhile.
    image_id = iid_file.read_text().strip()
    size = _buildah("images", "--format", "{{.Size}}", image_id).stdout.strip()
    cached = build.stdout.count("Using cache")
    REPORT.append(
        f"image {CACHED_TAG} ({image_id[:19]}): {size}, built in {time.monotonic() - started:.0f} s on {base_image} "
        f"(stand-in base ready in {base_seconds:.0f} s; {cached} steps from the layer cache)"
    )
    return image_id


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[str]:
    created = _buildah("from", "--pull-never", "--name", f"source-brightpearl-test-{os.getpid()}", image)
    assert created.returncode == 0, created.stderr
    name = created.stdout.strip()
    try:
        yield name
    finally:
        _buildah("rm", name)


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(orders=40) as server:
        yield server


@pytest.fixture
def connector_files(tmp_path: Path, mock: MockServer) -> Path:
    """The config and catalog a read needs, readable by the image's unprivileged user."""
    (tmp_path / "config.json").write_text(json.dumps(account_token_config(mock)))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog()))
    for path in (tmp_path, *tmp_path.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return tmp_path


def _run_in(container: str, *command: str, files: Path | None = None) -> subprocess.CompletedProcess:
    mount = ["--volume", f"{files}:{MOUNT_POINT}:ro"] if files else []
    started = time.monotonic()
    result = _buildah("run", "--isolation", "chroot", "--network", "host", *mount, container, "--", *command)
    REPORT.append(f"  {' '.join(command)}: exit {result.returncode} in {time.monotonic() - started:.1f} s")
    return result


def _connector_in(container: str, *args: str, files: Path | None = None) -> ConnectorRun:
    """`source-brightpearl ARGS` through the image's entrypoint, as the platform starts it."""
    result = _run_in(container, "/entrypoint.sh", *args, files=files)
    return ConnectorRun(
        lines=result.stdout.splitlines(), exit_code=result.returncode, killed=False, stderr=result.stderr
    )


def _file_args(*names: str) -> list[str]:
    return [argument for name in names for argument in (f"--{name}", f"{MOUNT_POINT}/{name}.json")]


def _stream_names(run: ConnectorRun) -> list[str]:
    return sorted(stream["name"] for stream in run.of_type("CATALOG")[0]["catalog"]["streams"])


def _record_counts(run: ConnectorRun) -> Mapping[str, int]:
    return {name: len(keys) for name, keys in run.records().items()}


def test_given_the_image_when_a_command_runs_in_it_then_it_runs_as_the_airbyte_user_uid_1000(container):
    result = _run_in(container, "id")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("uid=1000(airbyte) gid=1000(airbyte)"), result.stdout


def test_given_the_image_when_spec_runs_then_it_prints_the_packages_spec(container, tmp_path):
    in_image = _connector_in(container, "spec")
    package = run_connector(tmp_path, "spec")
    assert in_image.exit_code == 0, in_image.stderr
    assert in_image.of_type("SPEC") == package.of_type("SPEC") != []


def test_given_the_mock_on_the_hosts_loopback_when_check_runs_in_the_image_then_the_connection_succeeds(
    container, connector_files
):
    run = _connector_in(container, "check", *_file_args("config"), files=connector_files)
    statuses = [message["connectionStatus"] for message in run.of_type("CONNECTION_STATUS")]
    assert statuses == [{"status": "SUCCEEDED"}], run.lines[-5:]


def test_given_the_mock_when_discover_runs_in_the_image_then_it_lists_the_packages_streams(container, connector_files):
    in_image = _connector_in(container, "discover", *_file_args("config"), files=connector_files)
    package = run_connector(connector_files, "discover", "--config", str(connector_files / "config.json"))
    assert in_image.exit_code == 0, in_image.stderr[-2000:]
    assert _stream_names(in_image) == _stream_names(package)
    REPORT.append(f"    discover listed {len(_stream_names(in_image))} streams, as the package does")


def test_given_a_catalog_of_six_streams_when_read_runs_in_the_image_then_it_emits_the_packages_records(
    container, connector_files, mock, tmp_path
):
    in_image = _connector_in(container, "read", *_file_args("config", "catalog"), files=connector_files)
    package = read(tmp_path / "package", account_token_config(mock))
    assert in_image.exit_code == 0, in_image.errors() or in_image.stderr[-2000:]
    assert all(_record_counts(in_image).values()), _record_counts(in_image)
    assert in_image.records() == package.records()
    REPORT.append(f"    read records per stream: {dict(_record_counts(in_image))}, the same as the package's")


def test_given_the_image_when_the_mock_server_is_looked_for_then_neither_it_nor_its_web_stack_is_there(container):
    on_path = _run_in(container, "sh", "-c", "command -v brightpearl-mock")
    importable = _run_in(
        container,
        "python",
        "-c",
        "import importlib.util, sys; "
        f"print([name for name in {MOCK_SERVER_PARTS!r} if importlib.util.find_spec(name)])",
    )
    assert on_path.returncode != 0, on_path.stdout
    assert importable.stdout.strip() == "[]", importable.stdout + importable.stderr


def _pins(lines: list[str]) -> dict[str, str]:
    """`name==version` lines by normalised name (PEP 503: case and `-_.` runs do not matter)."""
    pins = {}
    for line in lines:
        name, separator, version = line.partition("==")
        if separator:
            pins[name.lower().replace("_", "-").replace(".", "-")] = version
    return pins


def test_given_the_image_when_its_python_packages_are_listed_then_each_has_the_version_constraints_txt_pins(container):
    installed = _run_in(
        container,
        "sh",
        "-c",
        "pip freeze --exclude source-brightpearl --path "
        '"$(python -c \'import sysconfig; print(sysconfig.get_path("purelib"))\')"',
    )
    pinned = _pins((REPO_ROOT / "constraints.txt").read_text().splitlines())
    in_image = _pins(installed.stdout.splitlines())
    assert installed.returncode == 0 and in_image, installed.stderr
    assert {name: version for name, version in in_image.items() if pinned.get(name) != version} == {}


def test_given_the_image_when_its_python_packages_are_checked_then_every_requirement_is_met(container):
    result = _run_in(container, "python", "-m", "pip", "check")
    assert result.returncode == 0, result.stdout + result.stderr
