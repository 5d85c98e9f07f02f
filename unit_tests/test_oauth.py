"""OAuth instance apps: the spec option and advanced_auth, request headers, refresh, and the helper's file writing."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_brightpearl import oauth_cli
from source_brightpearl.components import TokenAnswer
from unit_tests.builders import ACCOUNT, APP_REF, ConfigBuilder, api_url, run_command, run_read

DEV_REF = "acme-dev"
API_DOMAIN = "use1.brightpearlconnect.com"
# Long and distinctive (and with `+ / =`, as Brightpearl's are), so a leak cannot be a coincidence.
ACCESS_TOKEN = "unit+oauth/access=token-3c8e1f"
REFRESH_TOKEN = "unit+oauth/refresh=token-9a4d2b"
NEW_ACCESS_TOKEN = "unit-new-access-token-5e7a0c"
NEW_REFRESH_TOKEN = "unit-new-refresh-token-1b6f3d"
TOKEN_URL = f"https://oauth.brightpearl.com/token/{ACCOUNT}"
STATUSES = {"response": [{"statusId": 1, "name": "Draft / Quote", "orderTypeCode": "SO"}]}


def _oauth_config(expiry: str = "2999-01-01T00:00:00+00:00"):
    return (
        ConfigBuilder()
        .with_fields(
            credentials={
                "auth_type": "oauth",
                "client_id": APP_REF,
                "dev_ref": DEV_REF,
                "access_token": ACCESS_TOKEN,
                "refresh_token": REFRESH_TOKEN,
                "token_expiry_date": expiry,
                "api_domain": API_DOMAIN,
            }
        )
        .build()
    )


def _oauth_option():
    spec = run_command("spec").spec_messages[0].spec
    options = spec.connectionSpecification["properties"]["credentials"]["oneOf"]
    return spec, next(option for option in options if option["properties"]["auth_type"]["const"] == "oauth")


def test_when_spec_then_the_oauth_option_marks_tokens_and_secret_as_secrets_and_refs_not():
    _, option = _oauth_option()

    properties = option["properties"]
    assert all(properties[name]["airbyte_secret"] for name in ("client_secret", "access_token", "refresh_token"))
    assert not any(properties[name].get("airbyte_secret") for name in ("client_id", "dev_ref", "api_domain"))
    assert set(option["required"]) == {"auth_type", "client_id", "dev_ref", "refresh_token"}


def test_when_spec_then_advanced_auth_puts_the_account_code_in_the_authorize_and_token_urls():
    spec, _ = _oauth_option()

    auth = spec.advanced_auth
    flow = auth.oauth_config_specification.oauth_connector_input_specification
    assert (auth.predicate_key, auth.predicate_value) == (["credentials", "auth_type"], "oauth")
    assert flow.consent_url.startswith("https://oauth.brightpearl.com/authorize/{{account_code}}?")
    assert flow.access_token_url == "https://oauth.brightpearl.com/token/{{account_code}}"
    outputs = auth.oauth_config_specification.complete_oauth_output_specification["properties"]
    assert {name: value["path_in_connector_config"] for name, value in outputs.items()} == {
        "access_token": ["credentials", "access_token"],
        "refresh_token": ["credentials", "refresh_token"],
        "token_expiry_date": ["credentials", "token_expiry_date"],
        "api_domain": ["credentials", "api_domain"],
    }


def test_given_a_valid_oauth_token_when_read_then_bearer_app_ref_and_dev_ref_go_to_the_token_api_domain():
    with responses.RequestsMock() as mocked:
        mocked.get(api_url("order-service/order-status", f"https://{API_DOMAIN}"), json=STATUSES)
        run_read(_oauth_config(), "order_statuses")
        request = mocked.calls[0].request

    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert (request.headers["brightpearl-app-ref"], request.headers["brightpearl-dev-ref"]) == (APP_REF, DEV_REF)


def test_given_a_stored_token_past_its_expiry_when_read_then_it_refreshes_form_encoded_first():
    with responses.RequestsMock() as mocked:
        mocked.post(
            TOKEN_URL,
            json={
                "access_token": NEW_ACCESS_TOKEN,
                "refresh_token": NEW_REFRESH_TOKEN,
                "api_domain": API_DOMAIN,
                "token_type": "Bearer",
                "expires_in": 604800,
            },
        )
        mocked.get(api_url("order-service/order-status", f"https://{API_DOMAIN}"), json=STATUSES)
        output = run_read(_oauth_config(expiry="2000-01-01T00:00:00+00:00"), "order_statuses")
        refresh, api_call = mocked.calls[0].request, mocked.calls[1].request

    assert refresh.headers["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(refresh.body)
    assert (form["grant_type"], form["refresh_token"], form["client_id"]) == (
        ["refresh_token"],
        [REFRESH_TOKEN],
        [APP_REF],
    )
    assert "client_secret" not in form
    assert api_call.headers["authorization"] == f"Bearer {NEW_ACCESS_TOKEN}"
    assert len(output.records) == 1


def test_given_a_401_token_expired_when_read_then_it_refreshes_and_retries_the_call():
    url = api_url("order-service/order-status", f"https://{API_DOMAIN}")
    with responses.RequestsMock() as mocked:
        mocked.get(url, status=401, json={"response": "Authorization token expired"})
        mocked.post(
            TOKEN_URL, json={"access_token": NEW_ACCESS_TOKEN, "refresh_token": NEW_REFRESH_TOKEN, "expires_in": 604800}
        )
        mocked.get(url, json=STATUSES)
        output = run_read(_oauth_config(), "order_statuses")
        retried = mocked.calls[2].request

    assert retried.headers["authorization"] == f"Bearer {NEW_ACCESS_TOKEN}"
    assert [record.record.data["statusId"] for record in output.records] == [1]


def test_given_a_stored_expiry_that_is_not_a_date_when_read_then_the_token_is_refreshed_instead_of_crashing():
    with responses.RequestsMock() as mocked:
        mocked.post(
            TOKEN_URL, json={"access_token": NEW_ACCESS_TOKEN, "refresh_token": NEW_REFRESH_TOKEN, "expires_in": 604800}
        )
        mocked.get(api_url("order-service/order-status", f"https://{API_DOMAIN}"), json=STATUSES)
        output = run_read(_oauth_config(expiry="soon"), "order_statuses")
        api_call = mocked.calls[1].request

    assert api_call.headers["authorization"] == f"Bearer {NEW_ACCESS_TOKEN}"
    assert len(output.records) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"access_token": None},
        {"access_token": ""},
        {"access_token": "  \n"},
        {"access_token": 42},
        {"access_token": "one\ntwo"},
        [NEW_ACCESS_TOKEN],
        "access_token",
        None,
    ],
)
def test_given_a_token_answer_without_a_usable_access_token_when_read_then_it_is_refused_as_transient(body):
    with pytest.raises(AirbyteTracedException) as refused:
        TokenAnswer.from_body(body, TOKEN_URL)

    assert refused.value.failure_type == FailureType.transient_error
    assert "without an access token" in refused.value.message


@pytest.mark.parametrize(
    "refresh_token, kept",
    [
        (f" {NEW_REFRESH_TOKEN}\n", NEW_REFRESH_TOKEN),
        ("", None),
        ("   ", None),
        (None, None),
        (42, None),
        ("one\ntwo", None),
    ],
)
def test_given_a_token_answer_when_read_then_only_a_non_empty_refresh_token_replaces_the_stored_one(
    refresh_token, kept
):
    answer = TokenAnswer.from_body({"access_token": NEW_ACCESS_TOKEN, "refresh_token": refresh_token}, TOKEN_URL)

    assert (answer.access_token, answer.refresh_token) == (NEW_ACCESS_TOKEN, kept)


@pytest.mark.parametrize(
    "expires_in, seconds",
    [
        (604800, 604800),
        ("537227", 537227),
        (3600.5, 3600.5),
        (0, None),
        (-604800, None),
        ("soon", None),
        (True, None),
        (1e300, None),
        (float("nan"), None),
        (None, None),
        (32 * 86400, None),
        ({"days": 7}, None),
    ],
)
def test_given_an_expires_in_when_read_then_only_a_plausible_lifetime_is_kept(expires_in, seconds):
    answer = TokenAnswer.from_body({"access_token": NEW_ACCESS_TOKEN, "expires_in": expires_in}, TOKEN_URL)

    assert answer.lifetime == (timedelta(seconds=seconds) if seconds is not None else None)


def test_given_the_refresh_token_is_refused_when_read_then_a_config_error_says_to_re_authenticate():
    with responses.RequestsMock() as mocked:
        mocked.post(
            TOKEN_URL,
            status=400,
            json={"error": "invalid_grant", "error_description": "The auth token has either expired or does not exist"},
        )
        output = run_read(_oauth_config(expiry="2000-01-01T00:00:00+00:00"), "order_statuses", expect_failure=True)

    errors = [message.trace.error for message in output.errors]
    assert errors and errors[0].failure_type.value == "config_error"
    assert "re-authenticate" in errors[0].message.lower()
    output_text = "\n".join(str(message) for message in output.get_message_iterator())
    assert [token for token in (ACCESS_TOKEN, REFRESH_TOKEN) if token in output_text] == []


def test_given_an_existing_config_when_rotated_tokens_are_saved_then_only_token_fields_change_and_mode_is_0600(
    tmp_path,
):
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({**_oauth_config(), "start_date": "2024-01-01T00:00:00Z"}))
    rotated = {
        **_oauth_config(),
        "base_url": "https://derived.example",
        "credentials": {
            **_oauth_config()["credentials"],
            "refresh_token": NEW_REFRESH_TOKEN,
            "access_token": NEW_ACCESS_TOKEN,
            "client_id": "not-copied",
        },
    }

    oauth_cli.save_rotated_tokens(config_path, rotated)

    saved = json.loads(config_path.read_text())
    assert saved["credentials"]["refresh_token"] == NEW_REFRESH_TOKEN
    assert saved["credentials"]["access_token"] == NEW_ACCESS_TOKEN
    assert saved["credentials"]["client_id"] == APP_REF and "base_url" not in saved
    assert saved["start_date"] == "2024-01-01T00:00:00Z"
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["config.json"]


def test_given_an_oauth_host_when_building_the_authorize_url_then_the_account_code_is_in_its_path():
    url = oauth_cli.authorize_url("oauth.brightpearlapp.com", ACCOUNT, APP_REF, "http://127.0.0.1:8976/callback", "s1")

    assert url == (
        "https://oauth.brightpearlapp.com/authorize/acme?response_type=code&client_id=acme-analytics"
        "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8976%2Fcallback&state=s1"
    )
