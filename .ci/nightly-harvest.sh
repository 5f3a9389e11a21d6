#!/usr/bin/env bash
# Nightly job "harvest" (read-only token): run the harvester, then bundle what it changed for the
# commit job.  Usage: .ci/nightly-harvest.sh BUNDLE_DIR
#
# BUNDLE_DIR/data.patch       git diff (binary) of content/evidence and data/, raw cache excluded
# BUNDLE_DIR/harvest-status   the harvester's exit status (0 = every topic harvested)
#
# A failed topic leaves its cards byte-identical (harvest/pipeline.py), so the bundle holds only the
# topics that succeeded and is committed either way; the run ends red later (nightly-verdict.sh).
# This script fails only when it cannot make the bundle.  NIGHTLY_HARVEST overrides the command
# (default `make harvest`; tests point it at local API emulators).
set -euo pipefail
bundle="${1:?usage: nightly-harvest.sh BUNDLE_DIR}"
mkdir -p "$bundle"
bundle="$(cd "$bundle" && pwd)"
cd "$(dirname "$0")/.."

status=0
${NIGHTLY_HARVEST:-make harvest} || status=$?
echo "$status" > "$bundle/harvest-status"

# The raw reply cache is not committed (the workflow keeps it in the Actions cache and a release
# asset); the recordings the repository ships under data/raw/recorded are never touched here.
git add -A -- content/evidence data ':(exclude)data/raw'
git diff --cached --binary HEAD > "$bundle/data.patch"
git reset -q
echo "harvest exit status $status; bundle $(wc -c < "$bundle/data.patch") bytes of changes"
