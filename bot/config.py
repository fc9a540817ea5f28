"""Configuration, read once from the environment (and ``.env``) into a typed
object that is passed down. Nothing deeper reads the environment.

Secrets are kept out of ``repr`` so that a logged config never shows them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values


class ConfigError(Exception):
    """A setting is wrong; the message names it and says what is expected."""


def _secret() -> str:
    return field(default="", repr=False)  # type: ignore[return-value]


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("data")
    public_url: str = "http://localhost:3000"
    mail_from: str = "noreply@hub.localhost"
    http_host: str = "127.0.0.1"
    http_port: int = 3000
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = _secret()
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    telegram_bot_token: str = _secret()
    telegram_api_base_url: str = ""
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = _secret()
    telegram_max_rate: int = 30
    telegram_own_process: bool = True
    slack_bot_token: str = _secret()
    slack_app_token: str = _secret()
    slack_signing_secret: str = _secret()
    slack_api_url: str = ""
    slack_own_process: bool = True
    reminder_time: str = "09:00"
    timezone: str = "UTC"
    remind_after_days: int = 7
    log_level: str = "INFO"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def reminder_hour_minute(self) -> tuple[int, int]:
        hour, minute = self.reminder_time.split(":")
        return int(hour), int(minute)

    @property
    def has_chat_platform(self) -> bool:
        return bool(self.telegram_bot_token or self.slack_bot_token)


# Environment variable → Config field. `.env.example` documents each one.
ENV = {
    "HUB_DATA_DIR": "data_dir",
    "HUB_PUBLIC_URL": "public_url",
    "HUB_MAIL_FROM": "mail_from",
    "HUB_HTTP_HOST": "http_host",
    "HUB_HTTP_PORT": "http_port",
    "SMTP_HOST": "smtp_host",
    "SMTP_PORT": "smtp_port",
    "SMTP_USER": "smtp_user",
    "SMTP_PASSWORD": "smtp_password",
    "SMTP_STARTTLS": "smtp_starttls",
    "SMTP_SSL": "smtp_ssl",
    "TELEGRAM_BOT_TOKEN": "telegram_bot_token",
    "TELEGRAM_API_BASE_URL": "telegram_api_base_url",
    "TELEGRAM_WEBHOOK_URL": "telegram_webhook_url",
    "TELEGRAM_WEBHOOK_SECRET": "telegram_webhook_secret",
    "TELEGRAM_MAX_MESSAGES_PER_SECOND": "telegram_max_rate",
    "TELEGRAM_OWN_PROCESS": "telegram_own_process",
    "SLACK_BOT_TOKEN": "slack_bot_token",
    "SLACK_APP_TOKEN": "slack_app_token",
    "SLACK_SIGNING_SECRET": "slack_signing_secret",
    "SLACK_API_URL": "slack_api_url",
    "SLACK_OWN_PROCESS": "slack_own_process",
    "HUB_REMINDER_TIME": "reminder_time",
    "HUB_TIMEZONE": "timezone",
    "HUB_REMIND_AFTER_DAYS": "remind_after_days",
    "HUB_LOG_LEVEL": "log_level",
}


def _convert(name: str, kind: type, raw: str) -> object:
    raw = raw.strip()
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{name} must be true or false, not {raw!r}.")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None
    if kind is Path:
        return Path(raw)
    return raw


def load(
    environ: dict[str, str] | None = None, env_file: Path | None = Path(".env"), **overrides: object
) -> Config:
    """Defaults, then ``.env``, then the real environment, then ``overrides``
    (command-line flags such as ``--data-dir``)."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.exists():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    types = {f.name: f.type for f in fields(Config)}
    kinds = {"bool": bool, "int": int, "Path": Path, "str": str}
    settings: dict[str, object] = {}
    for env_name, attr in ENV.items():
        if env_name in values and values[env_name] != "":
            settings[attr] = _convert(env_name, kinds[str(types[attr])], values[env_name])
    settings.update({k: v for k, v in overrides.items() if v is not None})
    config = Config(**settings)  # type: ignore[arg-type]
    _validate(config)
    return config


def _validate(config: Config) -> None:
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", config.reminder_time):
        raise ConfigError(f"HUB_REMINDER_TIME must be HH:MM, not {config.reminder_time!r}.")
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"HUB_TIMEZONE {config.timezone!r} is not a known time zone.") from None
    if not re.match(r"https?://[^/\s]+", config.public_url):
        raise ConfigError("HUB_PUBLIC_URL must start with http:// or https://.")
    if config.remind_after_days < 0:
        raise ConfigError("HUB_REMIND_AFTER_DAYS must be 0 or more.")
