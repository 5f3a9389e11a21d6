#!/usr/bin/env bash
# Nightly job "build" (read-only): build the deployable site into output/.  A failed build exits
# non-zero, so the deploy job (which needs this one) does not run and the live site stays as it is.
# NIGHTLY_BUILD overrides the command (default `make publish`).
set -euo pipefail
cd "$(dirname "$0")/.."
${NIGHTLY_BUILD:-make publish}
test -s output/index.html || { echo "the build wrote no output/index.html" >&2; exit 1; }
