#!/usr/bin/env bash
# Nightly job "commit" (the only job with contents: write): apply the harvest bundle and push it.
# Usage: .ci/nightly-commit.sh BUNDLE_DIR
#
# A night that changed no card commits only its small run record (data/runs/<id>.json, data/state.json,
# data/report.json: the success time the site's freshness claims rest on); an empty bundle commits
# nothing.  Prints the commit the build should use as
# "sha=<id>" (also to $GITHUB_OUTPUT when set).  NIGHTLY_REMOTE / NIGHTLY_BRANCH say where to push
# (default origin / main).
set -euo pipefail
bundle="$(cd "${1:?usage: nightly-commit.sh BUNDLE_DIR}" && pwd)"
cd "$(dirname "$0")/.."
remote="${NIGHTLY_REMOTE:-origin}"
branch="${NIGHTLY_BRANCH:-main}"

if [ -s "$bundle/data.patch" ]; then
    git apply --index --binary "$bundle/data.patch"
fi
if git diff --cached --quiet; then
    echo "nothing changed: nothing to commit"
else
    git -c user.name="atlas-bot" -c user.email="atlas-bot@users.noreply.github.com" \
        commit --quiet -m "Nightly harvest $(date -u +%F)"
    # Someone may have pushed since the harvest started: the bundle touches only cards and data/,
    # so it goes on top of theirs; a real conflict fails the job and nothing is pushed.
    git -c user.name="atlas-bot" -c user.email="atlas-bot@users.noreply.github.com" \
        pull --quiet --rebase "$remote" "$branch"
    git push --quiet "$remote" "HEAD:$branch"
fi
sha="$(git rev-parse HEAD)"
echo "sha=$sha"
if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "sha=$sha" >> "$GITHUB_OUTPUT"; fi
