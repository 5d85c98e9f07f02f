"""Credentials of all three kinds, the proxy's 401 bodies, and the rolling-minute budget."""

from __future__ import annotations

import requests

from mock_server.errors import NOT_AUTHENTICATED, TOKEN_EXPIRED, TOO_MANY_REQUESTS

CONFIG = "integration-service/account-configuration"


def _get(mock, headers, path=CONFIG):
    return requests.get(mock.api_url(path), headers=headers, timeout=10)


def test_given_the_private_app_account_token_when_calling_then_200(mock):
    response = _get(mock, mock.auth_headers())

    assert response.status_code == 200
    assert response.json()["response"]["configuration"]["baseCurrencyCode"] == "USD"


def test_given_a_staff_token_with_the_app_ref_when_calling_then_200(mock):
    response = _get(mock, {"brightpearl-app-ref": mock.app_ref, "brightpearl-staff-token": mock.staff_token})

    assert response.status_code == 200


def test_given_no_credentials_when_calling_then_401_with_a_bare_response_string(mock):
    response = _get(mock, {})

    assert response.status_code == 401
    assert response.json() == {"response": NOT_AUTHENTICATED}
    assert "www-authenticate" not in response.headers


def test_given_a_wrong_account_token_or_app_ref_when_calling_then_401(mock):
    wrong_token = {"brightpearl-app-ref": mock.app_ref, "brightpearl-account-token": "not-the-token"}
    wrong_app = {"brightpearl-app-ref": "someone-else", "brightpearl-account-token": mock.account_token}

    assert _get(mock, wrong_token).json() == {"response": NOT_AUTHENTICATED}
    assert _get(mock, wrong_app).status_code == 401


def test_given_an_issued_bearer_token_with_app_and_dev_ref_when_calling_then_200(mock):
    token = mock.control("POST", "tokens", {"expires_in": 3600})["access_token"]
    headers = {
        "authorization": f"Bearer {token}",
        "brightpearl-app-ref": mock.app_ref,
        "brightpearl-dev-ref": mock.dev_ref,
    }

    assert _get(mock, headers).status_code == 200
    assert _get(mock, {**headers, "brightpearl-dev-ref": "other-dev"}).status_code == 401


def test_given_a_bearer_token_past_its_expiry_when_calling_then_401_authorization_token_expired(mock):
    token = mock.control("POST", "tokens", {"expires_in": 60})["access_token"]
    headers = {
        "authorization": f"Bearer {token}",
        "brightpearl-app-ref": mock.app_ref,
        "brightpearl-dev-ref": mock.dev_ref,
    }

    mock.advance_clock(61)
    response = _get(mock, headers)

    assert response.status_code == 401
    assert response.json() == {"response": TOKEN_EXPIRED}


def test_given_an_unknown_bearer_token_when_calling_then_401_invalid_instance_token(mock):
    response = _get(
        mock, {"authorization": "Bearer nope", "brightpearl-app-ref": mock.app_ref, "brightpearl-dev-ref": mock.dev_ref}
    )

    assert response.status_code == 401
    assert response.json() == {"response": "Invalid instance token: nope"}


def test_given_an_unknown_account_when_calling_then_a_real_looking_404(mock):
    response = requests.get(f"{mock.base_url}/public-api/nosuch/{CONFIG}", headers=mock.auth_headers(), timeout=10)

    assert response.status_code == 404
    assert response.json() == {"errors": [{"code": "CMNC-404", "message": "Cannot find the account: nosuch"}]}


def test_given_an_unknown_route_when_calling_then_the_real_404_envelope(mock):
    response = _get(mock, mock.auth_headers(), "order-service/no-such-thing")

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "CMNC-404"


def test_given_any_response_when_received_then_both_throttle_headers_are_present(mock):
    mock.set_rate_limit(200)
    responses = [_get(mock, mock.auth_headers()), _get(mock, {}), _get(mock, mock.auth_headers(), "nope-service/x")]

    for response in responses:
        assert 0 <= int(response.headers["brightpearl-requests-remaining"]) <= 199
        assert 0 < int(response.headers["brightpearl-next-throttle-period"]) <= 60000


def test_given_consecutive_calls_including_401s_when_counted_then_remaining_decrements_by_one_each(mock):
    mock.set_rate_limit(200)

    remaining = [
        int(_get(mock, headers).headers["brightpearl-requests-remaining"])
        for headers in (mock.auth_headers(), {}, mock.auth_headers())
    ]

    assert remaining == [199, 198, 197]


def test_given_the_budget_is_spent_when_calling_then_503_with_the_real_body_until_the_window_rolls(mock):
    mock.set_rate_limit(5)
    statuses = [_get(mock, mock.auth_headers()).status_code for _ in range(5)]

    throttled = _get(mock, mock.auth_headers())

    assert statuses == [200] * 5
    assert throttled.status_code == 503
    assert throttled.json() == {"response": TOO_MANY_REQUESTS}
    assert throttled.headers["brightpearl-requests-remaining"] == "0"
    mock.advance_clock(60)
    assert _get(mock, mock.auth_headers()).status_code == 200


def test_given_calls_when_stats_are_read_then_counts_are_per_route_and_status(mock):
    _get(mock, mock.auth_headers())
    _get(mock, {})
    requests.get(mock.api_url("order-service/order-search"), headers=mock.auth_headers(), timeout=10)

    routes = mock.stats()["routes"]

    assert routes["GET integration-service/account-configuration"] == {"200": 1}
    assert routes["GET order-service/order-search"] == {"200": 1}
    assert mock.stats()["total"] == 3
