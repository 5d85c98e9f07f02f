"""The OAuth instance-app flow: authorize page, token endpoint at its three URLs, refresh rotation, expiry."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from mock_server.errors import TOKEN_EXPIRED
from mock_server.oauth import REDIRECT_MISMATCH, UNKNOWN_TOKEN
from mock_server.testing import MockServer

REDIRECT_URI = "http://127.0.0.1:8976/callback"
CONFIG = "integration-service/account-configuration"
CONFIDENTIAL_SECRET = "mock-client-secret-e41b7d"


@pytest.fixture(scope="module")
def confidential_mock():
    """A mock whose app is confidential and whose authorize page approves without a click."""
    with MockServer(orders=20, extra_args=["--oauth-auto-approve", "--client-secret", CONFIDENTIAL_SECRET]) as mock:
        yield mock


def _authorize_params(mock, **overrides):
    return {
        "response_type": "code",
        "client_id": mock.app_ref,
        "redirect_uri": REDIRECT_URI,
        "state": "st-1",
        **overrides,
    }


def _click(mock, decision="approve", **overrides) -> requests.Response:
    """What the browser sends when the user clicks a button on the authorize page."""
    return requests.post(
        f"{mock.base_url}/authorize/{mock.account}",
        data={**_authorize_params(mock, **overrides), "decision": decision},
        allow_redirects=False,
        timeout=10,
    )


def _redirect_query(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def _code(mock) -> str:
    return _redirect_query(_click(mock))["code"]


def _token(mock, url_path: str | None = None, **form) -> requests.Response:
    return requests.post(f"{mock.base_url}{url_path or f'/token/{mock.account}'}", data=form, timeout=10)


def _exchange(mock, code: str, **overrides) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": mock.app_ref,
        "redirect_uri": REDIRECT_URI,
        **overrides,
    }
    return _token(mock, **form)


def _bearer_call(mock, access_token: str) -> requests.Response:
    headers = {
        "authorization": f"Bearer {access_token}",
        "brightpearl-app-ref": mock.app_ref,
        "brightpearl-dev-ref": mock.dev_ref,
    }
    return requests.get(mock.api_url(CONFIG), headers=headers, timeout=10)


def test_given_no_auto_approve_when_opening_the_authorize_url_then_a_page_asks_to_approve_the_app(mock):
    response = requests.get(
        f"{mock.base_url}/authorize/{mock.account}", params=_authorize_params(mock), allow_redirects=False, timeout=10
    )

    assert response.status_code == 200
    assert "id='approve'" in response.text and mock.app_ref in response.text


def test_given_the_authorize_page_when_approve_is_clicked_then_it_redirects_with_a_code_and_the_state(mock):
    query = _redirect_query(_click(mock))

    assert query["state"] == "st-1"
    assert len(query["code"]) >= 20


def test_given_the_authorize_page_when_deny_is_clicked_then_it_redirects_with_access_denied(mock):
    query = _redirect_query(_click(mock, decision="deny"))

    assert query == {"error": "access_denied", "state": "st-1"}


def test_given_an_unknown_client_id_when_authorizing_then_an_error_page_and_no_redirect(mock):
    response = requests.get(
        f"{mock.base_url}/authorize/{mock.account}",
        params=_authorize_params(mock, client_id="someone-else"),
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 400
    assert "location" not in response.headers


def test_given_auto_approve_when_opening_the_authorize_url_then_it_redirects_with_a_code_at_once(confidential_mock):
    response = requests.get(
        f"{confidential_mock.base_url}/authorize/{confidential_mock.account}",
        params=_authorize_params(confidential_mock),
        allow_redirects=False,
        timeout=10,
    )

    assert "code" in _redirect_query(response)


@pytest.mark.parametrize(
    "url_path, extra",
    [
        ("/token/acme", {}),
        ("/acme/oauth/token", {}),
        ("/oauth/token", {"account_code": "acme"}),
    ],
)
def test_given_a_code_when_exchanged_at_each_recorded_token_url_then_snake_case_tokens_for_seven_days(
    mock, url_path, extra
):
    response = _token(
        mock,
        url_path,
        grant_type="authorization_code",
        code=_code(mock),
        client_id=mock.app_ref,
        redirect_uri=REDIRECT_URI,
        **extra,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "access_token",
        "refresh_token",
        "installation_instance_id",
        "api_domain",
        "token_type",
        "expires_in",
    }
    assert (body["expires_in"], body["token_type"], body["api_domain"]) == (604800, "Bearer", mock.base_url)


def test_given_tokens_from_the_code_grant_when_calling_the_api_with_them_then_200(mock):
    access_token = _exchange(mock, _code(mock)).json()["access_token"]

    assert _bearer_call(mock, access_token).status_code == 200


def test_given_a_code_already_exchanged_when_exchanged_again_then_invalid_grant(mock):
    code = _code(mock)
    _exchange(mock, code)

    response = _exchange(mock, code)

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": UNKNOWN_TOKEN}


def test_given_a_code_past_ten_minutes_when_exchanged_then_invalid_grant(mock):
    code = _code(mock)
    mock.advance_clock(601)

    assert _exchange(mock, code).json()["error"] == "invalid_grant"


def test_given_another_redirect_uri_when_exchanging_then_invalid_grant_redirect_mismatch(mock):
    response = _exchange(mock, _code(mock), redirect_uri="http://127.0.0.1:1/other")

    assert response.json() == {"error": "invalid_grant", "error_description": REDIRECT_MISMATCH}


def test_given_a_wrong_client_id_when_exchanging_then_invalid_client(mock):
    response = _exchange(mock, _code(mock), client_id="someone-else")

    assert (response.status_code, response.json()) == (400, {"error": "invalid_client"})


def test_given_a_json_body_when_exchanging_then_invalid_request(mock):
    response = requests.post(
        f"{mock.base_url}/token/{mock.account}",
        timeout=10,
        json={
            "grant_type": "authorization_code",
            "code": _code(mock),
            "client_id": mock.app_ref,
            "redirect_uri": REDIRECT_URI,
        },
    )

    assert response.json()["error"] == "invalid_request"


def test_given_a_refresh_token_when_refreshing_then_new_tokens_without_installation_id(mock):
    first = _exchange(mock, _code(mock)).json()

    response = _token(mock, grant_type="refresh_token", refresh_token=first["refresh_token"], client_id=mock.app_ref)

    body = response.json()
    assert response.status_code == 200
    assert body["refresh_token"] != first["refresh_token"] and body["access_token"] != first["access_token"]
    assert "installation_instance_id" not in body
    assert _bearer_call(mock, body["access_token"]).status_code == 200


def test_given_a_refresh_token_already_used_when_refreshing_again_then_invalid_grant(mock):
    refresh_token = _exchange(mock, _code(mock)).json()["refresh_token"]
    _token(mock, grant_type="refresh_token", refresh_token=refresh_token, client_id=mock.app_ref)

    response = _token(mock, grant_type="refresh_token", refresh_token=refresh_token, client_id=mock.app_ref)

    assert response.json() == {"error": "invalid_grant", "error_description": UNKNOWN_TOKEN}


def test_given_an_access_token_when_the_clock_passes_seven_days_then_401_expired_and_refresh_still_works(mock):
    tokens = _exchange(mock, _code(mock)).json()

    mock.advance_clock(604801)

    expired = _bearer_call(mock, tokens["access_token"])
    assert (expired.status_code, expired.json()) == (401, {"response": TOKEN_EXPIRED})
    assert "www-authenticate" not in expired.headers
    refreshed = _token(mock, grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=mock.app_ref)
    assert _bearer_call(mock, refreshed.json()["access_token"]).status_code == 200


def test_given_an_expire_tokens_fault_after_one_call_when_calling_twice_then_the_second_call_is_401_expired(mock):
    access_token = _exchange(mock, _code(mock)).json()["access_token"]
    mock.add_fault(kind="expire_tokens", after=1)

    assert _bearer_call(mock, access_token).status_code == 200
    assert _bearer_call(mock, access_token).json() == {"response": TOKEN_EXPIRED}
    assert _bearer_call(mock, access_token).status_code == 401


def test_given_a_confidential_app_when_exchanging_without_the_secret_then_invalid_client(confidential_mock):
    response = _exchange(confidential_mock, _code(confidential_mock))

    assert response.json() == {"error": "invalid_client"}


def test_given_a_confidential_app_when_exchanging_with_the_secret_then_tokens(confidential_mock):
    response = _exchange(confidential_mock, _code(confidential_mock), client_secret=CONFIDENTIAL_SECRET)

    assert response.status_code == 200 and "access_token" in response.json()
