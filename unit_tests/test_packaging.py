"""The Airbyte packaging: metadata.yaml, the manifest against the CDK's schema, Dockerfile, changelogs.

What needs `discover` (stream names in metadata and docs) is checked against the mock server in
integration_tests/test_standard.py: discovery reads the account's custom-field metadata."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml
from airbyte_cdk.sources.declarative.concurrent_declarative_source import get_declarative_component_schema
from airbyte_cdk.sources.declarative.parsers.custom_code_compiler import (
    COMPONENTS_MODULE_NAME,
    SDM_COMPONENTS_MODULE_NAME,
    register_components_module_from_string,
)
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import ManifestComponentTransformer
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import source_brightpearl
from source_brightpearl import components
from source_brightpearl.source import SourceBrightpearl
from unit_tests.builders import run_command

REPO_ROOT = Path(__file__).resolve().parent.parent
METADATA_SCHEMA_DIR = Path(__file__).resolve().parent / "resource" / "airbyte_metadata_schema"


def _metadata_validator():
    """Airbyte's validate_metadata.py, vendored with the schema it reads (see its SOURCE.md)."""
    spec = importlib.util.spec_from_file_location("validate_metadata", METADATA_SCHEMA_DIR / "validate_metadata.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _validate_metadata(tmp_path: Path, metadata: dict[str, Any]) -> list[str]:
    path = tmp_path / "metadata.yaml"
    path.write_text(yaml.safe_dump(metadata, sort_keys=False))
    return _metadata_validator().validate(path)


def _metadata() -> dict[str, Any]:
    return yaml.load((REPO_ROOT / "metadata.yaml").read_text(), Loader=_metadata_validator().MetadataLoader)


def _manifest() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "source_brightpearl" / "manifest.yaml").read_text())


def _manifest_schema_errors(manifest: dict[str, Any]) -> list[str]:
    """Resolves `$ref`s and `$parameters` as the CDK does before it validates, then lists every error."""
    resolved = ManifestReferenceResolver().preprocess_manifest(copy.deepcopy(manifest))
    propagated = ManifestComponentTransformer().propagate_types_and_parameters("", resolved, {})
    schema = get_declarative_component_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [message for error in validator.iter_errors(propagated) for message in _leaf_messages(error)]


def _leaf_messages(error: jsonschema.ValidationError) -> list[str]:
    """The innermost messages: a stream that fails `anyOf` reports why each branch failed."""
    if not error.context:
        return [error.message]
    return [message for branch_error in error.context for message in _leaf_messages(branch_error)]


def _manifest_error_messages(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [
            message
            for key, value in node.items()
            for message in (
                [value] if key == "error_message" and isinstance(value, str) else _manifest_error_messages(value)
            )
        ]
    if isinstance(node, list):
        return [message for value in node for message in _manifest_error_messages(value)]
    return []


def _python_error_messages() -> list[str]:
    """The literal text of the config errors and error resolutions raised in Python components."""
    source = "".join(
        (REPO_ROOT / "source_brightpearl" / name).read_text() for name in ("components.py", "source.py", "run.py")
    )
    literals = re.findall(r'(?:\bconfig_error\(|error_message=\(?)\s*f?"([^"]+)"', source)
    return [re.sub(r"\{[^}]*\}", "{{ value }}", literal) for literal in literals]


def _fixed_phrases(message: str) -> list[str]:
    """The parts of a message template between its placeholders, long enough to identify it."""
    parts = re.split(r"\{\{.*?\}\}|\{%.*?%\}", message, flags=re.S)
    phrases = [" ".join(part.replace("`", "").split()).strip(" '\".,") for part in parts]
    return [phrase for phrase in phrases if len(phrase.split()) >= 4]


def test_given_messages_the_connector_can_print_when_docs_are_read_then_troubleshooting_quotes_each():
    docs = " ".join((REPO_ROOT / "docs" / "brightpearl.md").read_text().replace("`", "").split())
    messages = _manifest_error_messages(_manifest()) + _python_error_messages()
    missing = [phrase for message in messages for phrase in _fixed_phrases(message) if phrase not in docs]
    assert messages and missing == [], f"add these to docs/brightpearl.md Troubleshooting: {missing}"


def test_given_metadata_yaml_when_validated_then_it_conforms_to_connector_metadata_definition_v0():
    errors = _metadata_validator().validate(REPO_ROOT / "metadata.yaml")
    assert errors == []


def test_given_metadata_with_an_unknown_connector_type_when_validated_then_the_validator_rejects_it(tmp_path):
    broken = _metadata()
    broken["data"]["connectorType"] = "sauce"
    errors = _validate_metadata(tmp_path, broken)
    assert any(error.startswith("$.data.connectorType") for error in errors), errors


def test_given_metadata_without_a_release_stage_when_validated_then_the_validator_names_the_missing_field(tmp_path):
    broken = _metadata()
    del broken["data"]["releaseStage"]
    errors = _validate_metadata(tmp_path, broken)
    assert any("'releaseStage' is a required property" in error for error in errors), errors


def test_given_manifest_when_validated_against_the_cdk_component_schema_then_it_has_no_errors():
    assert _manifest_schema_errors(_manifest()) == []


def test_given_manifest_with_an_unsupported_http_method_when_validated_then_the_cdk_schema_rejects_it():
    broken = _manifest()
    broken["definitions"]["base_requester"]["http_method"] = "PATCH"  # the schema allows GET and POST
    assert any("'PATCH' is not one of" in error for error in _manifest_schema_errors(broken))


def test_given_spec_datacenters_when_compared_with_metadata_then_every_datacenter_is_an_allowed_host():
    spec = run_command("spec").spec_messages[0].spec.connectionSpecification
    allowed = set(_metadata()["data"]["allowedHosts"]["hosts"])
    assert set(spec["properties"]["datacenter"]["enum"]) <= allowed


def test_given_metadata_when_compared_with_the_package_then_image_tag_version_and_docs_url_agree():
    data = _metadata()["data"]
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    spec = run_command("spec").spec_messages[0].spec
    assert data["dockerImageTag"] == project["version"]
    assert data["documentationUrl"] == spec.documentationUrl


def test_given_metadata_documentation_url_when_read_then_it_names_a_page_of_this_repository():
    url = _metadata()["data"]["documentationUrl"]
    page = re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+/blob/main/(.+)", url)
    assert page is not None, f"{url} is not a page of a GitHub repository's main branch"
    assert (REPO_ROOT / page.group(1)).is_file()


def test_given_metadata_icon_when_read_then_it_is_an_svg_drawing_in_the_repository():
    root = ElementTree.parse(REPO_ROOT / _metadata()["data"]["icon"]).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox"), root.attrib
    assert len(root) > 1


def test_given_metadata_docker_repository_when_read_then_it_is_outside_airbytes_own_namespace():
    assert not _metadata()["data"]["dockerRepository"].startswith(("airbyte/", "docker.io/airbyte/"))


@pytest.mark.parametrize("document", ["README.md", "Dockerfile"])
def test_given_metadata_image_when_build_instructions_are_read_then_they_tag_it(document):
    data = _metadata()["data"]
    assert (
        f"docker build -t {data['dockerRepository']}:{data['dockerImageTag']} ." in (REPO_ROOT / document).read_text()
    )


def test_given_dockerfile_when_compared_with_metadata_then_it_builds_from_the_declared_base_image():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    default_base = re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert default_base is not None, "Dockerfile must default BASE_IMAGE"
    assert default_base.group(1) == _metadata()["data"]["connectorBuildOptions"]["baseImage"]


def _constraints() -> dict[str, str]:
    pins = [
        line.split("==")
        for line in (REPO_ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    return {canonicalize_name(name): version for name, version in pins}


def _declared_requirements() -> list[Requirement]:
    """The connector's dependencies and every extra's, but the extras' references to the project itself."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(text) for text in project["dependencies"]]
    declared += [Requirement(text) for extra in project["optional-dependencies"].values() for text in extra]
    return [requirement for requirement in declared if canonicalize_name(requirement.name) != project["name"]]


def test_given_constraints_txt_when_compared_with_pyproject_then_it_pins_each_dependency_within_its_range():
    pins = _constraints()
    unmet = {
        str(requirement): pins.get(canonicalize_name(requirement.name))
        for requirement in _declared_requirements()
        if pins.get(canonicalize_name(requirement.name)) not in requirement.specifier
    }
    assert unmet == {}, "run scripts/constraints.sh"


def _run_entry_point(*args: str, prelude: str = "", cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    """The console script `source-brightpearl ARGS`, in a new interpreter after `prelude`."""
    code = f"{prelude}\nimport sys\nfrom source_brightpearl.run import run\nsys.argv[1:] = {list(args)!r}\nrun()"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def _spec_messages(result: subprocess.CompletedProcess) -> list[dict[str, Any]]:
    return [
        message
        for line in result.stdout.splitlines()
        if line.startswith("{")
        for message in [json.loads(line)]
        if message["type"] == "SPEC"
    ]


def test_given_a_folder_holding_another_manifest_when_spec_runs_there_then_it_prints_the_packages_spec(tmp_path):
    impostor = {
        "version": "7.0.0",
        "type": "DeclarativeSource",
        "streams": [],
        "spec": {"type": "Spec", "connection_specification": {"title": "Not Brightpearl", "type": "object"}},
    }
    (tmp_path / "manifest.yaml").write_text(yaml.safe_dump(impostor))
    result = _run_entry_point("spec", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    spec = _spec_messages(result)[0]["spec"]["connectionSpecification"]
    assert spec == run_command("spec").spec_messages[0].spec.connectionSpecification


def test_given_the_mock_server_and_its_web_stack_cannot_be_imported_when_spec_runs_then_it_succeeds():
    blocked = "import sys\nsys.modules.update(dict.fromkeys(['mock_server', 'starlette', 'uvicorn', 'jsonpatch']))"
    result = _run_entry_point("spec", prelude=blocked)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(_spec_messages(result)) == 1


@pytest.mark.skipif(importlib.util.find_spec("boto3") is None, reason="boto3 is not installed (as in the image)")
def test_given_boto3_installed_when_the_entry_point_is_imported_then_boto3_is_not():
    # requests_cache's DynamoDB backend would import it: 9 MB of every start's memory (bench/PROFILE.md).
    code = "import sys\nimport source_brightpearl.run\nprint(sorted({'boto3', 'botocore'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_given_the_package_when_imported_then_it_exports_the_source_class():
    assert source_brightpearl.SourceBrightpearl is SourceBrightpearl


def _manifest_class_names(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["class_name"]] if "class_name" in node else []
        return own + [name for value in node.values() for name in _manifest_class_names(value)]
    return [name for value in node for name in _manifest_class_names(value)] if isinstance(node, list) else []


def _manifest_class_name_tails() -> set[str]:
    prefix = f"{SDM_COMPONENTS_MODULE_NAME}."
    class_names = _manifest_class_names(_manifest())
    assert class_names and all(name.startswith(prefix) for name in class_names), sorted(set(class_names))
    return {name.removeprefix(prefix) for name in class_names}


def test_given_manifest_class_names_when_read_then_each_names_a_class_of_components_py_under_the_runtimes_name():
    assert all(isinstance(getattr(components, name, None), type) for name in _manifest_class_name_tails())


def test_given_components_py_as_text_when_the_cdks_loader_registers_it_then_it_holds_every_class_the_manifest_names():
    text = (REPO_ROOT / "source_brightpearl" / "components.py").read_text()
    # The loader registers what it builds under both names: what they named before is put back after.
    registered = {name: sys.modules.get(name) for name in (SDM_COMPONENTS_MODULE_NAME, COMPONENTS_MODULE_NAME)}
    try:
        injected = register_components_module_from_string(text, {"md5": hashlib.md5(text.encode()).hexdigest()})
    finally:
        for name, module in registered.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module

    assert all(isinstance(getattr(injected, name, None), type) for name in _manifest_class_name_tails())


def test_given_another_components_module_registered_when_the_source_is_built_then_it_uses_the_packages(monkeypatch):
    monkeypatch.setitem(sys.modules, SDM_COMPONENTS_MODULE_NAME, ModuleType(COMPONENTS_MODULE_NAME))

    SourceBrightpearl()

    assert sys.modules[SDM_COMPONENTS_MODULE_NAME] is components


@pytest.mark.parametrize("document", ["CHANGELOG.md", "docs/brightpearl.md"])
def test_given_metadata_image_tag_when_changelogs_are_read_then_each_has_an_entry_for_it(document):
    version = _metadata()["data"]["dockerImageTag"]
    text = (REPO_ROOT / document).read_text()
    assert re.search(rf"^(## {re.escape(version)}\b|\| {re.escape(version)} +\|)", text, re.MULTILINE)
