"""OAuth end to end over real sockets: `source-brightpearl oauth` gets tokens from the mock, a `read`
runs across a token expiry, and the authorize page is approved in a real headless Chromium."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from integration_tests.test_secrets import oauth_helper_command
from mock_server.testing import MockServer

BIN = Path(sys.executable).parent
CONNECTOR = str(BIN / "source-brightpearl")
ORDERS = 450  # a search page and three ID-set GETs: the expiry lands between them
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CATALOG = {
    "streams": [
        {
            "stream": {"name": "orders", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
            "sync_mode": "full_refresh",
            "destination_sync_mode": "overwrite",
        }
    ]
}


def run_helper(mock: MockServer, config_path: Path, approve: Callable[[str], None]) -> str:
    """Runs `source-brightpearl oauth` against the mock, approves the URL it prints, returns its output."""
    helper = subprocess.Popen(
        oauth_helper_command(mock, config_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        first_lines = [helper.stdout.readline(), helper.stdout.readline()]
        approve(first_lines[1].strip())
        rest, _ = helper.communicate(timeout=60)
    finally:
        if helper.poll() is None:
            helper.kill()
    output = "".join(first_lines) + rest
    assert helper.returncode == 0, output
    return output


def _follow_redirects(url: str) -> None:
    """A user agent on an auto-approving mock: the authorize URL redirects straight to the listener."""
    assert requests.get(url, timeout=30).status_code == 200


@pytest.fixture(scope="module")
def oauth_mock():
    with MockServer(orders=ORDERS, extra_args=["--oauth-auto-approve"]) as mock:
        yield mock


@pytest.fixture(scope="module")
def connected(oauth_mock, tmp_path_factory):
    config_path = tmp_path_factory.mktemp("oauth") / "config.json"
    output = run_helper(oauth_mock, config_path, _follow_redirects)
    return config_path, output


@pytest.fixture(scope="module")
def sync_across_expiry(oauth_mock, connected):
    """A read of `orders` during which the mock expires every access token (after 3 API calls)."""
    config_path, helper_output = connected
    credentials_before = json.loads(config_path.read_text())["credentials"]
    catalog_path = config_path.parent / "catalog.json"
    catalog_path.write_text(json.dumps(CATALOG))
    oauth_mock.reset_stats()
    oauth_mock.add_fault(kind="expire_tokens", after=3)
    result = subprocess.run(
        [CONNECTOR, "read", "--config", str(config_path), "--catalog", str(catalog_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    oauth_mock.clear_faults()
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {
        "result": result,
        "messages": messages,
        "before": credentials_before,
        "stats": oauth_mock.stats(),
        "config_after": json.loads(config_path.read_text()),
        "helper_output": helper_output,
    }


def _control_configs(messages: list[dict]) -> list[dict[str, Any]]:
    return [message["control"]["connectorConfig"]["config"] for message in messages if message["type"] == "CONTROL"]


def test_given_the_helper_when_approved_then_it_writes_an_owner_only_oauth_config_pointing_at_the_api_domain(
    oauth_mock, connected
):
    config_path, _ = connected

    config = json.loads(config_path.read_text())

    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    credentials = config["credentials"]
    assert (credentials["auth_type"], credentials["client_id"], credentials["dev_ref"]) == (
        "oauth",
        oauth_mock.app_ref,
        oauth_mock.dev_ref,
    )
    assert credentials["api_domain"] == oauth_mock.base_url and "api_domain" not in config
    assert credentials["access_token"] and credentials["refresh_token"] and credentials["token_expiry_date"]


def test_given_tokens_expire_mid_sync_when_reading_then_the_connector_refreshes_once_and_succeeds(sync_across_expiry):
    routes = sync_across_expiry["stats"]["routes"]

    assert sync_across_expiry["result"].returncode == 0, sync_across_expiry["result"].stdout[-2000:]
    assert routes["POST oauth/token"] == {"200": 1}
    assert sum(counts.get("401", 0) for counts in routes.values()) >= 1


def test_given_tokens_expire_mid_sync_when_reading_then_no_order_is_lost(sync_across_expiry):
    ids = [
        message["record"]["data"]["id"]
        for message in sync_across_expiry["messages"]
        if message["type"] == "RECORD" and message["record"]["stream"] == "orders"
    ]

    assert len(ids) == len(set(ids)) == ORDERS


def test_given_a_tls_mock_when_the_connector_connects_and_reads_trusting_its_ca_then_every_order_arrives(
    tmp_path, monkeypatch
):
    with MockServer(orders=120, tls=True, extra_args=["--oauth-auto-approve"]) as mock:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mock.ca_file))  # the helper and the read inherit it
        config_path = tmp_path / "config.json"
        run_helper(mock, config_path, _follow_redirects)
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(CATALOG))
        result = subprocess.run(
            [CONNECTOR, "read", "--config", str(config_path), "--catalog", str(catalog_path)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        routes = mock.stats()["routes"]

    messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    ids = [message["record"]["data"]["id"] for message in messages if message["type"] == "RECORD"]
    assert result.returncode == 0, result.stdout[-2000:]
    assert json.loads(config_path.read_text())["credentials"]["api_domain"] == f"127.0.0.1:{mock.port}"
    assert len(set(ids)) == 120 and routes["GET order-service/order-search"] == {"200": 1}


def test_given_a_refresh_mid_sync_when_reading_then_the_control_message_carries_the_new_refresh_token(
    oauth_mock, sync_across_expiry
):
    controls = _control_configs(sync_across_expiry["messages"])

    assert len(controls) == 1
    new_refresh_token = controls[0]["credentials"]["refresh_token"]
    assert new_refresh_token != sync_across_expiry["before"]["refresh_token"]
    # the mock retired the old refresh token and accepts the new one
    check = requests.post(
        f"{oauth_mock.base_url}/token/{oauth_mock.account}",
        timeout=10,
        data={
            "grant_type": "refresh_token",
            "client_id": oauth_mock.app_ref,
            "refresh_token": sync_across_expiry["before"]["refresh_token"],
        },
    )
    assert check.json()["error"] == "invalid_grant"


def test_given_a_refresh_mid_sync_when_reading_with_a_config_file_then_the_file_holds_the_new_tokens_at_0600(
    connected, sync_across_expiry
):
    config_path, _ = connected
    rotated = _control_configs(sync_across_expiry["messages"])[0]["credentials"]

    saved = sync_across_expiry["config_after"]

    assert {key: saved["credentials"][key] for key in ("access_token", "refresh_token", "token_expiry_date")} == {
        key: rotated[key] for key in ("access_token", "refresh_token", "token_expiry_date")
    }
    assert "base_url" not in saved
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600


def test_given_the_helper_and_a_read_across_a_refresh_when_grepping_their_output_then_no_token_value_appears(
    sync_across_expiry,
):
    rotated = _control_configs(sync_across_expiry["messages"])[0]["credentials"]
    token_values = {
        sync_across_expiry["before"]["access_token"],
        sync_across_expiry["before"]["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
    }
    result = sync_across_expiry["result"]
    # The CONTROL message is the one place a rotated token must travel (the platform persists it).
    outside_control = "\n".join(line for line in result.stdout.splitlines() if not line.startswith('{"type":"CONTROL"'))

    captured = "\n".join([sync_across_expiry["helper_output"], outside_control, result.stderr])

    assert len(token_values) == 4
    assert [token for token in token_values if token in captured] == []


def _headless_chromium():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip(
            f"no browser: {CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install -y chromium chromium-driver)"
        )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(flag)
    return webdriver, Service(CHROMEDRIVER), options


def test_given_a_real_headless_chromium_when_the_user_clicks_approve_then_the_helper_writes_the_config(tmp_path):
    webdriver, service, options = _headless_chromium()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    seen: dict[str, str] = {}

    def approve_in_browser(url: str) -> None:
        browser = webdriver.Chrome(service=service, options=options)
        try:
            browser.get(url)
            seen["app"] = browser.find_element(By.ID, "app").text
            browser.find_element(By.ID, "approve").click()
            WebDriverWait(browser, 30).until(expected_conditions.presence_of_element_located((By.ID, "result")))
            seen["result"] = browser.find_element(By.ID, "result").text
        finally:
            browser.quit()

    with MockServer(orders=20) as mock:  # no auto-approve: the page waits for the click
        run_helper(mock, tmp_path / "config.json", approve_in_browser)
        token_posts = mock.stats()["routes"]["POST oauth/token"]

    assert seen == {
        "app": mock.app_ref,
        "result": "Brightpearl connected. You can close this tab and return to the terminal.",
    }
    assert token_posts == {"200": 1}
    assert json.loads((tmp_path / "config.json").read_text())["credentials"]["refresh_token"]
