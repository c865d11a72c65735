"""Short reminder ids: easy to type on a phone, hard to guess in bulk."""

from __future__ import annotations

import re
import secrets

from bot.language.when import UNIT_PATTERN

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
ID_LENGTH = 6  # 36**6 is about 2.2 billion: guessing one of a sender's ids is hopeless
ID_PATTERN = re.compile(r"^[a-z0-9]{4,8}$")


# A number, alone or with a unit of time: "snooze 123456" or "snooze 12days 2h" would read it as a
# time, so no id is drawn in this shape (about 1 draw in 1,300 is drawn again). The units are the
# parser's own, and the short forms people type after a number besides ("5mo", "2yrs").
_READS_AS_TIME = re.compile(rf"^[0-9]+(?:{UNIT_PATTERN.pattern}|f|y|mn|mo|yr|yrs)?$")


def reads_as_time(candidate: str) -> bool:
    """Say whether ``candidate`` is a number, or a number and a unit of time ("11939m", "12days")."""
    return _READS_AS_TIME.match(candidate) is not None


def new_id(length: int = ID_LENGTH) -> str:
    """Return a fresh random id of ``length`` characters from [a-z0-9] that does not read as a time."""
    while True:
        # One draw from the OS for the whole id, written in base 36, rather than one per character:
        # six getrandom calls were a twelfth of a REST request under load (profiled). Still uniform.
        number = secrets.randbelow(len(ALPHABET) ** length)
        characters = []
        for _ in range(length):
            number, digit = divmod(number, len(ALPHABET))
            characters.append(ALPHABET[digit])
        candidate = "".join(characters)
        if not reads_as_time(candidate):
            return candidate


def is_valid_id(candidate: str) -> bool:
    """Say whether ``candidate`` has the shape of a reminder id."""
    return bool(ID_PATTERN.match(candidate))
