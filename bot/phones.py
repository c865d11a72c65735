"""Phone numbers: normalise to E.164, guess a number's time zone, mask for logs."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as number_timezones

# When a number maps to several zones that keep the same clock all year (the UK's
# London, Jersey, Guernsey and Isle of Man), any of them will do; these read best.
_PREFERRED_ZONES = ("Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Berlin")

_ALLOWED_NUMBER_CHARS = re.compile(r"^\+?[\d\s().\-]+$")


def region_of(number: str) -> str | None:
    """Return the ISO region ("US", "GB", ...) of an E.164 number, or None."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    # A number libphonenumber does not know as valid (Ofcom's drama range +44 7700 900xxx, a new
    # block) still belongs to its country code's main region, where its national numbers are read.
    region = phonenumbers.region_code_for_number(parsed) or phonenumbers.region_code_for_country_code(
        parsed.country_code)
    return None if region in (None, "ZZ") else region


@lru_cache(maxsize=4096)  # pure, and libphonenumber's parse is a tenth of a REST request (profiled)
def normalize_number(text: str, sender: str | None = None) -> str | None:
    """Return ``text`` as an E.164 number, read in the sender's country if national.

    Spaces, dashes, dots and parentheses are allowed; anything that cannot be a
    phone number (letters, too short, too long) gives None.
    """
    candidate = text.strip()
    if not candidate or not _ALLOWED_NUMBER_CHARS.match(candidate):
        return None
    region = region_of(sender) if sender else None
    try:
        parsed = phonenumbers.parse(candidate, region or "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_short_code_or_alphanumeric(sender: str) -> bool:
    """Say whether a sender address is not a regular E.164 number (short code, alphanumeric id)."""
    return normalize_number(sender) is None or not sender.startswith("+")


def zone_for_number(number: str, default: str) -> str:
    """Return the IANA zone a number lives in, or ``default`` when it is unknown or ambiguous."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return default
    zones = [z for z in number_timezones.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    if len(zones) == 1:
        return zones[0]
    if len(zones) > 1 and _same_clock_all_year(zones):
        preferred = [z for z in _PREFERRED_ZONES if z in zones]
        return preferred[0] if preferred else sorted(zones)[0]
    return default


def _same_clock_all_year(zones: list[str]) -> bool:
    year = datetime.now().year
    probes = [datetime(year, month, 15, 12) for month in (1, 4, 7, 10)]
    offsets = {tuple(p.replace(tzinfo=ZoneInfo(z)).utcoffset() for p in probes) for z in zones}
    return len(offsets) == 1


def mask_number(number: str | None) -> str:
    """Mask all but the last four digits, for logs: +12125550147 becomes +*******0147."""
    if not number:
        return "-"
    digits = len(number)
    keep = 4 if digits > 6 else 1
    prefix = "+" if number.startswith("+") else ""
    body = number[len(prefix):]
    return prefix + "*" * max(len(body) - keep, 0) + body[-keep:]


# What the matcher below does not read as a number in the given region: a bare run of seven or
# more digits, and another country's national format, which starts with its trunk prefix 0
# ("020 7946 0958", "07700 900123"). Status codes, dates, clock times and IP addresses stay
# readable: "Telnyx 422 40310" and "127.0.0.1" are not numbers to libphonenumber or to this.
_UNREAD_NUMBER = re.compile(r"\+?\d{7,}|(?<![\w.+])0\d(?:[\s().\-]?\d){7,}")
_MIN_DIGITS = 7  # fewer digits cannot be a phone number: skip the matcher


def mask_numbers_in(text: str, region: str | None = None) -> str:
    """Mask every phone number in free text, for logs: "+1 212 555 0147" becomes "+*******0147".

    Args:
        region: the country national formats are read in (the sender's, when known); default US.
    """
    if sum(character.isdigit() for character in text) < _MIN_DIGITS:
        return text
    matcher = phonenumbers.PhoneNumberMatcher(text, region or "US", leniency=phonenumbers.Leniency.POSSIBLE)
    spans = sorted([(match.start, match.end) for match in matcher]
                   + [match.span() for match in _UNREAD_NUMBER.finditer(text)])
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:  # both ways found it, or found overlapping parts
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    masked: list[str] = []
    position = 0
    for start, end in merged:
        masked += [text[position:start], mask_number(re.sub(r"[^\d+]", "", text[start:end]))]
        position = end
    masked.append(text[position:])
    return "".join(masked)


def format_number(number: str) -> str:
    """Format an E.164 number for people to read: +1 646-555-0199."""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(number, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return number
