"""scripts/find-python.sh finds Python 3.10 or says clearly that it is needed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bot.settings import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "find-python.sh"


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash") or "/bin/bash"
    return subprocess.run([bash, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def test_finds_a_python_310() -> None:
    result = _run(dict(os.environ))
    assert result.returncode == 0, result.stderr
    version = subprocess.run(
        [result.stdout.strip(), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
    )
    assert version.stdout.strip() == "(3, 10)"


def test_wrong_python_is_refused_with_the_requirement() -> None:
    result = _run({**os.environ, "PYTHON": "/bin/true"})
    assert result.returncode == 1
    assert "not a Python 3.10 interpreter" in result.stderr


def test_no_python_310_anywhere_says_what_is_required(tmp_path: Path) -> None:
    # A PATH holding only the tools the script itself uses, no pyenv and no Python at all.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "ls", "sort", "cat"):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    result = _run({"PATH": str(bin_dir), "HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "Python 3.10 is required" in result.stderr
