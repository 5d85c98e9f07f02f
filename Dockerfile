# syntax=docker/dockerfile:1
# The image an Airbyte platform runs as a custom connector, named as metadata.yaml's dockerRepository and
# dockerImageTag: `docker build -t ghcr.io/source-brightpearl/source-brightpearl:0.3.7 .` (BuildKit), or
# `buildah bud -t ...` (Dockerfile syntax only: no heredocs). integration_tests/test_image.py builds it with
# buildah from a local stand-in of the base image and runs it against the mock.
#
# Follows Airbyte's own template for Python connectors (airbytehq/airbyte docker-images/Dockerfile.python-connector,
# which `airbyte-cdk image build` uses with metadata.yaml's connectorBuildOptions.baseImage), with the connector's
# command written in rather than derived from the checkout directory's name. BASE_IMAGE defaults to that same
# baseImage, pinned by digest; unit_tests/test_packaging.py keeps the two equal.

ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73

FROM ${BASE_IMAGE} AS builder
WORKDIR /airbyte/integration_code
# Only what `pip install .` needs (.dockerignore lets nothing else in, and leaves out the mock server), so a
# change to tests, docs or scripts keeps the cached layer.
COPY pyproject.toml setup.py README.md constraints.txt ./
COPY source_brightpearl ./source_brightpearl
# Plain pip into the base image's system Python (it has no virtualenv), at the versions the tests ran on;
# /usr/local is copied whole to the final stage.
RUN pip install --no-cache-dir --constraint constraints.txt .
# Resolves and validates the manifest once, here, and keeps the result beside the package's bytecode
# (source.py's ResolvedManifestCache): every later command starts without doing it again.
RUN source-brightpearl spec > /dev/null

FROM ${BASE_IMAGE}
WORKDIR /airbyte/integration_code
COPY --from=builder /usr/local /usr/local
RUN printf '#!/usr/bin/env bash\nset -e\nexec source-brightpearl "$@"\n' > /entrypoint.sh && chmod 755 /entrypoint.sh
USER airbyte
# The platform reads AIRBYTE_ENTRYPOINT to know what to run; ENTRYPOINT serves `docker run` directly.
ENV AIRBYTE_ENTRYPOINT="/entrypoint.sh"
ENTRYPOINT ["/entrypoint.sh"]
