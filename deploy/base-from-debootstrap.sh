#!/usr/bin/env bash
# Where no image registry is reachable (CI), make the sandbox image's base from Debian's
# own packages: a minimal bookworm root filesystem with Python, imported into Docker.
#   deploy/base-from-debootstrap.sh [IMAGE_NAME]      (default dlgrader-base:bookworm)
set -euo pipefail
name=${1:-dlgrader-base:bookworm}
if docker image inspect "$name" >/dev/null 2>&1; then
  echo "base image $name exists"
  exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
root=$(mktemp -d /tmp/dlgrader-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" \
  http://deb.debian.org/debian >/dev/null
tar -C "$root" -c . | docker import --change 'CMD ["/usr/bin/python3"]' - "$name" >/dev/null
echo "built base image $name"
