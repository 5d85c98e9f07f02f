# syntax=docker/dockerfile:1
# The image an Airbyte platform runs as a custom connector: `docker build -t airbyte/source-brightpearl:0.1.0 .`
#
# Follows Airbyte's own template for Python connectors (airbytehq/airbyte docker-images/Dockerfile.python-connector,
# which `airbyte-cdk image build` uses with metadata.yaml's connectorBuildOptions.baseImage), with the connector's
# command written in rather than derived from the checkout directory's name. BASE_IMAGE defaults to that same
# baseImage; unit_tests/test_packaging.py keeps the two equal.

ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73

FROM ${BASE_IMAGE} AS builder
WORKDIR /airbyte/integration_code
# Only what `pip install .` needs, so a change to tests, docs or scripts keeps the cached layer.
COPY pyproject.toml README.md ./
COPY source_brightpearl ./source_brightpearl
COPY mock_server ./mock_server
# Plain pip into the base image's system Python (it has no virtualenv); copied whole to the final stage.
RUN pip install --no-cache-dir .

FROM ${BASE_IMAGE}
WORKDIR /airbyte/integration_code
COPY --from=builder /usr/local /usr/local
COPY --chmod=755 <<EOT /entrypoint.sh
#!/usr/bin/env bash
set -e
exec source-brightpearl "\$@"
EOT
USER airbyte
# The platform reads AIRBYTE_ENTRYPOINT to know what to run; ENTRYPOINT serves `docker run` directly.
ENV AIRBYTE_ENTRYPOINT="/entrypoint.sh"
ENTRYPOINT ["/entrypoint.sh"]
