#!/usr/bin/env bash
# Create .venv with Python 3.10 and install the pinned packages, unless they are already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp_id=$(cat requirements.txt constraints.txt | sha256sum | cut -c1-16)
stamp=.venv/.installed-$stamp_id
if [ -f "$stamp" ] && .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
  exit 0
fi

python=$(scripts/find-python.sh)
if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
  echo "Creating .venv with $python"
  rm -rf .venv
  "$python" -m venv .venv
fi
echo "Installing pinned packages into .venv (the first time takes a few minutes: TensorFlow is large)..."
.venv/bin/python -m pip install --quiet --upgrade "pip<25"
# constraints.txt pins every package pip resolved, so an install today equals the one that was tested.
.venv/bin/python -m pip install --quiet --progress-bar off -r requirements.txt -c constraints.txt
.venv/bin/python -m pip check >/dev/null || { .venv/bin/python -m pip check; exit 1; }
rm -f .venv/.installed-*
touch "$stamp"
