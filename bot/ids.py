"""Short reminder ids: easy to type on a phone, hard to guess in bulk."""

from __future__ import annotations

import re
import secrets

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
ID_LENGTH = 6  # 36**6 is about 2.2 billion: guessing one of a sender's ids is hopeless
ID_PATTERN = re.compile(r"^[a-z0-9]{4,8}$")


def new_id(length: int = ID_LENGTH) -> str:
    """Return a fresh random id of ``length`` characters from [a-z0-9]."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def is_valid_id(candidate: str) -> bool:
    """Say whether ``candidate`` has the shape of a reminder id."""
    return bool(ID_PATTERN.match(candidate))
