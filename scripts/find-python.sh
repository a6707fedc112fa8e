#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter: $PYTHON, then pyenv's 3.10.*, then python3.10 on PATH.
# Rasa 3.6.21 supports Python < 3.11 and python-telegram-bot 22 needs >= 3.10, so 3.10 it must be.
set -euo pipefail

is310() { [ -x "$1" ] && [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = 3.10 ]; }

if [ -n "${PYTHON:-}" ]; then
  if is310 "$(command -v "$PYTHON" || echo "$PYTHON")"; then command -v "$PYTHON" || echo "$PYTHON"; exit 0; fi
  echo "error: PYTHON=$PYTHON is not a Python 3.10 interpreter (this project needs exactly 3.10)" >&2
  exit 1
fi
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for candidate in $(ls -d "$root"/versions/3.10.* 2>/dev/null | sort -V -r); do
    if is310 "$candidate/bin/python"; then echo "$candidate/bin/python"; exit 0; fi
  done
fi
for name in python3.10 python3 python; do
  if path=$(command -v "$name" 2>/dev/null) && is310 "$path"; then echo "$path"; exit 0; fi
done
cat >&2 <<'MSG'
error: Python 3.10 is required (Rasa 3.6.21 needs < 3.11, python-telegram-bot 22 needs >= 3.10) and none was found.
Install it (e.g. `pyenv install 3.10`, or your distribution's python3.10 with venv) or point PYTHON= at one.
MSG
exit 1
