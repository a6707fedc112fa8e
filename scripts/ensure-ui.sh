#!/usr/bin/env bash
# Install the staff pages' browser libraries (Apache ECharts) and the tests' axe-core from the npm registry, pinned by
# package-lock.json, unless the lock has not changed since the last install. Nothing loads from a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [ -f "$stamp" ]; then exit 0; fi
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
    echo "error: npm is missing; install Debian's 'npm' package (the dashboard's charts come from it)" >&2
    exit 1
  fi
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "Installing Debian's npm for the staff pages' libraries..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
fi
echo "Installing the staff pages' libraries (npm ci)..."
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
touch "$stamp"
