"""Where requests go and which headers they carry, per auth mode and API domain."""

import json

import pytest
import responses

from unit_tests.builders import (
    ACCOUNT_TOKEN,
    APP_REF,
    STAFF_TOKEN,
    ConfigBuilder,
    api_url,
    run_read,
)

STATUSES = {"response": [{"statusId": 1, "name": "Draft / Quote", "orderTypeCode": "SO"}]}


def _read_order_statuses(config, base):
    with responses.RequestsMock() as mocked:
        mocked.get(api_url("order-service/order-status", base), json=STATUSES)
        output = run_read(config, "order_statuses")
        return output, mocked.calls[0].request


def test_given_account_token_when_read_then_app_ref_and_account_token_headers_are_sent():
    _, request = _read_order_statuses(ConfigBuilder().build(), "https://euw1.brightpearlconnect.com")
    assert request.headers["brightpearl-app-ref"] == APP_REF
    assert request.headers["brightpearl-account-token"] == ACCOUNT_TOKEN
    assert "brightpearl-staff-token" not in request.headers


def test_given_staff_token_when_read_then_staff_token_header_is_sent_instead_of_account_token():
    config = ConfigBuilder().with_staff_token().build()
    _, request = _read_order_statuses(config, "https://euw1.brightpearlconnect.com")
    assert request.headers["brightpearl-app-ref"] == APP_REF
    assert request.headers["brightpearl-staff-token"] == STAFF_TOKEN
    assert "brightpearl-account-token" not in request.headers


@pytest.mark.parametrize(
    "auth_type, header, token",
    [
        ("account_token", "brightpearl-account-token", ACCOUNT_TOKEN),
        ("staff_token", "brightpearl-staff-token", STAFF_TOKEN),
    ],
)
def test_given_a_token_and_app_ref_pasted_with_spaces_and_newlines_when_read_then_they_are_sent_trimmed(
    auth_type, header, token
):
    config = (
        ConfigBuilder()
        .with_fields(credentials={"auth_type": auth_type, "app_ref": f"  {APP_REF}\t", auth_type: f"{token}\r\n"})
        .build()
    )
    _, request = _read_order_statuses(config, "https://euw1.brightpearlconnect.com")
    assert (request.headers["brightpearl-app-ref"], request.headers[header]) == (APP_REF, token)


def test_given_datacenter_when_read_then_url_is_https_datacenter_public_api_account_service_path():
    config = ConfigBuilder().with_fields(datacenter="ws-use.brightpearl.com").build()
    output, request = _read_order_statuses(config, "https://ws-use.brightpearl.com")
    assert request.url == "https://ws-use.brightpearl.com/public-api/acme/order-service/order-status"
    assert [record.record.data["statusId"] for record in output.records] == [1]


@pytest.mark.parametrize(
    "api_domain, base",
    [
        ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
        ("http://localhost:9000/", "http://localhost:9000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("use1.brightpearlconnect.com", "https://use1.brightpearlconnect.com"),
        ("https://proxy.example.com", "https://proxy.example.com"),
    ],
)
def test_given_api_domain_when_read_then_it_replaces_the_datacenter_host(api_domain, base):
    config = ConfigBuilder().with_fields(datacenter="ws-eu1.brightpearl.com", api_domain=api_domain).build()
    _, request = _read_order_statuses(config, base)
    assert request.url == f"{base}/public-api/acme/order-service/order-status"


@pytest.mark.parametrize("api_domain", ["http://evil.example.com", "http://10.0.0.5:8787", "ftp://127.0.0.1"])
def test_given_unsafe_or_malformed_api_domain_when_read_then_config_error_and_no_request(api_domain):
    config = ConfigBuilder().with_fields(api_domain=api_domain).build()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        output = run_read(config, "order_statuses", expect_failure=True)
        assert len(mocked.calls) == 0
    error = output.errors[-1].trace.error
    assert error.failure_type.value == "config_error"
    assert "api_domain" in error.message


def test_given_order_status_response_when_read_then_each_item_is_a_record_with_its_fields():
    output, _ = _read_order_statuses(ConfigBuilder().build(), "https://euw1.brightpearlconnect.com")
    assert [json.loads(json.dumps(r.record.data)) for r in output.records] == STATUSES["response"]
