#!/usr/bin/env bash
# Third-party test data that is not kept in this repository, fetched from the package
# registry into .venv/testdata: the RFC 7208 SPF test suite from pyspf's source archive.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.venv/testdata
[ -f "$dest/rfc7208-tests.yml" ] && exit 0
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m pip download --quiet --no-deps --no-binary :all: pyspf==2.0.14 -d "$tmp"
tar -xzf "$tmp"/pyspf-2.0.14.tar.gz -C "$tmp"
cp "$tmp"/pyspf-2.0.14/test/rfc7208-tests.yml "$dest/"
