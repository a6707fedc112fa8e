"""Engine settings: one frozen dataclass read from the environment."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from channels.config import TelegramConfig, WebchatConfig, WechatConfig, WecomConfig
from core.redis_url import is_cluster, is_sentinel, parse_cluster, parse_sentinel
from handoff.complaints import CaseError, Policy
from handoff.queue import TIERS, QueueSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _optional_int(env: Mapping[str, str], name: str) -> int | None:
    """Return the variable as an integer, or None when it is unset (the default then depends)."""
    return _int(env, name, 0) if env.get(name, "").strip() else None


def _words(raw: str) -> frozenset[str]:
    """Return the comma-separated words of a variable (blanks dropped)."""
    return frozenset(word.strip() for word in raw.split(",") if word.strip())


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be 0 or more, got {raw!r}")
    return value


def _complaint_policy(path: str) -> Policy:
    """Read the complaint settings (categories, severities, targets, escalation) from a JSON file."""
    if not path:
        return Policy()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise CaseError("the file holds a JSON object")
        return Policy.parse(data)
    except (OSError, ValueError) as exc:
        raise ValueError(f"COMPLAINTS_FILE {path}: {exc}") from None


def _boosts(raw: str, default: Mapping[str, float]) -> dict[str, float]:
    """Parse "vip:300,new:60" (seconds a tier is moved ahead in the queue) over the defaults."""
    boosts = dict(default)
    for item in raw.split(","):
        if not item.strip():
            continue
        tier, _, seconds = item.partition(":")
        tier = tier.strip().lower()
        try:
            value = float(seconds)
        except ValueError:
            value = -1.0
        if tier not in TIERS or value < 0:
            raise ValueError(
                f"HANDOFF_TIER_BOOST takes tier:seconds pairs ({', '.join(TIERS)}); got {item!r}"
            )
        boosts[tier] = value
    return boosts


@dataclass(frozen=True)
class Settings:
    """Everything the engine is configured with; see the README's configuration table."""

    host: str = "127.0.0.1"
    port: int = 8080
    # Engine processes on this port (`bot.workers`): one per core, as a turn runs on one core.
    workers: int = field(default_factory=lambda: len(os.sched_getaffinity(0)))
    redis_url: str | None = None
    redis_prefix: str = "cs"
    var_dir: Path = PROJECT_ROOT / "var"
    model_dir: Path = PROJECT_ROOT / "var" / "models"
    model_path: Path | None = None
    log_format: str = "text"
    log_level: str = "INFO"
    max_message_chars: int = 4000
    max_body_bytes: int = 64 * 1024
    tracker_ttl_seconds: int = 30 * 24 * 3600
    # Parses of concurrent conversations run as one NLU batch of up to this many (`bot.dialogue.nlu_batch`).
    nlu_max_batch: int = 32
    cookie_secure: bool = True
    handoff_team: str = "support"
    handoff_kb_misses: int = 2
    handoff_direct_tiers: frozenset[str] = frozenset()
    handoff_silence_seconds: int = 1800
    handoff_max_wait_seconds: int = 600
    handoff_auto_assign_teams: frozenset[str] = frozenset()
    handoff_offer_timeout_seconds: int = 30
    handoff_tier_boost_seconds: Mapping[str, float] = field(
        default_factory=lambda: {"vip": 300.0, "regular": 0.0, "new": 0.0}
    )
    complaint_policy: Policy = field(default_factory=Policy)
    # When set, GET /metrics needs "Authorization: Bearer <token>".
    metrics_token: str = ""
    # When set, the REST channel's webhook takes only messages carrying it (?token= or Bearer).
    rest_token: str = ""
    # Reports: their days, how long events are kept, what an agent hour and a bot conversation cost.
    report_timezone: str = "Asia/Shanghai"
    report_retention_days: int = 90
    audit_retention_days: int = 365
    # Conversations with messages waiting across instances before push webhooks answer 503 (overload).
    inbound_backlog_limit: int = 5000
    # Dialogue turns one process runs at once (`bot.engine.intake`); their NLU parses batch together.
    turns_at_once: int = 4
    # Replicas that must hold a customer's message before the webhook acknowledges it (Redis WAIT); None:
    # 1 for a Sentinel-watched master or a cluster (a failover then loses no acknowledged message), else 0.
    redis_wait_replicas: int | None = None
    redis_wait_ms: int = 500
    # How long a transcript is kept after its last line (PIPL: no longer than the purpose needs).
    transcript_retention_days: int = 90
    cost_agent_per_hour: float = 60.0
    cost_bot_per_conversation: float = 0.3
    cost_currency: str = "CNY"
    instance_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    # Each channel is on when its settings are present (see the README's channel table).
    telegram: TelegramConfig | None = None
    wechat: WechatConfig | None = None
    wecom: WecomConfig | None = None
    webchat: WebchatConfig | None = field(default_factory=WebchatConfig)

    def __post_init__(self) -> None:
        """Reject values that would fail later in less obvious ways."""
        # Rasa's Redis stores silently drop a non-alphanumeric key prefix, which would mix runs' keys.
        if not self.redis_prefix.isalnum():
            raise ValueError(f"REDIS_PREFIX must be alphanumeric, got {self.redis_prefix!r}")
        unknown = self.handoff_direct_tiers - set(TIERS)
        if unknown:
            raise ValueError(
                f"HANDOFF_DIRECT_TIERS takes {', '.join(TIERS)}; got {', '.join(sorted(unknown))}"
            )
        if self.handoff_offer_timeout_seconds < 1:
            raise ValueError("HANDOFF_OFFER_TIMEOUT_SECONDS must be 1 or more")
        if self.handoff_max_wait_seconds < 1:
            raise ValueError("HANDOFF_MAX_WAIT_SECONDS must be 1 or more")
        if self.handoff_silence_seconds < 0:
            raise ValueError("HANDOFF_SILENCE_SECONDS must be 0 (off) or more")
        if self.handoff_kb_misses < 0:
            raise ValueError("HANDOFF_KB_MISSES must be 0 (off) or more")
        if self.audit_retention_days < 1:
            raise ValueError("AUDIT_RETENTION_DAYS must be at least 1")
        if self.report_retention_days < 1:
            raise ValueError("REPORT_RETENTION_DAYS must be 1 or more")
        if self.turns_at_once < 1:
            raise ValueError("TURNS_AT_ONCE must be 1 or more")
        if self.inbound_backlog_limit < 1:
            raise ValueError("INBOUND_BACKLOG_LIMIT must be 1 or more")
        if self.transcript_retention_days < 1:
            raise ValueError("TRANSCRIPT_RETENTION_DAYS must be 1 or more")
        if self.redis_wait_replicas is not None and self.redis_wait_replicas < 0:
            raise ValueError("REDIS_WAIT_REPLICAS must be 0 (acknowledge at once) or more")
        if self.workers < 1:
            raise ValueError("WORKERS must be 1 or more")
        if self.nlu_max_batch < 1:
            raise ValueError("NLU_MAX_BATCH must be 1 (one message per NLU run, as Rasa) or more")
        if self.redis_wait_ms < 1:
            raise ValueError("REDIS_WAIT_MS must be 1 or more")
        if self.redis_url:
            # A malformed URL is said at start-up, not at first use.
            if is_sentinel(self.redis_url):
                parse_sentinel(self.redis_url)
            elif is_cluster(self.redis_url):
                parse_cluster(self.redis_url)
        try:
            ZoneInfo(self.report_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"REPORT_TIMEZONE: unknown time zone {self.report_timezone!r}") from None
        if self.log_format not in ("text", "json"):
            raise ValueError(f"LOG_FORMAT must be 'text' or 'json', got {self.log_format!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables, with the documented defaults."""
        env = os.environ if env is None else env
        var_dir = Path(env.get("VAR_DIR") or PROJECT_ROOT / "var")
        defaults = cls()
        return cls(
            host=env.get("HOST") or defaults.host,
            port=_int(env, "PORT", defaults.port),
            workers=_int(env, "WORKERS", defaults.workers),
            redis_url=env.get("REDIS_URL") or None,
            redis_prefix=env.get("REDIS_PREFIX") or defaults.redis_prefix,
            var_dir=var_dir,
            model_dir=Path(env.get("MODEL_DIR") or var_dir / "models"),
            model_path=Path(env["MODEL_PATH"]) if env.get("MODEL_PATH") else None,
            log_format=(env.get("LOG_FORMAT") or defaults.log_format).lower(),
            log_level=(env.get("LOG_LEVEL") or defaults.log_level).upper(),
            max_message_chars=_int(env, "MAX_MESSAGE_CHARS", defaults.max_message_chars),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", defaults.max_body_bytes),
            tracker_ttl_seconds=_int(env, "TRACKER_TTL_SECONDS", defaults.tracker_ttl_seconds),
            nlu_max_batch=_int(env, "NLU_MAX_BATCH", defaults.nlu_max_batch),
            handoff_team=env.get("HANDOFF_TEAM") or defaults.handoff_team,
            handoff_kb_misses=_int(env, "HANDOFF_KB_MISSES", defaults.handoff_kb_misses),
            handoff_auto_assign_teams=_words(env.get("HANDOFF_AUTO_ASSIGN_TEAMS", "")),
            handoff_offer_timeout_seconds=_int(
                env, "HANDOFF_OFFER_TIMEOUT_SECONDS", defaults.handoff_offer_timeout_seconds
            ),
            handoff_tier_boost_seconds=_boosts(
                env.get("HANDOFF_TIER_BOOST", ""), defaults.handoff_tier_boost_seconds
            ),
            handoff_max_wait_seconds=_int(env, "HANDOFF_MAX_WAIT_SECONDS", defaults.handoff_max_wait_seconds),
            handoff_silence_seconds=_int(env, "HANDOFF_SILENCE_SECONDS", defaults.handoff_silence_seconds),
            handoff_direct_tiers=_words(env.get("HANDOFF_DIRECT_TIERS", "").lower()),
            cookie_secure=(env.get("COOKIE_SECURE") or "true").lower() not in ("0", "false", "no"),
            complaint_policy=_complaint_policy(env.get("COMPLAINTS_FILE", "").strip()),
            metrics_token=env.get("METRICS_TOKEN", "").strip(),
            rest_token=env.get("REST_TOKEN", "").strip(),
            report_timezone=env.get("REPORT_TIMEZONE") or defaults.report_timezone,
            report_retention_days=_int(env, "REPORT_RETENTION_DAYS", defaults.report_retention_days),
            audit_retention_days=_int(env, "AUDIT_RETENTION_DAYS", defaults.audit_retention_days),
            inbound_backlog_limit=_int(env, "INBOUND_BACKLOG_LIMIT", defaults.inbound_backlog_limit),
            turns_at_once=_int(env, "TURNS_AT_ONCE", defaults.turns_at_once),
            redis_wait_replicas=_optional_int(env, "REDIS_WAIT_REPLICAS"),
            redis_wait_ms=_int(env, "REDIS_WAIT_MS", defaults.redis_wait_ms),
            transcript_retention_days=_int(
                env, "TRANSCRIPT_RETENTION_DAYS", defaults.transcript_retention_days
            ),
            cost_agent_per_hour=_float(env, "COST_AGENT_PER_HOUR", defaults.cost_agent_per_hour),
            cost_bot_per_conversation=_float(
                env, "COST_BOT_PER_CONVERSATION", defaults.cost_bot_per_conversation
            ),
            cost_currency=env.get("COST_CURRENCY") or defaults.cost_currency,
            instance_id=env.get("INSTANCE_ID") or defaults.instance_id,
            telegram=TelegramConfig.from_env(env),
            wechat=WechatConfig.from_env(env),
            wecom=WecomConfig.from_env(env),
            webchat=WebchatConfig.from_env(env),
        )

    def wait_replicas(self) -> int:
        """Return how many replicas must hold a message before it is acknowledged (see the field)."""
        if self.redis_wait_replicas is not None:
            return self.redis_wait_replicas
        replicated = self.redis_url and (is_sentinel(self.redis_url) or is_cluster(self.redis_url))
        return 1 if replicated else 0

    def queue_settings(self) -> QueueSettings:
        """Return the routing policy these settings describe."""
        return QueueSettings(
            tier_boost_seconds=dict(self.handoff_tier_boost_seconds),
            offer_timeout_seconds=float(self.handoff_offer_timeout_seconds),
            auto_assign_teams=self.handoff_auto_assign_teams,
        )

    def __repr__(self) -> str:
        """Show settings without the Redis password."""
        url = self.redis_url
        if url and "@" in url:
            scheme, _, rest = url.partition("://")
            url = f"{scheme}://***@{rest.rpartition('@')[2]}"
        return (
            f"Settings(host={self.host!r}, port={self.port}, redis_url={url!r}, prefix={self.redis_prefix!r})"
        )
