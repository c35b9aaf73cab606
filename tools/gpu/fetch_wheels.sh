#!/usr/bin/env bash
# Run HERE (a machine with PyPI): download, for the GPU machine's Python 3.12, the wheels it lacks into .whl/ (git
# ignores it; the device tool carries it). About 12 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .whl
grep -v '^#' tools/gpu/wheels.txt | grep . | xargs python3 -m pip download -q --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl
ls .whl | wc -l
