"""The Brightpearl source. `SourceBrightpearl` is what Airbyte's tooling looks for in a connector package
(`airbyte-cdk connector test`, for one); the console script imports it anyway, so exporting it costs no start-up."""

from source_brightpearl.attribute_docs import read_each_source_file_once

# Before the CDK's first import, which the next line starts.
read_each_source_file_once()

from source_brightpearl.source import SourceBrightpearl  # noqa: E402

__all__ = ["SourceBrightpearl"]
