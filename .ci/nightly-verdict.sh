#!/usr/bin/env bash
# Nightly job "verdict": the run ends red when the harvest failed (a topic or source could not be
# harvested), even though the topics that succeeded were committed and deployed.
# Usage: .ci/nightly-verdict.sh HARVEST_STATUS [JOB_RESULT...]
#   HARVEST_STATUS  the harvester's exit status (nightly-harvest.sh's harvest-status)
#   JOB_RESULT      results of the other jobs (success, failure, cancelled, skipped)
set -euo pipefail
status="${1:?usage: nightly-verdict.sh HARVEST_STATUS [JOB_RESULT...]}"
shift
red=0
if [ "$status" != "0" ]; then
    echo "harvest failed (exit status $status): the topics that failed kept yesterday's cards; see data/report.json of this run" >&2
    red=1
fi
for result in "$@"; do
    case "$result" in
        success) ;;
        *) echo "a nightly job ended with: $result" >&2; red=1 ;;
    esac
done
exit "$red"
