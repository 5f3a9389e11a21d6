#!/usr/bin/env bash
# Local stand-in for the deploy job (on GitHub: actions/upload-pages-artifact + actions/deploy-pages):
# publish SITE_DIR as DEST in one rename, so DEST is always a whole build, old or new.
# Usage: .ci/nightly-deploy-local.sh SITE_DIR DEST
set -euo pipefail
site="${1:?usage: nightly-deploy-local.sh SITE_DIR DEST}"
dest="${2:?usage: nightly-deploy-local.sh SITE_DIR DEST}"
test -s "$site/index.html" || { echo "$site: not a built site" >&2; exit 1; }
mkdir -p "$(dirname "$dest")"
staged="$dest.new.$$"
rm -rf "$staged"
cp -a "$site" "$staged"
if [ -e "$dest" ]; then mv "$dest" "$dest.old.$$"; fi
mv "$staged" "$dest"
rm -rf "$dest.old.$$"
echo "deployed $site to $dest"
