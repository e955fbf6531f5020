#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/web, driven by Playwright with executable_path), and a
# CJK font so that their screenshots show Chinese rather than boxes. Installed once, when missing.
# Playwright's own browser download (`playwright install`) is never used: it needs a network we lack.
set -euo pipefail

CHROMIUM="${JIAOYUN_TEST_CHROMIUM:-/usr/bin/chromium}"
FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc

pkgs=()
[[ -x "$CHROMIUM" ]] || pkgs+=(chromium)
[[ -e "$FONT" ]] || pkgs+=(fonts-wqy-microhei)
((${#pkgs[@]})) || exit 0

if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages for the browser tests: ${pkgs[*]} (install them, or run as root)" >&2
    exit 1
fi
echo "installing Debian packages: ${pkgs[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update >&2
apt-get install -y --no-install-recommends "${pkgs[@]}" >&2
[[ -x "$CHROMIUM" ]] || { echo "Chromium is still missing at $CHROMIUM" >&2; exit 1; }
