"""Configuration: one typed object, every variable documented, explicit overrides win."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_in_env_example():
    documented = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
                  if "=" in line and not line.startswith("#")}
    names = {field.name.upper() for field in dataclasses.fields(Settings)}
    assert names <= documented, names - documented
    assert documented - names == {"WEB_CONCURRENCY", "GUNICORN_THREADS", "PROMETHEUS_MULTIPROC_DIR"}  # gunicorn's


def test_environment_values_are_converted_and_overrides_win():
    settings = load_settings(
        {"PORT": "8080", "ALLOW_THIRD_PARTY": "false", "ALLOWED_SENDERS": "+12125550147, +16465550199",
         "OUTBOUND_RATE_PER_SECOND": "12.5", "API_TOKEN": "from-env"},
        {"API_TOKEN": "explicit"},
    )
    assert settings.port == 8080 and settings.allow_third_party is False
    assert settings.allowed_senders == ("+12125550147", "+16465550199")
    assert settings.outbound_rate_per_second == 12.5
    assert settings.api_token == "explicit"


def test_defaults_run_on_sqlite_with_the_console():
    settings = load_settings({})
    assert settings.database_url.startswith("sqlite:///") and not settings.telnyx_enabled
