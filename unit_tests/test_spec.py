from unit_tests.builders import run_command

DATACENTERS = {
    "euw1.brightpearlconnect.com",
    "use1.brightpearlconnect.com",
    "ws-eu1.brightpearl.com",
    "ws-eu2.brightpearl.com",
    "ws-use.brightpearl.com",
    "ws-usw.brightpearl.com",
    "ws-ap1.brightpearl.com",
}


def _connection_specification():
    output = run_command("spec")
    assert len(output.spec_messages) == 1
    return output.spec_messages[0].spec.connectionSpecification


def test_given_no_config_when_spec_then_account_code_and_credentials_are_required():
    spec = _connection_specification()
    assert set(spec["required"]) == {"account_code", "credentials"}
    assert spec["properties"]["account_code"]["type"] == "string"


def test_when_spec_then_datacenter_is_an_enum_of_the_real_hosts_defaulting_to_euw1():
    datacenter = _connection_specification()["properties"]["datacenter"]
    assert set(datacenter["enum"]) == DATACENTERS
    assert datacenter["default"] == "euw1.brightpearlconnect.com"


def test_when_spec_then_credentials_are_a_one_of_keyed_by_an_auth_type_const():
    options = _connection_specification()["properties"]["credentials"]["oneOf"]
    auth_types = {option["properties"]["auth_type"]["const"]: option for option in options}
    assert set(auth_types) == {"account_token", "staff_token", "oauth"}
    assert set(auth_types["account_token"]["required"]) == {"auth_type", "app_ref", "account_token"}
    assert set(auth_types["staff_token"]["required"]) == {"auth_type", "app_ref", "staff_token"}


def test_when_spec_then_tokens_are_secrets_and_app_ref_is_not():
    options = _connection_specification()["properties"]["credentials"]["oneOf"]
    # The OAuth option's secrets are checked in test_oauth_spec.py.
    for option in [option for option in options if option["properties"]["auth_type"]["const"] != "oauth"]:
        token_field = option["properties"]["auth_type"]["const"]
        assert option["properties"][token_field]["airbyte_secret"] is True
        assert not option["properties"]["app_ref"].get("airbyte_secret")


def test_when_spec_then_start_date_is_an_optional_date_time_and_api_domain_optional():
    spec = _connection_specification()
    assert spec["properties"]["start_date"]["format"] == "date-time"
    assert "start_date" not in spec["required"]
    assert "api_domain" in spec["properties"] and "api_domain" not in spec["required"]
