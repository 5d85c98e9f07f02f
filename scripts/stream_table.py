"""Prints (or writes into a Markdown file between markers) the table of streams: name, primary key,
sync modes, cursor and endpoint, read from the manifest as the connector resolves it.

    python scripts/stream_table.py                         # print the table
    python scripts/stream_table.py --write README.md       # replace what is between the markers

The markers are `<!-- streams:start -->` and `<!-- streams:end -->`. The cursor is the field a stream
names in `$parameters.cursor_field` (the one incremental sync uses); `-` when the resource has none.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import ManifestComponentTransformer
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver

MANIFEST = Path(__file__).resolve().parent.parent / "source_brightpearl" / "manifest.yaml"
START, END = "<!-- streams:start -->", "<!-- streams:end -->"


def resolved_streams() -> list[Mapping[str, Any]]:
    manifest = ManifestReferenceResolver().preprocess_manifest(yaml.safe_load(MANIFEST.read_text()))
    manifest = ManifestComponentTransformer().propagate_types_and_parameters("", manifest, {})
    return manifest["streams"]


def _search_and_get(stream: Mapping[str, Any], streams: Mapping[str, Mapping[str, Any]]) -> str:
    """`search -> GET` for ID-set streams, the search for search-only ones, the GET for the rest."""
    retriever = stream["retriever"]
    parameters = stream.get("$parameters", {})
    if retriever.get("cached_responses_of") in streams:  # rows read out of another stream's cached GETs
        return (
            f"rows inside {_search_and_get(streams[retriever['cached_responses_of']], streams)}, no call of their own"
        )
    router = retriever.get("partition_router") or {}
    if router.get("type") == "SubstreamPartitionRouter":  # rows read out of a parent's records
        parent = router["parent_stream_configs"][0]
        return f"rows inside {_search_and_get(parent['stream'], streams)}, no call of their own"
    if router.get("type") == "GroupingPartitionRouter":
        underlying = router["underlying_partition_router"]
        # The IDs searches find, behind the router that adds those the last sync could not read.
        parents = underlying.get("found_by", underlying)["parent_stream_configs"]
        searches = [_found_by(parent["stream"], streams) for parent in parents]
        found = " and ".join(filter(None, [", ".join(searches[:-1]), searches[-1]]))
        return f"{found} -> `{parameters['resource']}/{{ids}}` ({router['group_size']} IDs a call)"
    return f"`{parameters['endpoint'].rstrip('/')}`"


def _found_by(search: Mapping[str, Any], streams: Mapping[str, Mapping[str, Any]]) -> str:
    """The search that finds an ID-set stream's IDs, with its filters; or the stream whose rows name them."""
    if search["retriever"].get("cached_responses_of") in streams:
        return (
            f"the {search['name']} of {_search_and_get(streams[search['retriever']['cached_responses_of']], streams)}"
        )
    filters = {
        key: value
        for key, value in search["retriever"]["requester"].get("request_parameters", {}).items()
        if key not in ("columns", "firstResult")
    }
    filter_text = "".join(f"?{key}={value}" for key, value in filters.items())
    return f"`{search['$parameters']['endpoint']}{filter_text}`"


def _cursor(stream: Mapping[str, Any]) -> str:
    incremental = stream.get("incremental_sync")
    field = (incremental or {}).get("cursor_field") or stream.get("$parameters", {}).get("cursor_field")
    if field and "{{" in str(field):
        field = stream.get("$parameters", {}).get("cursor_field")
    return f"`{field}`" if field else "-"


def table() -> str:
    lines = ["| stream | primary key | sync modes | cursor | endpoint |", "|---|---|---|---|---|"]
    streams = {stream["name"]: stream for stream in resolved_streams()}
    for stream in streams.values():
        key = stream["primary_key"]
        key_text = ", ".join(f"`{part}`" for part in (key if isinstance(key, list) else [key]))
        modes = "full refresh, incremental" if stream.get("incremental_sync") else "full refresh"
        lines.append(
            f"| `{stream['name']}` | {key_text} | {modes} | {_cursor(stream)} | {_search_and_get(stream, streams)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", type=Path, help="a Markdown file holding the markers")
    args = parser.parse_args()
    if not args.write:
        print(table())
        return
    text = args.write.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{args.write} has no {START} ... {END} markers")
    updated = re.sub(f"{re.escape(START)}.*?{re.escape(END)}", lambda _: f"{START}\n{table()}\n{END}", text, flags=re.S)
    args.write.write_text(updated)


if __name__ == "__main__":
    main()
