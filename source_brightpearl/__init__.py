"""The Brightpearl source. `SourceBrightpearl` is what Airbyte's tooling looks for in a connector package
(`airbyte-cdk connector test`, for one); the console script imports it anyway, so exporting it costs no start-up."""

from source_brightpearl.cdk_import import lightened

# The CDK's first import, with what makes it cheaper.
with lightened():
    from source_brightpearl.source import SourceBrightpearl

__all__ = ["SourceBrightpearl"]
