#!/usr/bin/env bash
# Vendors hls.js (the player's HLS support where the browser has none natively) from the npm
# registry: the minified light build, its licence and the pinned version, under
# services/web/static/vendor/hls.js/. Nothing is loaded from a CDN. The light build (~390 KB,
# ~120 KB gzipped, against ~620/190 KB) leaves out what the player never uses (alternate audio and
# subtitle renditions, DRM, CMCD, content steering, interstitials): on a 2 Mbit/s school link it is
# a second less before the lesson starts.
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
rm -f "$target/hls.min.js"
cp "$work/package/dist/hls.light.min.js" "$target/hls.light.min.js"
cp "$work/package/LICENSE" "$target/LICENSE"
echo "$version" > "$target/VERSION"
echo "hls.js $version vendored in $target"
