"""The session's manifest cache (unit_tests/conftest.py) saves the work of building a source, never a check:
each source gets a copy of its own, and a manifest of other content is resolved and validated anew."""

from __future__ import annotations

from typing import Any

import pytest

from source_brightpearl.source import ResolvedManifestCache, SourceBrightpearl


class _SourceWithPatchRequests(SourceBrightpearl):
    def _read_and_parse_yaml_file(self, path_to_yaml_file: str) -> dict[str, Any]:
        manifest = super()._read_and_parse_yaml_file(path_to_yaml_file)
        manifest["definitions"]["base_requester"]["http_method"] = "PATCH"  # the CDK's schema allows GET and POST
        return manifest


def test_given_the_bundled_manifest_validated_when_a_source_is_built_from_one_the_schema_rejects_then_it_fails(
    tmp_path, monkeypatch
):
    SourceBrightpearl()
    # Past the package's own store of resolved manifests, which is keyed by the manifest's text, not by what a
    # subclass does to it after reading it: only the session's cache stands between this source and validation.
    monkeypatch.setattr(_SourceWithPatchRequests, "resolved_manifests", ResolvedManifestCache(tmp_path))

    with pytest.raises(Exception, match="declarative_component_schema.yaml schema failed") as failure:
        _SourceWithPatchRequests()
    assert "PATCH" in str(failure.value.__cause__ or failure.value.args), failure.value


def test_given_two_sources_of_one_manifest_when_the_first_changes_its_resolved_manifest_then_the_second_has_the_original():
    first = SourceBrightpearl()
    first.resolved_manifest["definitions"]["base_requester"]["http_method"] = "PATCH"

    second = SourceBrightpearl()

    assert second.resolved_manifest["definitions"]["base_requester"]["http_method"] == "GET"
