"""Configuration: one typed object, every variable documented, explicit overrides win, bad values named."""

from __future__ import annotations

import base64
import dataclasses
import typing
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings
from tests.signing import WebhookSigner

ROOT = Path(__file__).resolve().parent.parent
TELNYX = {"TELNYX_API_KEY": "KEY_SETTINGS", "TELNYX_PHONE_NUMBER": "+13125550100"}


def _error(environ: dict[str, str]) -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(caught.value.variable)
    return caught.value


def _fields_of_type(kind: type) -> list[str]:
    hints = typing.get_type_hints(Settings, include_extras=True)
    return [field.name.upper() for field in dataclasses.fields(Settings)
            if typing.get_args(hints[field.name])[:1] == (kind,) or hints[field.name] is kind]


def test_every_setting_is_documented_in_env_example():
    documented = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
                  if "=" in line and not line.startswith("#")}
    names = {field.name.upper() for field in dataclasses.fields(Settings)}
    assert names <= documented, names - documented
    assert documented - names == {"WEB_CONCURRENCY", "GUNICORN_THREADS", "PROMETHEUS_MULTIPROC_DIR"}  # gunicorn's


def test_env_example_copied_as_it_is_passes_the_checks():
    from dotenv import dotenv_values

    settings = load_settings(dotenv_values(ROOT / ".env.example"))
    assert settings.host == "127.0.0.1" and not settings.telnyx_enabled


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
    assert settings.host == "127.0.0.1"


def test_an_empty_value_means_the_default_for_every_setting():
    # A blank DISPATCH_INTERVAL_SECONDS= in .env used to crash with "could not convert string to float".
    blank = {field.name.upper(): "" for field in dataclasses.fields(Settings)}
    assert load_settings(blank) == load_settings({})
    assert load_settings({field: "   " for field in blank}) == load_settings({})


def test_none_among_the_overrides_unsets_what_the_environment_set():
    settings = load_settings({"API_TOKEN": "from-env", "PORT": "8080", **TELNYX},
                             {"API_TOKEN": None, "PORT": None, "TELNYX_API_KEY": None, "TELNYX_PHONE_NUMBER": None})
    assert settings.api_token is None and settings.port == 5000 and not settings.telnyx_enabled


@pytest.mark.parametrize("word, value", [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("On", True),
    ("false", False), ("0", False), ("no", False), ("OFF", False), (" false ", False),
], ids=lambda item: repr(item))
def test_booleans_read_the_usual_words(word, value):
    assert load_settings({"RUN_DISPATCHER": word}).run_dispatcher is value


@pytest.mark.parametrize("word", ["ture", "flase", "2", "enabled", "y"])
def test_a_boolean_typo_is_an_error_not_false(word):
    # RUN_DISPATCHER=ture used to turn the dispatcher off without a word.
    error = _error({"RUN_DISPATCHER": word})
    assert error.variable == "RUN_DISPATCHER" and repr(word) in str(error) and "true or false" in str(error)


@pytest.mark.parametrize("variable", _fields_of_type(bool))
def test_every_boolean_setting_is_strict(variable):
    assert _error({variable: "maybe"}).variable == variable


@pytest.mark.parametrize("variable", _fields_of_type(int) + _fields_of_type(float))
def test_every_numeric_setting_refuses_words_and_negatives(variable):
    assert _error({variable: "lots"}).variable == variable
    assert _error({variable: "-1"}).variable == variable
    assert _error({variable: "nan"}).variable == variable


@pytest.mark.parametrize("environ, variable, says", [
    ({"PORT": "0"}, "PORT", "from 1 to 65,535"),
    ({"PORT": "70000"}, "PORT", "from 1 to 65,535"),
    ({"PORT": "80.5"}, "PORT", "whole number"),
    ({"DISPATCH_INTERVAL_SECONDS": "0"}, "DISPATCH_INTERVAL_SECONDS", "from 0.05 to 3,600"),
    ({"MAX_COMMAND_LENGTH": "2001"}, "MAX_COMMAND_LENGTH", "from 1 to 2,000"),
    ({"MAX_BODY_BYTES": "100"}, "MAX_BODY_BYTES", "bytes from 1,024"),
    ({"SEND_TIMEOUT_SECONDS": "inf"}, "SEND_TIMEOUT_SECONDS", "seconds from 0.1 to 300"),
    ({"RETRY_BASE_SECONDS": "10", "RETRY_MAX_SECONDS": "5"}, "RETRY_MAX_SECONDS", "at least RETRY_BASE_SECONDS"),
], ids=["port-0", "port-too-big", "port-decimal", "interval-0", "command-length", "body-bytes", "timeout-inf",
        "retry-max-below-base"])
def test_numbers_have_ranges(environ, variable, says):
    error = _error(environ)
    assert error.variable == variable and says in str(error)


def test_numbers_in_range_are_read():
    settings = load_settings({"PORT": "65535", "DISPATCH_INTERVAL_SECONDS": "0.05", "OUTBOUND_RATE_PER_SECOND": "0",
                              "MAX_RECIPIENTS_PER_DAY": "0", "LATE_NOTE_AFTER_SECONDS": "1e2"})
    assert (settings.port, settings.dispatch_interval_seconds, settings.outbound_rate_per_second) == (65535, 0.05, 0)
    assert settings.max_recipients_per_day == 0 and settings.late_note_after_seconds == 100


@pytest.mark.parametrize("name, zone", [
    ("America/New_York", "America/New_York"), ("europe/paris", "Europe/Paris"), ("eastern", "America/New_York"),
    ("Pacific", "America/Los_Angeles"), ("PST", "America/Los_Angeles"), ("utc", "UTC"), ("GMT", "Europe/London"),
    ("New York", "America/New_York"),  # a city, as people write it
])
def test_a_zone_or_an_sms_alias_is_stored_as_its_iana_name(name, zone):
    assert load_settings({"BOT_TIMEZONE": name}).bot_timezone == zone


@pytest.mark.parametrize("name", ["Mars/Olympus", "EST5", "Atlantis", "+05:00"])
def test_an_unknown_zone_is_an_error(name):
    error = _error({"BOT_TIMEZONE": name})
    assert error.variable == "BOT_TIMEZONE" and "IANA" in str(error) and "eastern" in str(error)


def test_the_public_key_is_base64_of_32_bytes_and_never_shown():
    key = WebhookSigner().public_key
    assert load_settings({"TELNYX_PUBLIC_KEY": key}).telnyx_public_key == key
    for bad, says in [(key[:-1], "not base64"), (key[:-4], "decodes to 30 bytes"),
                      (base64.b64encode(b"x" * 16).decode(), "decodes to 16 bytes"),
                      (bytes(32).hex(), "decodes to 48 bytes"), ("-----BEGIN PUBLIC KEY-----", "not base64")]:
        error = _error({"TELNYX_PUBLIC_KEY": bad})
        assert error.variable == "TELNYX_PUBLIC_KEY" and says in str(error), str(error)
        assert bad not in str(error) and f"<hidden, {len(bad)} characters>" in str(error)


def test_phone_numbers_are_e164_and_normalised():
    settings = load_settings({**TELNYX, "TELNYX_PHONE_NUMBER": "+1 (312) 555-0100",
                              "ALLOWED_SENDERS": "+1 212-555-0147,+12125550147, +44 7400 123456,"})
    assert settings.telnyx_phone_number == "+13125550100"
    assert settings.allowed_senders == ("+12125550147", "+447400123456")


@pytest.mark.parametrize("environ, variable, says", [
    ({**TELNYX, "TELNYX_PHONE_NUMBER": "312-555-0100"}, "TELNYX_PHONE_NUMBER", "did you mean +13125550100?"),
    ({**TELNYX, "TELNYX_PHONE_NUMBER": "+1 555"}, "TELNYX_PHONE_NUMBER", "is not E.164"),
    ({"ALLOWED_SENDERS": "212-555-0147"}, "ALLOWED_SENDERS", "did you mean +12125550147?"),
    ({"ALLOWED_SENDERS": "+12125550147,owner"}, "ALLOWED_SENDERS", "'owner', which is not E.164"),
], ids=["national-number", "too-short", "allowed-sender-national", "allowed-sender-word"])
def test_a_number_that_is_not_e164_is_an_error(environ, variable, says):
    # ALLOWED_SENDERS=212-555-0147 used to lock the owner out: no sender ever matched it.
    error = _error(environ)
    assert error.variable == variable and says in str(error), str(error)


def test_api_key_and_number_come_together_or_not_at_all():
    # TELNYX_API_KEY without the number used to fall back to the console without a word.
    error = _error({"TELNYX_API_KEY": "KEY_SECRET_0123"})
    assert error.variable == "TELNYX_PHONE_NUMBER" and "TELNYX_API_KEY is" in str(error)
    assert "KEY_SECRET_0123" not in str(error)
    assert _error({"TELNYX_PHONE_NUMBER": "+13125550100"}).variable == "TELNYX_API_KEY"
    assert load_settings(TELNYX).telnyx_enabled and not load_settings({}).telnyx_enabled


@pytest.mark.parametrize("limit", ["lots", "600", "600/fortnight", "0/minute", "10/second;lots"])
def test_a_rate_limit_must_parse(limit):
    # RATE_LIMIT_API=lots used to drop the limit, with an error only at the first request.
    error = _error({"RATE_LIMIT_API": limit})
    assert error.variable == "RATE_LIMIT_API" and "600/minute" in str(error)


def test_rate_limits_in_any_syntax_limits_reads_are_kept():
    settings = load_settings({"RATE_LIMIT_API": "10/second;600/hour", "RATE_LIMIT_WEBHOOK": "100 per minute"})
    assert (settings.rate_limit_api, settings.rate_limit_webhook) == ("10/second;600/hour", "100 per minute")


@pytest.mark.parametrize("url, says", [
    ("not a url", "not a URL SQLAlchemy can read"),
    ("mysql://bot:hunter22@db/reminders", "names 'mysql'"),
    ("postgresql+psycopg2://bot:hunter22@db/reminders", "names the driver 'psycopg2'"),
    ("sqlite://", "is not a file"),
    ("sqlite:///:memory:", "is not a file"),
], ids=["words", "mysql", "psycopg2", "sqlite-memory", "sqlite-memory-named"])
def test_a_database_url_must_name_sqlite_or_postgresql(url, says):
    error = _error({"DATABASE_URL": url})
    assert error.variable == "DATABASE_URL" and says in str(error), str(error)
    assert "hunter22" not in str(error)


def test_database_urls_are_kept_as_written():
    for url in ("sqlite:///reminders.db", "postgresql://bot@db/reminders", "postgres://bot:pw@db:5433/r",
                "postgresql+psycopg://bot@db/reminders"):
        assert load_settings({"DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize("url, says", [
    ("http://127.0.0.1:6379", "has the scheme 'http'"),
    ("redis://:hunter22@", "names no host"),
    ("redis://127.0.0.1:port/0", "is not a URL"),
    ("127.0.0.1:6379", "has the scheme"),
])
def test_a_redis_url_must_be_one(url, says):
    error = _error({"REDIS_URL": url})
    assert error.variable == "REDIS_URL" and says in str(error) and "hunter22" not in str(error), str(error)


@pytest.mark.parametrize("environ, variable", [
    ({"HOST": "every interface"}, "HOST"), ({"TELNYX_BASE_URL": "api.telnyx.com"}, "TELNYX_BASE_URL"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"), ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
])
def test_other_settings_are_checked_too(environ, variable):
    assert _error(environ).variable == variable


def test_choices_are_read_in_any_case():
    settings = load_settings({"LOG_LEVEL": "debug", "LOG_FORMAT": "JSON", "HOST": "0.0.0.0"})
    assert (settings.log_level, settings.log_format, settings.host) == ("DEBUG", "json", "0.0.0.0")


def test_python_values_from_create_app_overrides_are_checked_alike():
    settings = load_settings(overrides={"DISPATCH_INTERVAL_SECONDS": 0.5, "RUN_DISPATCHER": False, "PORT": 8080,
                                        "ALLOWED_SENDERS": ["+12125550147"]})
    assert settings.dispatch_interval_seconds == 0.5 and settings.run_dispatcher is False and settings.port == 8080
    assert settings.allowed_senders == ("+12125550147",)
    with pytest.raises(SettingsError, match="^PORT=0 is out of range"):
        load_settings(overrides={"PORT": 0})
    with pytest.raises(SettingsError, match="^PORT=True is not valid"):
        load_settings(overrides={"PORT": True})
