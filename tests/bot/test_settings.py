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
    assert settings.handoff_kb_misses == 2
    assert settings.handoff_direct_tiers == frozenset()
    assert settings.handoff_silence_seconds == 1800


def test_environment_overrides() -> None:
    settings = Settings.from_env(
        {
            "PORT": "9000",
            "REDIS_URL": "redis://:secret@db:6379/2",
            "REDIS_PREFIX": "shop1",
            "LOG_FORMAT": "JSON",
            "VAR_DIR": "/tmp/x",
            "HANDOFF_KB_MISSES": "3",
            "HANDOFF_DIRECT_TIERS": "VIP, new",
            "HANDOFF_AUTO_ASSIGN_TEAMS": "vip-desk, billing",
            "HANDOFF_OFFER_TIMEOUT_SECONDS": "45",
            "HANDOFF_TIER_BOOST": "new:60",
        }
    )
    queue = settings.queue_settings()
    assert queue.auto_assign_teams == {"vip-desk", "billing"}
    assert queue.offer_timeout_seconds == 45
    assert queue.tier_boost_seconds == {"vip": 300, "regular": 0, "new": 60}
    assert settings.handoff_kb_misses == 3
    assert settings.handoff_direct_tiers == {"vip", "new"}
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
        ({"HANDOFF_DIRECT_TIERS": "vip,gold"}, "HANDOFF_DIRECT_TIERS takes vip, regular, new; got gold"),
        ({"HANDOFF_KB_MISSES": "-1"}, "HANDOFF_KB_MISSES must be 0"),
        ({"HANDOFF_SILENCE_SECONDS": "-5"}, "HANDOFF_SILENCE_SECONDS must be 0"),
        ({"HANDOFF_TIER_BOOST": "gold:60"}, "HANDOFF_TIER_BOOST takes tier:seconds"),
        ({"HANDOFF_TIER_BOOST": "vip:soon"}, "HANDOFF_TIER_BOOST takes tier:seconds"),
        ({"HANDOFF_OFFER_TIMEOUT_SECONDS": "0"}, "HANDOFF_OFFER_TIMEOUT_SECONDS must be 1"),
    ],
)
def test_bad_values_are_refused_clearly(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_complaint_settings_come_from_a_json_file(tmp_path: Path) -> None:
    good = tmp_path / "complaints.json"
    good.write_text(
        '{"supervisors": {"support": "sue"}, "confirm_hours": 24,'
        ' "targets": [{"severity": "紧急", "respond_minutes": 10, "resolve_minutes": 90}]}',
        encoding="utf-8",
    )
    policy = Settings.from_env({"COMPLAINTS_FILE": str(good)}).complaint_policy
    assert policy.supervisors == {"support": "sue"}
    assert policy.confirm_hours == 24
    assert policy.targets("紧急", "物流").resolve_minutes == 90
    bad = tmp_path / "bad.json"
    bad.write_text('{"confirm_hour": 24}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"COMPLAINTS_FILE .*unknown complaint settings: confirm_hour"):
        Settings.from_env({"COMPLAINTS_FILE": str(bad)})
    with pytest.raises(ValueError, match="COMPLAINTS_FILE"):
        Settings.from_env({"COMPLAINTS_FILE": str(tmp_path / "missing.json")})
