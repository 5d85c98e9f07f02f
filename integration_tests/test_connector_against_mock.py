"""spec / check / discover / read through the real `source-brightpearl` entry point, against the mock."""

from __future__ import annotations

import pytest

from integration_tests.conftest import messages, run_connector
from mock_server.state import DEFAULT_ACCOUNT_TOKEN, DEFAULT_APP_REF, DEFAULT_STAFF_TOKEN


def test_when_spec_then_one_spec_message_and_exit_0(tmp_path):
    result = run_connector(tmp_path, "spec")
    assert result.returncode == 0
    assert messages(result, "SPEC")[0]["spec"]["connectionSpecification"]["required"] == ["account_code", "credentials"]


@pytest.mark.parametrize(
    "credentials",
    [
        {"auth_type": "account_token", "app_ref": DEFAULT_APP_REF, "account_token": DEFAULT_ACCOUNT_TOKEN},
        {"auth_type": "staff_token", "app_ref": DEFAULT_APP_REF, "staff_token": DEFAULT_STAFF_TOKEN},
    ],
)
def test_given_valid_credentials_when_check_then_succeeded(mock_brightpearl, tmp_path, credentials):
    result = run_connector(tmp_path, "check", config=mock_brightpearl.config(credentials=credentials))
    assert result.returncode == 0
    assert messages(result, "CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"account_code": "nobody"}, "no account 'nobody'"),
        (
            {
                "credentials": {
                    "auth_type": "account_token",
                    "app_ref": DEFAULT_APP_REF,
                    "account_token": "wrong-token-123456",
                }
            },
            "rejected the credentials",
        ),
    ],
)
def test_given_wrong_account_or_token_when_check_then_failed_with_actionable_message(
    mock_brightpearl, tmp_path, overrides, expected
):
    result = run_connector(tmp_path, "check", config=mock_brightpearl.config(**overrides))
    status = messages(result, "CONNECTION_STATUS")[0]["connectionStatus"]
    assert result.returncode == 0
    assert status["status"] == "FAILED" and expected in status["message"]
    assert "Traceback" not in status["message"]
    assert "wrong-token-123456" not in result.stdout + result.stderr


def test_given_unreachable_host_when_check_then_failed_quickly_naming_the_host(mock_brightpearl, tmp_path):
    config = mock_brightpearl.config(api_domain="http://127.0.0.1:9")
    result = run_connector(tmp_path, "check", config=config)
    status = messages(result, "CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert status["message"].startswith("Could not connect to http://127.0.0.1:9")


def test_given_http_to_non_loopback_host_when_discover_then_config_error_and_exit_1(mock_brightpearl, tmp_path):
    result = run_connector(tmp_path, "discover", config=mock_brightpearl.config(api_domain="http://example.com"))
    errors = messages(result, "TRACE")
    assert result.returncode == 1
    assert errors[-1]["trace"]["error"]["failure_type"] == "config_error"
    assert "api_domain" in errors[-1]["trace"]["error"]["message"]


def test_when_read_then_orders_are_fetched_once_in_id_sets_of_at_most_200(mock_brightpearl, full_read):
    routes = full_read["stats"]["routes"]
    order_gets = sum(routes["GET order-service/order/{ids}"].values())
    expected_batches = -(-mock_brightpearl.control("health")["counts"]["order"] // 200)
    assert order_gets == expected_batches


def test_when_read_then_no_secret_appears_in_output(full_read):
    output = full_read["result"].stdout + full_read["result"].stderr
    assert DEFAULT_ACCOUNT_TOKEN not in output
