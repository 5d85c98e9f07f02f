"""The manifest resolved and validated once, kept by `ResolvedManifestCache`, and read back at start-up
instead of resolving and validating it again (source.py)."""

from datetime import date
from pathlib import Path

import pytest
from airbyte_cdk.sources.declarative.concurrent_declarative_source import (
    ConcurrentDeclarativeSource,
    get_declarative_component_schema,
    validate_manifest,
)

from source_brightpearl.source import ResolvedManifestCache, SourceBrightpearl

MANIFEST_TEXT = b"version: 7.0.0\n"


@pytest.fixture(scope="module")
def freshly_resolved():
    """The manifest as the CDK resolves it, with nothing kept to read from."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SourceBrightpearl, "resolved_manifests", _nowhere())
        return SourceBrightpearl(config={}).resolved_manifest


@pytest.fixture
def kept(tmp_path, monkeypatch):
    cache = ResolvedManifestCache(tmp_path / "kept")
    monkeypatch.setattr(SourceBrightpearl, "resolved_manifests", cache)
    return cache


def _nowhere():
    # A folder under a file cannot be made: nothing is read there or kept.
    return ResolvedManifestCache(Path("/dev/null/resolved"))


def _kept_files(cache):
    return sorted(cache.directory.glob(f"{ResolvedManifestCache.PREFIX}*.json"))


def test_given_the_shipped_manifest_when_resolved_then_it_passes_the_cdks_component_schema(freshly_resolved):
    validate_manifest(freshly_resolved, get_declarative_component_schema())


def test_given_nothing_kept_when_the_source_is_built_then_it_keeps_the_manifest_it_resolved(kept, freshly_resolved):
    SourceBrightpearl(config={})
    [kept_file] = _kept_files(kept)
    assert kept.load(kept_file.name.removeprefix(ResolvedManifestCache.PREFIX).removesuffix(".json")) == (
        freshly_resolved
    )


def test_given_a_kept_manifest_when_the_source_is_built_again_then_it_neither_resolves_nor_validates(
    kept, freshly_resolved, monkeypatch
):
    SourceBrightpearl(config={})

    def not_again(*args):
        raise AssertionError("resolved or validated again")

    monkeypatch.setattr(ConcurrentDeclarativeSource, "_pre_process_manifest", not_again)
    monkeypatch.setattr(ConcurrentDeclarativeSource, "_validate_source", not_again)
    assert SourceBrightpearl(config={}).resolved_manifest == freshly_resolved


def test_given_a_damaged_kept_manifest_when_the_source_is_built_then_it_resolves_the_manifest_and_keeps_it_whole(
    kept, freshly_resolved
):
    SourceBrightpearl(config={})
    [kept_file] = _kept_files(kept)
    kept_file.write_bytes(kept_file.read_bytes()[:1000])
    assert SourceBrightpearl(config={}).resolved_manifest == freshly_resolved
    assert SourceBrightpearl(config={})._manifest_from_cache
    assert _kept_files(kept) == [kept_file]


def test_given_a_manifest_kept_for_the_default_timeout_when_a_config_sets_request_timeout_seconds_then_requesters_use_it(
    kept,
):
    SourceBrightpearl(config={})
    source = SourceBrightpearl(config={"request_timeout_seconds": 7})
    timeouts = {
        stream["name"]: stream["retriever"]["requester"]["read_timeout_in_seconds"]
        for stream in source.resolved_manifest["streams"]
    }
    assert set(timeouts.values()) == {7}, timeouts
    assert len(_kept_files(kept)) == 2


def test_given_a_cache_folder_that_cannot_be_made_when_the_source_is_built_then_it_has_the_resolved_manifest(
    freshly_resolved, monkeypatch
):
    monkeypatch.setattr(SourceBrightpearl, "resolved_manifests", _nowhere())
    source = SourceBrightpearl(config={})
    assert not source._manifest_from_cache
    assert source.resolved_manifest == freshly_resolved


def test_given_a_manifest_kept_for_one_text_when_the_text_changes_then_it_is_not_read(tmp_path):
    cache = ResolvedManifestCache(tmp_path)
    cache.store(cache.key(MANIFEST_TEXT, None), {"version": "7.0.0"})
    assert cache.load(cache.key(MANIFEST_TEXT + b"# edited\n", None)) is None


def test_given_manifests_kept_for_one_text_when_another_text_is_kept_then_only_the_older_texts_files_go(tmp_path):
    cache = ResolvedManifestCache(tmp_path)
    older, older_other_timeout = cache.key(MANIFEST_TEXT, None), cache.key(MANIFEST_TEXT, 7)
    newer, newer_other_timeout = cache.key(MANIFEST_TEXT + b"#\n", None), cache.key(MANIFEST_TEXT + b"#\n", 7)
    for key in (older, older_other_timeout, newer):
        cache.store(key, {"key": key})
    cache.store(newer_other_timeout, {"key": newer_other_timeout})
    assert _kept_files(cache) == sorted([cache.path(newer), cache.path(newer_other_timeout)])


def test_given_a_manifest_json_would_change_when_stored_then_nothing_is_kept(tmp_path):
    cache = ResolvedManifestCache(tmp_path)
    # YAML reads `2024-01-31` as a date; JSON would give it back as a string.
    cache.store(cache.key(MANIFEST_TEXT, None), {"start": date(2024, 1, 31)})
    assert _kept_files(cache) == []


def test_given_a_built_source_then_it_keeps_no_component_schema_but_gives_the_cdks_when_asked(kept):
    source = SourceBrightpearl(config={})

    assert "_declarative_component_schema" not in vars(source)
    assert source._declarative_component_schema == get_declarative_component_schema()


def test_given_nothing_kept_when_the_resolved_manifest_breaks_the_component_schema_then_the_build_fails(
    monkeypatch,
):
    monkeypatch.setattr(SourceBrightpearl, "resolved_manifests", _nowhere())
    pre_process = ConcurrentDeclarativeSource._pre_process_manifest

    def broken(self, manifest):
        return {**pre_process(self, manifest), "check": {"type": "NotACheck"}}

    monkeypatch.setattr(ConcurrentDeclarativeSource, "_pre_process_manifest", broken)
    with pytest.raises(Exception, match="declarative_component_schema.yaml schema failed"):
        SourceBrightpearl(config={})
