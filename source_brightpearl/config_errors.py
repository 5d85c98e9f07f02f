"""The wording of config errors: which field of a config breaks the spec, and how, without quoting a secret.

The components raise `config_error` (components.py, which Airbyte's declarative runtime loads on its own);
the package's entry point and source add the field-named messages below, which the CDK's own spec check
does not give.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from source_brightpearl.components import config_error


def check_config_against_spec(config: Mapping[str, Any], connection_specification: Mapping[str, Any]) -> None:
    """Raises a config error naming the first field of `config` that breaks the spec.

    The CDK's check quotes jsonschema's message, which names the value and not the field ("-5 is
    less than the minimum of 0"), says only "is not valid under any of the given schemas" for any
    problem inside `credentials`, and quotes whole objects, tokens included.
    """
    error = next(Draft7Validator(connection_specification).iter_errors(config), None)
    if error is not None:
        raise config_error(_describe_spec_violation(error))


def _describe_spec_violation(error: ValidationError) -> str:
    error = _error_of_selected_option(error)
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        missing = next(name for name in error.validator_value if name not in error.instance)
        return f"Config field '{'.'.join(path + [missing])}' is required but missing."
    if error.validator == "oneOf":
        return _describe_unselected_option(error, path)
    subject = f"Config field '{'.'.join(path)}'" if path else "The config"
    rules = {
        "type": lambda expected: (
            "must be "
            + " or ".join(
                _TYPE_NAMES.get(name, name) for name in (expected if isinstance(expected, list) else [expected])
            )
        ),
        "minLength": lambda expected: "must not be empty" if expected == 1 else f"needs at least {expected} characters",
        "pattern": lambda expected: (
            f"must have the form {error.schema['pattern_descriptor']}"
            if "pattern_descriptor" in error.schema
            else f"must match the regular expression {expected}"
        ),
        "enum": lambda expected: "must be one of " + ", ".join(f"'{value}'" for value in expected),
        "const": lambda expected: f"must be '{expected}'",
        "minimum": lambda expected: f"must be at least {expected}",
        "maximum": lambda expected: f"must be at most {expected}",
    }
    rule = rules[error.validator](error.validator_value) if error.validator in rules else None
    if _mayquote_value(error.schema) and error.validator != "minLength":
        return f"{subject} {rule}, not {quote_value(error.instance)}." if rule else f"{subject}: {error.message}."
    return f"{subject} {rule or f'breaks the rule {error.validator} {error.validator_value}'}."


def _error_of_selected_option(error: ValidationError) -> ValidationError:
    """For a `oneOf` failure (`credentials`), the first error inside the option the config's
    discriminator (`auth_type`) selects, when exactly one option's `const` matched."""
    while error.validator == "oneOf" and error.context:
        failures_by_option: dict[Any, list[ValidationError]] = {}
        for failure in error.context:
            failures_by_option.setdefault(failure.schema_path[0], []).append(failure)
        selected = [
            failures
            for failures in failures_by_option.values()
            if not any(failure.validator == "const" for failure in failures)
        ]
        if len(selected) != 1:
            break
        error = selected[0][0]
    return error


def _describe_unselected_option(error: ValidationError, path: list[str]) -> str:
    """No option matched: name the discriminator (the property every option fixes with `const`)."""
    options = error.validator_value
    discriminators = set.intersection(
        *({name for name, schema in option.get("properties", {}).items() if "const" in schema} for option in options)
    )
    if not discriminators or not isinstance(error.instance, Mapping):
        return f"Config field '{'.'.join(path)}' matches none of its {len(options)} options."
    name = sorted(discriminators)[0]
    allowed = ", ".join(f"'{option['properties'][name]['const']}'" for option in options)
    given = f", not {quote_value(error.instance[name])}" if name in error.instance else " and is missing"
    return f"Config field '{'.'.join(path + [name])}' must be one of {allowed}{given}."


_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
}


def _mayquote_value(schema: Mapping[str, Any]) -> bool:
    """A value may appear in a message unless it is, or holds, a secret."""
    return "airbyte_secret" not in json.dumps(schema)


def quote_value(value: Any) -> str:
    text = f"'{value}'" if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def close_matches(name: str, known: list[str]) -> str:
    matches = difflib.get_close_matches(name, known, n=3)
    return f" (did you mean {' or '.join(repr(match) for match in matches)}?)" if matches else ""
