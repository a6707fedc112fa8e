"""Each channel's settings, read from the environment; no chat SDK here, so the core may import it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SECRET_CHARS = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass(frozen=True)
class TelegramConfig:
    """The Telegram channel's settings (``TELEGRAM_*``)."""

    token: str
    webhook_secret: str = ""
    api_base_url: str = "https://api.telegram.org"
    mode: str = "webhook"
    # Where Telegram should post updates; when set, the engine registers it (setWebhook) at start-up.
    webhook_url: str = ""

    def __post_init__(self) -> None:
        """Refuse a webhook without a secret: anyone could post updates to it."""
        if self.mode not in ("webhook", "polling"):
            raise ValueError(f"TELEGRAM_MODE must be 'webhook' or 'polling', got {self.mode!r}")
        if self.mode == "webhook" and not _SECRET_CHARS.match(self.webhook_secret):
            raise ValueError("TELEGRAM_WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -) is required in webhook mode")

    def __repr__(self) -> str:
        """Show the settings without the token or the secret."""
        return f"TelegramConfig(mode={self.mode!r}, api_base_url={self.api_base_url!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelegramConfig | None:
        """Build from the environment; None (channel off) when ``TELEGRAM_BOT_TOKEN`` is unset."""
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            return None
        return cls(
            token=token,
            webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET", "").strip(),
            api_base_url=(env.get("TELEGRAM_API_BASE_URL") or cls.api_base_url).rstrip("/"),
            mode=(env.get("TELEGRAM_MODE") or "webhook").strip().lower(),
            webhook_url=env.get("TELEGRAM_WEBHOOK_URL", "").strip(),
        )


def _aes_key(name: str, value: str) -> str:
    # WeChat's EncodingAESKey: 43 characters of base64 (a 32-byte AES key without its "=").
    if value and not re.fullmatch(r"[A-Za-z0-9+/]{43}", value):
        raise ValueError(f"{name} must be the 43-character EncodingAESKey from the WeChat console")
    return value


@dataclass(frozen=True)
class WechatConfig:
    """The WeChat Official Account channel's settings (``WECHAT_*``)."""

    token: str
    app_id: str
    app_secret: str
    aes_key: str = ""
    api_base_url: str = "https://api.weixin.qq.com"

    def __post_init__(self) -> None:
        """Check the AES key's shape now rather than at the first encrypted message."""
        _aes_key("WECHAT_AES_KEY", self.aes_key)
        if not self.app_id or not self.app_secret:
            raise ValueError("WECHAT_APP_ID and WECHAT_APP_SECRET are required with WECHAT_TOKEN")

    def __repr__(self) -> str:
        """Show the settings without secrets."""
        return (
            f"WechatConfig(app_id={self.app_id!r}, safe_mode={bool(self.aes_key)}, api={self.api_base_url!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WechatConfig | None:
        """Build from the environment; None (channel off) when ``WECHAT_TOKEN`` is unset."""
        token = env.get("WECHAT_TOKEN", "").strip()
        if not token:
            return None
        return cls(
            token=token,
            app_id=env.get("WECHAT_APP_ID", "").strip(),
            app_secret=env.get("WECHAT_APP_SECRET", "").strip(),
            aes_key=env.get("WECHAT_AES_KEY", "").strip(),
            api_base_url=(env.get("WECHAT_API_BASE_URL") or cls.api_base_url).rstrip("/"),
        )


@dataclass(frozen=True)
class WecomConfig:
    """The WeCom customer service (微信客服) channel's settings (``WECOM_*``)."""

    corp_id: str
    secret: str
    token: str
    aes_key: str
    open_kfid: str
    api_base_url: str = "https://qyapi.weixin.qq.com"
    # Our agent username → their WeCom userid, for agents who also serve in WeCom (service state 3).
    servicers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        """WeCom callbacks are always encrypted: every field is required."""
        _aes_key("WECOM_AES_KEY", self.aes_key)
        missing = [
            n
            for n, v in (
                ("WECOM_SECRET", self.secret),
                ("WECOM_TOKEN", self.token),
                ("WECOM_AES_KEY", self.aes_key),
                ("WECOM_OPEN_KFID", self.open_kfid),
            )
            if not v
        ]
        if missing:
            raise ValueError(f"{', '.join(missing)} required with WECOM_CORP_ID")

    def __repr__(self) -> str:
        """Show the settings without secrets."""
        return (
            f"WecomConfig(corp_id={self.corp_id!r}, open_kfid={self.open_kfid!r}, api={self.api_base_url!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WecomConfig | None:
        """Build from the environment; None (channel off) when ``WECOM_CORP_ID`` is unset."""
        corp_id = env.get("WECOM_CORP_ID", "").strip()
        if not corp_id:
            return None
        return cls(
            corp_id=corp_id,
            secret=env.get("WECOM_SECRET", "").strip(),
            token=env.get("WECOM_TOKEN", "").strip(),
            aes_key=env.get("WECOM_AES_KEY", "").strip(),
            open_kfid=env.get("WECOM_OPEN_KFID", "").strip(),
            api_base_url=(env.get("WECOM_API_BASE_URL") or cls.api_base_url).rstrip("/"),
            servicers=_pairs("WECOM_SERVICERS", env.get("WECOM_SERVICERS", "")),
        )


def _pairs(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    """Parse ``a:x,b:y`` into pairs."""
    pairs = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        left, sep, right = item.partition(":")
        if not sep or not left.strip() or not right.strip():
            raise ValueError(f"{name} must look like 'agent:wecom_userid,...', got {item!r}")
        pairs.append((left.strip(), right.strip()))
    return tuple(pairs)


@dataclass(frozen=True)
class WebchatConfig:
    """The embeddable web chat widget's settings (``WEBCHAT_*``)."""

    # Pages allowed to open the chat socket ("https://shop.example.com"); "*" allows any page, and
    # an empty list only the engine's own pages.
    allowed_origins: tuple[str, ...] = ()
    history: int = 50

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebchatConfig | None:
        """Build from the environment; on unless ``WEBCHAT_ENABLED`` is false."""
        if (env.get("WEBCHAT_ENABLED") or "true").strip().lower() in ("0", "false", "no"):
            return None
        raw = env.get("WEBCHAT_ALLOWED_ORIGINS", "")
        origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
        return cls(allowed_origins=origins)
