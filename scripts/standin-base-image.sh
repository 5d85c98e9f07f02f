#!/usr/bin/env bash
# Prints the name of a local stand-in for the connector image's base (scripts/standin-base.Containerfile says
# what it has), building it into buildah's local storage first unless an image of the same recipe is there.
# Needs root, buildah and debootstrap (Debian packages); `buildah bud --build-arg BASE_IMAGE=<name> .` then
# builds the connector image without a registry. Build output goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repository="localhost/source-brightpearl-standin-base"
local_cas=/usr/local/share/ca-certificates
# The recipe is this script, the Containerfile and the host's CAs: a change to any makes a new image.
recipe="$({ cat "${BASH_SOURCE[0]}" "$here/standin-base.Containerfile"
            find "$local_cas" -name '*.crt' -print0 2>/dev/null | sort -z | xargs -0r cat; } | sha256sum | cut -c1-16)"
image="$repository:$recipe"
if buildah inspect --type image "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
{
  debootstrap --variant=minbase --include=python3.11,python3-pip,python-is-python3,adduser,ca-certificates \
    bookworm "$work/rootfs"
  rm -f "$work"/rootfs/var/cache/apt/archives/*.deb
  tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
  rm -rf "$work/rootfs"
  mkdir "$work/local-ca-certificates"
  find "$local_cas" -name '*.crt' -exec cp {} "$work/local-ca-certificates/" \; 2>/dev/null || true
  buildah bud --isolation chroot --file "$here/standin-base.Containerfile" --tag "$image" "$work"
  # Older recipes' images only take space.
  buildah images --format '{{.Name}}:{{.Tag}}' |
    awk -v repository="$repository:" -v keep="$image" 'index($0, repository) == 1 && $0 != keep' | xargs -r buildah rmi
} >&2
echo "$image"
