#!/usr/bin/env bash
# Vendors hls.js (the player's HLS support where the browser has none natively) from the npm
# registry: the minified build, its licence and the pinned version, under
# services/web/static/vendor/hls.js/. Nothing is loaded from a CDN.
#   scripts/update-hls-js.sh            # the version pinned in VERSION
#   scripts/update-hls-js.sh 1.7.4      # another version (then commit the three files)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
target="$here/services/web/static/vendor/hls.js"
version="${1:-$(cat "$target/VERSION" 2>/dev/null || echo 1.7.4)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "hls.js@$version" >/dev/null)
tar -xzf "$work"/hls.js-*.tgz -C "$work"
mkdir -p "$target"
cp "$work/package/dist/hls.min.js" "$target/hls.min.js"
cp "$work/package/LICENSE" "$target/LICENSE"
echo "$version" > "$target/VERSION"
echo "hls.js $version vendored in $target"
