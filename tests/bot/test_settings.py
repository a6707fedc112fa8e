"""Settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.port == 8080
    assert settings.redis_url is None
    assert settings.redis_prefix == "cs"
    assert settings.log_format == "text"


def test_environment_overrides() -> None:
    settings = Settings.from_env(
        {
            "PORT": "9000",
            "REDIS_URL": "redis://:secret@db:6379/2",
            "REDIS_PREFIX": "shop1",
            "LOG_FORMAT": "JSON",
            "VAR_DIR": "/tmp/x",
        }
    )
    assert settings.port == 9000
    assert settings.redis_prefix == "shop1"
    assert settings.log_format == "json"
    assert settings.model_dir == Path("/tmp/x/models")
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "eighty"}, "PORT must be an integer"),
        ({"REDIS_PREFIX": "a:b"}, "alphanumeric"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_bad_values_are_refused_clearly(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)
