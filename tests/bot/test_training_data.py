"""The training data passes Rasa's own validation."""

from __future__ import annotations

import subprocess
import sys

from bot.settings import PROJECT_ROOT


def test_rasa_data_validate_passes() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rasa",
            "data",
            "validate",
            "--domain",
            "training_data/domain.yml",
            "--data",
            "training_data",
            "--config",
            "config.yml",
            "--fail-on-warnings",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
