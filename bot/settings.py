"""All configuration in one typed object.

``load_settings`` layers defaults, then an environment mapping, then explicit
overrides (tests). The caller passes the environment: ``bot`` never reads
``os.environ`` itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Settings:
    """Every knob of the bot; the names match the environment variables."""

    # Telnyx
    telnyx_api_key: str | None = None
    telnyx_phone_number: str | None = None
    telnyx_public_key: str | None = None
    telnyx_base_url: str | None = None  # the SDK's own default when None
    # Storage and time
    database_url: str = "sqlite:///reminders.db"
    bot_timezone: str = "UTC"
    # HTTP
    host: str = "127.0.0.1"
    port: int = 5000
    api_token: str | None = None
    max_body_bytes: int = 64 * 1024
    redis_url: str | None = None
    rate_limit_webhook: str = "600/minute"
    rate_limit_api: str = "300/minute"
    # Delivery
    dispatch_interval_seconds: float = 1.0
    dispatch_batch_size: int = 200
    dispatch_concurrency: int = 8
    outbound_rate_per_second: float = 50.0  # 0 lifts the limit
    lease_seconds: float = 60.0
    send_timeout_seconds: float = 10.0
    max_send_attempts: int = 6
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0
    late_note_after_seconds: float = 300.0
    run_dispatcher: bool = True
    # Safety
    allow_third_party: bool = True
    allowed_senders: tuple[str, ...] = field(default_factory=tuple)
    max_pending_per_sender: int = 100
    max_new_per_hour: int = 30
    max_recipients_per_day: int = 10
    max_command_length: int = 2000
    # Operations
    log_format: str = "text"
    log_level: str = "INFO"

    @property
    def telnyx_enabled(self) -> bool:
        """Say whether outbound messages go to Telnyx (else to the console)."""
        return bool(self.telnyx_api_key and self.telnyx_phone_number)

    @property
    def from_number(self) -> str:
        """Return the number the bot sends from (a placeholder on the console)."""
        return self.telnyx_phone_number or "+10000000000"


def _convert(value: Any, target: type | str) -> Any:
    kind = str(target)
    if isinstance(value, str):
        text = value.strip()
        if "bool" in kind:
            return text.lower() in {"1", "true", "yes", "on"}
        if "tuple" in kind:
            return tuple(part.strip() for part in text.split(",") if part.strip())
        if "float" in kind:
            return float(text)
        if "int" in kind:
            return int(text)
        if text == "" and "None" in kind:
            return None
        return text
    if "tuple" in kind and isinstance(value, (list, set)):
        return tuple(value)
    return value


def load_settings(environ: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build settings from defaults, then ``environ``, then ``overrides`` (keys in ENV_STYLE)."""
    values: dict[str, Any] = {}
    for source in (environ or {}, overrides or {}):
        for settings_field in dataclasses.fields(Settings):
            key = settings_field.name.upper()
            if key in source and source[key] is not None:
                values[settings_field.name] = _convert(source[key], settings_field.type)
            elif key in source and source is overrides:
                values[settings_field.name] = None
    return Settings(**values)
