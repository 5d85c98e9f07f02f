"""The Brightpearl source. `SourceBrightpearl` is what Airbyte's tooling looks for in a connector package
(`airbyte-cdk connector test`, for one); the console script imports it anyway, so exporting it costs no start-up."""

from source_brightpearl.source import SourceBrightpearl

__all__ = ["SourceBrightpearl"]
