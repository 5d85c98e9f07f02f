"""The Brightpearl source. `SourceBrightpearl` is what Airbyte's tooling looks for in a connector package
(`airbyte-cdk connector test`, for one); the console script imports it anyway, so exporting it costs no start-up."""

import sys

# requests_cache imports each of its backends whose library is installed; its DynamoDB one brings
# boto3 and botocore (9 MB of a read's peak memory, bench/PROFILE.md) into any environment that has
# them, while the CDK's response cache is SQLite. Set before the CDK is first imported.
sys.modules.setdefault("requests_cache.backends.dynamodb", None)

from source_brightpearl.source import SourceBrightpearl  # noqa: E402

__all__ = ["SourceBrightpearl"]
