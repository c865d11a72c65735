"""All configuration in one typed object, checked before anything starts.

``load_settings`` layers defaults, then an environment mapping, then explicit overrides (tests),
and reads each value by its field's rule: a bad one raises ``SettingsError``, which names the
variable, the value (secrets masked) and what would be valid. An empty value counts as unset. The
caller passes the environment: ``bot`` never reads ``os.environ`` itself. Whether the database and
Redis a valid configuration names actually answer is checked separately, with I/O, by
``bot.config_check``.

A setting declares its rule in its annotation, ``port: Annotated[int, Integer(1, 65_535)] = 5000``.
Without one its type decides: ``bool`` is a strict boolean, ``int`` and ``float`` a number of at
least 0, ``Literal["a", "b"]`` one of those words, ``str`` any text.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import ipaddress
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Mapping


class SettingsError(ValueError):
    """A setting's value cannot be used.

    Args:
        variable: the environment variable ("BOT_TIMEZONE").
        value: the value as it may be shown (secrets already masked), or None when it is unset.
        expected: what would be valid.
        problem: what is wrong, when "is not valid" does not say enough.
    """

    def __init__(self, variable: str, value: str | None, expected: str, problem: str = "is not valid") -> None:
        self.variable, self.value, self.expected, self.problem = variable, value, expected, problem
        named = variable if value is None else f"{variable}={value}"
        super().__init__(re.sub(r"\s*\n\s*", " ", f"{named} {problem}; expected {expected}"))  # always one line


# --- Rules: how one setting is read from its text -------------------------------------------------


class Invalid(ValueError):
    """Raised by a rule with what is wrong, said of the value: "is out of range", "names 'mysql'"."""


_SHOWN_LENGTH = 80  # longer values are cut in messages


class Rule:
    """Read one setting: ``read`` raises Invalid saying what is wrong, or any ValueError for "is not valid"."""

    expected = "a value"
    secret = False  # the value is never shown, only its length

    def read(self, value: Any) -> Any:
        """Return the setting's value for ``value`` (text from the environment, or a Python value)."""
        return value

    def show(self, value: Any) -> str:
        """Render ``value`` for a message: masked if secret, cut if long, always one line."""
        if self.secret:
            return f"<hidden, {len(str(value))} characters>"
        if isinstance(value, str) and len(value) > _SHOWN_LENGTH:
            value = value[:_SHOWN_LENGTH] + "..."
        return repr(value)


class Text(Rule):
    """Any text."""

    def __init__(self, *, secret: bool = False) -> None:
        self.secret = secret
        self.expected = "some text"

    def read(self, value: Any) -> str:
        return str(value).strip()


class ShortText(Rule):
    """Printable text of at most ``longest`` characters (it is put into messages)."""

    def __init__(self, longest: int) -> None:
        self.longest = longest
        self.expected = f"printable text of 1 to {longest} characters"

    def read(self, value: Any) -> str:
        text = str(value).strip()
        if not text or len(text) > self.longest or not text.isprintable():
            raise ValueError
        return text


class Flag(Rule):
    """A strict boolean: a typo is an error, not "false"."""

    TRUE = frozenset({"true", "1", "yes", "on"})
    FALSE = frozenset({"false", "0", "no", "off"})
    expected = "true or false (or 1/0, yes/no, on/off)"

    def read(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in self.TRUE:
            return True
        if word in self.FALSE:
            return False
        raise ValueError


class _Range(Rule):
    kind = "a number"
    convert: Any = float

    def __init__(self, low: float | None = 0, high: float | None = None, *, unit: str = "") -> None:
        self.low, self.high = low, high
        of = f"{self.kind} of {unit}" if unit else self.kind
        if low is not None and high is not None:
            self.expected = f"{of} from {low:,} to {high:,}"
        elif low is not None:
            self.expected = f"{of} of at least {low:,}"
        else:
            self.expected = of

    def read(self, value: Any) -> Any:
        if isinstance(value, bool):  # True is an int to Python, not a number to a person
            raise TypeError
        number = self._number(value)
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise Invalid("is out of range")
        return number

    def _number(self, value: Any) -> float:
        number = float(value.strip()) if isinstance(value, str) else float(value)
        if not math.isfinite(number):
            raise ValueError
        return number


class Number(_Range):
    """A number (decimals allowed) within a range."""


class Integer(_Range):
    """A whole number within a range."""

    kind = "a whole number"

    def _number(self, value: Any) -> int:  # type: ignore[override]
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError
            return int(value)
        return int(value.strip()) if isinstance(value, str) else int(value)


class OneOf(Rule):
    """One of a few words, in any case; the value is the word as declared."""

    def __init__(self, *choices: str) -> None:
        self.choices = choices
        self.expected = "one of " + ", ".join(choices)

    def read(self, value: Any) -> str:
        word = str(value).strip().lower()
        for choice in self.choices:
            if choice.lower() == word:
                return choice
        raise ValueError


class TimeZone(Rule):
    """An IANA zone, or an alias the SMS "tz" command accepts; the value is the IANA name."""

    expected = ('an IANA time zone such as America/New_York or Europe/London, or a name the SMS "tz" '
                'command accepts (eastern, central, mountain, pacific, alaska, hawaii, UTC, GMT, CET, PST, ...)')

    def read(self, value: Any) -> str:
        from bot.language.when import find_zone

        zone = find_zone(str(value))
        if zone is None:
            raise ValueError
        return zone


class PublicKey(Rule):
    """An ed25519 public key in base64, as the Telnyx portal shows it."""

    expected = "the base64 of a 32-byte ed25519 key (44 characters ending in '='), as the Telnyx portal shows it"

    def __init__(self, *, secret: bool = True) -> None:
        self.secret = secret

    def read(self, value: Any) -> str:
        text = str(value).strip()
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("is not base64") from None
        if len(raw) != 32:
            raise Invalid(f"decodes to {len(raw)} bytes, not 32")
        return text


def _e164(text: str) -> tuple[str | None, str | None]:
    """Return ``text`` as an E.164 number, or None and what it may have meant (read as a US number)."""
    from bot.phones import normalize_number

    number = normalize_number(text) if text.startswith("+") else None
    return (number, None) if number else (None, normalize_number(text))


class PhoneNumber(Rule):
    """A phone number in E.164 ("+13125550100"); spaces and dashes after the "+" are dropped."""

    expected = "an E.164 number: + and the country code, such as +13125550100"

    def read(self, value: Any) -> str:
        number, guess = _e164(str(value).strip())
        if number is None:
            raise Invalid("is not E.164" + (f" (did you mean {guess}?)" if guess else ""))
        return number


class PhoneNumbers(Rule):
    """Comma-separated E.164 numbers; the value is a tuple of them, normalised."""

    expected = "comma-separated E.164 numbers (+ and the country code), such as +12125550147,+16465550199"

    def read(self, value: Any) -> tuple[str, ...]:
        parts = value.split(",") if isinstance(value, str) else list(value)
        numbers = []
        for part in (str(part).strip() for part in parts):
            if part:
                number, guess = _e164(part)
                if number is None:
                    raise Invalid(f"has {part!r}, which is not E.164" + (f" (did you mean {guess}?)" if guess else ""))
                numbers.append(number)
        return tuple(dict.fromkeys(numbers))


class RateLimit(Rule):
    """A rate limit in the ``limits`` library's syntax, as webhooks.limits counts it."""

    expected = ('a rate limit such as "600/minute" or "10/second;600/hour" (at least 1 per period; '
                'the syntax of the limits library)')

    def read(self, value: Any) -> str:
        from limits import parse_many

        text = str(value).strip()
        if any(item.amount < 1 for item in parse_many(text)):  # parse_many raises ValueError on bad text
            raise Invalid("allows nothing (0 requests)")
        return text


_URL_PASSWORD = re.compile(r"(//[^/@:]*:)[^/@]*@")


def _mask_url_password(text: str) -> str:
    return _URL_PASSWORD.sub(r"\1***@", text)


class DatabaseUrl(Rule):
    """A SQLAlchemy URL for SQLite or PostgreSQL (psycopg 3); the password is masked in messages."""

    expected = ("a SQLAlchemy URL such as sqlite:///reminders.db (a file) or "
                "postgresql+psycopg://user:password@host:5432/database")

    def read(self, value: Any) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        from bot.storage.db import normalize_database_url

        text = str(value).strip()
        try:
            url = make_url(normalize_database_url(text))
        except (ArgumentError, ValueError):
            raise Invalid("is not a URL SQLAlchemy can read") from None
        backend, driver = url.get_backend_name(), url.get_driver_name()
        if backend == "sqlite":
            if driver != "pysqlite":
                raise Invalid(f"names the driver {driver!r}")
            if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
                raise Invalid("is not a file (an in-memory database is not shared between connections)")
        elif backend == "postgresql":
            if driver != "psycopg":
                raise Invalid(f"names the driver {driver!r} (psycopg 3 is the one installed)")
        else:
            raise Invalid(f"names {backend!r} (the bot runs on SQLite or PostgreSQL)")
        return text

    def show(self, value: Any) -> str:
        return super().show(_mask_url_password(str(value)))


class RedisUrl(Rule):
    """A Redis URL as the ``limits`` library and redis-py take it; the password is masked in messages."""

    SCHEMES = ("redis", "rediss", "redis+unix")
    expected = "a Redis URL such as redis://:password@host:6379/0 (rediss:// for TLS, redis+unix:///path for a socket)"

    def read(self, value: Any) -> str:
        from urllib.parse import urlsplit

        text = str(value).strip()
        try:
            parts = urlsplit(text)
            port = parts.port  # raises ValueError when it is not a number
        except ValueError:
            raise Invalid("is not a URL") from None
        if parts.scheme not in self.SCHEMES:
            raise Invalid(f"has the scheme {parts.scheme!r}")
        if parts.scheme == "redis+unix" and not parts.path:
            raise Invalid("names no socket path")
        if parts.scheme != "redis+unix" and not parts.hostname:
            raise Invalid("names no host")
        del port
        return text

    def show(self, value: Any) -> str:
        return super().show(_mask_url_password(str(value)))


class SecretKey(Rule):
    """A long random secret (SECRET_KEY, ADMIN_TOKEN): at least 32 characters, not a placeholder."""

    secret = True
    expected = ('a random secret of at least 32 characters, such as the output of '
                'python -c "import secrets; print(secrets.token_urlsafe(32))"')
    # Words that documentation and tutorials put there (a key made of them is known to everyone);
    # six letters or more, so a random key contains one by chance about once in 30 million.
    PLACEHOLDERS = ("change", "secret", "example", "replace", "placeholder", "password")

    def read(self, value: Any) -> str:
        text = str(value).strip()
        if len(text) < 32:
            raise Invalid(f"is {len(text)} characters long")
        if len(set(text)) < 10 or any(word in text.lower() for word in self.PLACEHOLDERS):
            raise Invalid("looks like a placeholder, not a random secret")
        return text


class HttpUrl(Rule):
    """An http:// or https:// URL with a host."""

    expected = "an http:// or https:// URL such as https://api.telnyx.com"

    def read(self, value: Any) -> str:
        from urllib.parse import urlsplit

        text = str(value).strip()
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 (raises ValueError when the port is not a number)
        except ValueError:
            raise ValueError from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError
        return text


class ApiBaseUrl(HttpUrl):
    """Scheme, host and port only: it replaces a provider's ``https://api.example.com`` in every request URL."""

    expected = "an http:// or https:// URL with no path, such as http://127.0.0.1:8765"

    def read(self, value: Any) -> str:
        from urllib.parse import urlsplit

        text = super().read(value).rstrip("/")
        parts = urlsplit(text)
        if parts.path or parts.query or parts.fragment:
            raise Invalid("has a path (the SDK adds its own, /2010-04-01/...)")
        return text


class Sid(Rule):
    """A Twilio SID: two letters naming its kind ("AC" an account, "MG" a Messaging Service) and 32 hex digits."""

    def __init__(self, prefix: str, what: str) -> None:
        self.prefix = prefix
        self.expected = f"the {what} SID from the Twilio Console: {prefix} and 32 hex digits"

    def read(self, value: Any) -> str:
        text = str(value).strip()
        if not re.fullmatch(rf"{self.prefix}[0-9a-fA-F]{{32}}", text):
            raise Invalid(f"does not start with {self.prefix}" if not text.startswith(self.prefix)
                          else "is not 32 hex digits after " + self.prefix)
        return text


_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


class HostAddress(Rule):
    """An address to listen on: an IP address or a host name."""

    expected = "an IP address or host name to listen on, such as 127.0.0.1 (this host only) or 0.0.0.0 (every interface)"

    def read(self, value: Any) -> str:
        text = str(value).strip()
        try:
            return str(ipaddress.ip_address(text.strip("[]")))
        except ValueError:
            if _HOSTNAME.match(text):
                return text
            raise ValueError from None


# --- The settings --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """Every knob of the bot; the names match the environment variables."""

    # Telnyx
    telnyx_api_key: Annotated[str | None, Text(secret=True)] = None
    telnyx_phone_number: Annotated[str | None, PhoneNumber()] = None
    telnyx_public_key: Annotated[str | None, PublicKey()] = None
    telnyx_base_url: Annotated[str | None, HttpUrl()] = None  # the SDK's own default when None
    # The public URL providers and people reach this app at (https://example.ngrok.app): Twilio's
    # signatures are computed over it, and sign-in links and calendar feeds are built from it.
    public_base_url: Annotated[str | None, HttpUrl()] = None
    # -- Provider choice and Twilio (issue 15) --
    # Who sends: telnyx, twilio or console. Unset: the provider whose credentials are set (console when
    # none); both providers' credentials without it is an error, rather than a guess.
    sms_provider: Annotated[str | None, OneOf("telnyx", "twilio", "console")] = None
    twilio_account_sid: Annotated[str | None, Sid("AC", "Account")] = None
    twilio_auth_token: Annotated[str | None, Text(secret=True)] = None  # also checks X-Twilio-Signature
    # The "from" of every message: a Twilio number, or a Messaging Service (its sender pool picks the
    # number). With both, the number is sent as From and must belong to the service.
    twilio_phone_number: Annotated[str | None, PhoneNumber()] = None
    twilio_messaging_service_sid: Annotated[str | None, Sid("MG", "Messaging Service")] = None
    twilio_base_url: Annotated[str | None, ApiBaseUrl()] = None  # tests only: replaces https://api.twilio.com
    # -- Web page, calendar feed and operator console (issue 17) --
    # Signs the web page's session cookies and CSRF tokens. Unset: one is generated per start (sessions
    # end at a restart, and gunicorn's workers do not share it), refused in production mode (below).
    secret_key: Annotated[str | None, SecretKey()] = None
    admin_token: Annotated[str | None, SecretKey()] = None  # signs the operator in at /admin; /admin is off without it
    # Production mode: a generated SECRET_KEY is refused when the web page or /admin is on. Unset, it
    # is on when real messages go out (a provider's credentials without a *_BASE_URL of a test server).
    production: Annotated[bool | None, Flag()] = None
    web_session_days: Annotated[int, Integer(1, 365, unit="days")] = 30  # a web sign-in lasts this long
    web_links_per_hour: Annotated[int, Integer(1, 100)] = 5  # sign-in links texted to one number per hour
    # -- Conversation (issue 14) --
    # A reminder longer than 10 SMS segments with its prefix is refused when it is set; with this on,
    # it is sent as several messages of at most 10 segments each instead.
    auto_chunk: bool = False
    # -- Inbox and shared outbound budget (issue 16) --
    # Inbound SMS are stored before the webhook's 200 and handled off the request, this many per claim.
    inbox_batch_size: Annotated[int, Integer(1, 1000)] = 50
    # Senders handled side by side per process, on PostgreSQL (SQLite has one writer: one at a time).
    inbox_concurrency: Annotated[int, Integer(1, 64)] = 4
    # How long a claim on inbound messages holds: a crashed instance's are taken over after this.
    inbox_lease_seconds: Annotated[float, Number(1, 3600, unit="seconds")] = 30.0
    # Handled inbox rows are deleted this long after handling. A webhook retried later than that is
    # still answered once: the handled message ids stay in inbound_messages.
    inbox_retention_days: Annotated[int, Integer(1, 3650, unit="days")] = 7
    # How many processes send for the account, all instances' workers together. OUTBOUND_RATE_PER_SECOND
    # is shared through the database (or Redis); while that store does not answer, each process sends
    # at OUTBOUND_RATE_PER_SECOND / this, so that together they still keep to the account's rate.
    outbound_budget_processes: Annotated[int, Integer(1, 10_000)] = 2
    # Storage and time
    database_url: Annotated[str, DatabaseUrl()] = "sqlite:///reminders.db"
    bot_timezone: Annotated[str, TimeZone()] = "UTC"
    # HTTP
    host: Annotated[str, HostAddress()] = "127.0.0.1"
    port: Annotated[int, Integer(1, 65_535)] = 5000
    api_token: Annotated[str | None, Text(secret=True)] = None
    max_body_bytes: Annotated[int, Integer(1024, 16 * 1024 * 1024, unit="bytes")] = 64 * 1024
    redis_url: Annotated[str | None, RedisUrl()] = None
    rate_limit_webhook: Annotated[str, RateLimit()] = "600/minute"
    rate_limit_api: Annotated[str, RateLimit()] = "300/minute"
    # Delivery
    dispatch_interval_seconds: Annotated[float, Number(0.05, 3600, unit="seconds")] = 1.0
    dispatch_batch_size: Annotated[int, Integer(1, 10_000)] = 200
    dispatch_concurrency: Annotated[int, Integer(1, 256)] = 8
    outbound_rate_per_second: Annotated[float, Number(0, 10_000)] = 50.0  # 0 lifts the limit
    lease_seconds: Annotated[float, Number(1, 86_400, unit="seconds")] = 60.0
    send_timeout_seconds: Annotated[float, Number(0.1, 300, unit="seconds")] = 10.0
    max_send_attempts: Annotated[int, Integer(1, 100)] = 6
    retry_base_seconds: Annotated[float, Number(0.01, 3600, unit="seconds")] = 2.0
    retry_max_seconds: Annotated[float, Number(0.01, 86_400, unit="seconds")] = 300.0
    late_note_after_seconds: Annotated[float, Number(0, 604_800, unit="seconds")] = 300.0
    run_dispatcher: bool = True
    # Safety
    allow_third_party: bool = True
    allowed_senders: Annotated[tuple[str, ...], PhoneNumbers()] = field(default_factory=tuple)
    max_pending_per_sender: Annotated[int, Integer(1, 1_000_000)] = 100
    max_new_per_hour: Annotated[int, Integer(1, 1_000_000)] = 30
    max_recipients_per_day: Annotated[int, Integer(0, 1_000_000)] = 10
    max_command_length: Annotated[int, Integer(1, 2000)] = 2000  # the parser reads at most 2000
    # Operations
    log_format: Annotated[str, OneOf("text", "json")] = "text"
    log_level: Annotated[str, OneOf("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")] = "INFO"
    # Consent and the API as an owner
    # "ask": a reminder set by SMS for someone else waits until the recipient replies YES to a
    # one-time request per (sender, recipient); "notice": it goes out at once, its first message
    # saying who set it and how to opt out.
    third_party_consent: Annotated[str, OneOf("ask", "notice")] = "ask"
    brand_name: Annotated[str | None, ShortText(40)] = None  # named in consent requests and in the API's messages
    # The REST API's own limits, over every API message together (0 would refuse every message).
    api_max_new_per_hour: Annotated[int, Integer(1, 1_000_000)] = 1000
    api_max_pending: Annotated[int, Integer(1, 10_000_000)] = 10000
    api_max_recipients_per_day: Annotated[int, Integer(1, 1_000_000)] = 1000

    @property
    def asks_recipient_consent(self) -> bool:
        """Say whether SMS reminders for someone else wait for the recipient's YES (THIRD_PARTY_CONSENT=ask)."""
        return self.third_party_consent != "notice"

    @property
    def telnyx_enabled(self) -> bool:
        """Say whether outbound messages go to Telnyx."""
        return self.provider == "telnyx"

    @property
    def twilio_enabled(self) -> bool:
        """Say whether outbound messages go to Twilio."""
        return self.provider == "twilio"

    @property
    def provider(self) -> str:
        """Return who sends: SMS_PROVIDER, else the provider whose credentials are set, else the console."""
        if self.sms_provider is not None:
            return self.sms_provider
        if self.telnyx_api_key and self.telnyx_phone_number:
            return "telnyx"
        if self.twilio_account_sid and self.twilio_auth_token:
            return "twilio"
        return "console"

    @property
    def from_number(self) -> str:
        """Return the number the bot sends from (a placeholder on the console or a Messaging Service alone)."""
        number = self.twilio_phone_number if self.twilio_enabled else self.telnyx_phone_number
        return number or "+10000000000"

    @property
    def production_mode(self) -> bool:
        """Say whether this is production: PRODUCTION, else whether real messages go out (a provider, no test URL)."""
        if self.production is not None:
            return self.production
        if self.telnyx_enabled:
            return self.telnyx_base_url is None
        return self.twilio_enabled and self.twilio_base_url is None

    @property
    def web_enabled(self) -> bool:
        """Say whether the web page is on: sign-in links need PUBLIC_BASE_URL."""
        return self.public_base_url is not None


def _rule_for(annotation: Any) -> Rule:
    """Return a field's rule: the one in its Annotated[...], else one for its type (None allowed aside)."""
    rules = [extra for extra in getattr(annotation, "__metadata__", ()) if isinstance(extra, Rule)]
    if rules:
        return rules[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # "int | None": read the int
        annotation = next(member for member in typing.get_args(annotation) if member is not type(None))
    if typing.get_origin(annotation) is Literal:
        return OneOf(*typing.get_args(annotation))
    return {bool: Flag, int: Integer, float: Number}.get(annotation, Text)()


@functools.cache
def _rules() -> tuple[tuple[str, Rule], ...]:
    """Each setting's name and rule, in declaration order."""
    hints = typing.get_type_hints(Settings, include_extras=True)
    return tuple((settings_field.name, _rule_for(hints[settings_field.name]))
                 for settings_field in dataclasses.fields(Settings))


def _is_unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_variable(variable: str, value: Any, rule: Rule) -> Any:
    """Read one variable's value by ``rule``; raise SettingsError naming it when the value is bad."""
    try:
        return rule.read(value)
    except Invalid as error:
        problem = str(error) or "is not valid"
    except (ValueError, TypeError):  # a library's own message may quote the value: not shown
        problem = "is not valid"
    raise SettingsError(variable, rule.show(value), rule.expected, problem)


def load_settings(environ: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build settings from defaults, then ``environ``, then ``overrides`` (keys in ENV_STYLE); check them.

    An empty value (or None among the overrides) means unset: the default applies. Raises
    SettingsError for the first setting that cannot be used.
    """
    environ, overrides = environ or {}, overrides or {}
    values: dict[str, Any] = {}
    for name, rule in _rules():
        variable = name.upper()
        raw = overrides[variable] if variable in overrides else environ.get(variable)
        if _is_unset(raw):
            continue  # the default
        values[name] = read_variable(variable, raw, rule)
    settings = Settings(**values)
    _check_combinations(settings)
    return settings


def _check_combinations(settings: Settings) -> None:
    """Raise SettingsError for settings that are each valid but do not go together."""
    if bool(settings.telnyx_api_key) != bool(settings.telnyx_phone_number):
        missing, present = (("TELNYX_PHONE_NUMBER", "TELNYX_API_KEY") if settings.telnyx_api_key
                            else ("TELNYX_API_KEY", "TELNYX_PHONE_NUMBER"))
        raise SettingsError(missing, None, "both (to send through Telnyx) or neither (messages go to the console)",
                            f"is not set but {present} is")
    _check_provider(settings)
    if settings.retry_max_seconds < settings.retry_base_seconds:
        raise SettingsError("RETRY_MAX_SECONDS", repr(f"{settings.retry_max_seconds:g}"),
                            f"at least RETRY_BASE_SECONDS ({settings.retry_base_seconds:g})", "is below RETRY_BASE_SECONDS")
    if settings.production_mode and not settings.secret_key and (settings.web_enabled or settings.admin_token):
        raise SettingsError("SECRET_KEY", None, "a random secret of at least 32 characters (a generated one would "
                            "change at every restart and differ between gunicorn workers)",
                            "is not set in production mode with the web page (PUBLIC_BASE_URL) or ADMIN_TOKEN on")


def _check_provider(settings: Settings) -> None:
    """Raise SettingsError unless Twilio's settings are whole and SMS_PROVIDER names a provider that can send."""
    twilio_credentials = bool(settings.twilio_account_sid and settings.twilio_auth_token)
    sender = settings.twilio_phone_number or settings.twilio_messaging_service_sid
    if bool(settings.twilio_account_sid) != bool(settings.twilio_auth_token):
        missing, present = (("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID") if settings.twilio_account_sid
                            else ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"))
        raise SettingsError(missing, None, "both (to send through Twilio) or neither", f"is not set but {present} is")
    if twilio_credentials and not sender:
        raise SettingsError("TWILIO_PHONE_NUMBER", None, "TWILIO_PHONE_NUMBER or TWILIO_MESSAGING_SERVICE_SID, "
                            "the sender of every message", "is not set, nor TWILIO_MESSAGING_SERVICE_SID")
    if sender and not twilio_credentials:
        present = "TWILIO_PHONE_NUMBER" if settings.twilio_phone_number else "TWILIO_MESSAGING_SERVICE_SID"
        raise SettingsError("TWILIO_ACCOUNT_SID", None, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (to send through "
                            "Twilio)", f"is not set but {present} is")
    telnyx_credentials = bool(settings.telnyx_api_key and settings.telnyx_phone_number)
    if settings.sms_provider is None and telnyx_credentials and twilio_credentials:
        raise SettingsError("SMS_PROVIDER", None, "telnyx or twilio, to say which one sends (console: neither)",
                            "is not set but both Telnyx and Twilio credentials are")
    if settings.sms_provider == "telnyx" and not telnyx_credentials:
        raise SettingsError("TELNYX_API_KEY", None, "TELNYX_API_KEY and TELNYX_PHONE_NUMBER",
                            "is not set but SMS_PROVIDER=telnyx is")
    if settings.sms_provider == "twilio" and not twilio_credentials:
        raise SettingsError("TWILIO_ACCOUNT_SID", None, "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                            "TWILIO_PHONE_NUMBER or TWILIO_MESSAGING_SERVICE_SID", "is not set but SMS_PROVIDER=twilio is")
