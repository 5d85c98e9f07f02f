"""`--tls`: https with a CA made at start-up, and a token answer whose `api_domain` clients join as `https://{it}`."""

from __future__ import annotations

import ssl

import pytest
import requests

from mock_server.testing import MockServer


@pytest.fixture(scope="module")
def tls_mock():
    with MockServer(orders=20, tls=True, extra_args=["--oauth-auto-approve"]) as mock:
        yield mock


def test_given_tls_when_a_client_builds_the_api_url_from_the_token_answer_then_its_call_succeeds(tls_mock):
    _, tokens = tls_mock.authorization_code_grant()

    response = requests.get(
        f"https://{tokens['api_domain']}/public-api/{tls_mock.account}/integration-service/account-configuration",
        verify=str(tls_mock.ca_file),
        timeout=10,
        headers={
            "authorization": f"Bearer {tokens['access_token']}",
            "brightpearl-app-ref": tls_mock.app_ref,
            "brightpearl-dev-ref": tls_mock.dev_ref,
        },
    )

    assert tokens["api_domain"] == f"127.0.0.1:{tls_mock.port}"
    assert response.status_code == 200 and response.json()["response"]["configuration"]["accountCode"] == "acme"


def test_given_tls_when_a_client_does_not_trust_the_ca_then_the_handshake_fails(tls_mock):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tls_mock.base_url}/_mock/health", verify=True, timeout=10)


def test_given_tls_when_the_ca_file_is_loaded_by_the_stdlib_then_the_certificate_names_localhost_too(tls_mock):
    context = ssl.create_default_context(cafile=str(tls_mock.ca_file))

    with context.wrap_socket(
        __import__("socket").create_connection(("127.0.0.1", tls_mock.port), timeout=10), server_hostname="localhost"
    ) as connection:
        names = [value for kind, value in connection.getpeercert()["subjectAltName"] if kind == "DNS"]

    assert "localhost" in names


def test_given_tls_when_the_mock_stops_then_it_printed_where_the_ca_is_and_how_to_trust_it():
    mock = MockServer(orders=20, tls=True)
    with mock:
        pass

    assert f"REQUESTS_CA_BUNDLE={mock.ca_file}" in mock.output and f"curl --cacert {mock.ca_file}" in mock.output
    assert f"SSL_CERT_FILE={mock.ca_file}" in mock.output


def test_given_plain_http_when_a_token_is_issued_then_api_domain_is_the_whole_base_url():
    with MockServer(orders=20, extra_args=["--oauth-auto-approve"]) as mock:
        _, tokens = mock.authorization_code_grant()

    assert tokens["api_domain"] == mock.base_url
