#!/usr/bin/env bash
# Make sure the Debian packages the tests need are installed (one apt-get update for all of them):
# chromium, a CJK font and an emoji font (the browser tests drive chromium through Playwright, and
# without fonts-noto-cjk every Chinese page renders as boxes in their screenshots; customers write emoji),
# and redis-server (the
# Sentinel tests start a master, a replica and three sentinels from it).
set -euo pipefail
missing=()
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] && fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
fc-list 2>/dev/null | grep -qi "Noto Color Emoji" || missing+=(fonts-noto-color-emoji)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} = 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
  echo "error: ${missing[*]} missing; install Debian's packages (the tests need them)" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "Installing Debian's ${missing[*]} for the tests..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
