"""Count SMS segments as carriers bill them: GSM-7 (160 / 153 a part) or UCS-2 (70 / 67 a part).

smsutil does the counting: it knows the GSM 03.38 extension table (``{ } [ ] ~ \\ | ^ €`` and form
feed take two septets and are never split from their escape), and counts a character outside the
basic plane as two UTF-16 units that stay in one part. One character outside GSM-7 (an emoji,
a curly quote) turns the whole message into UCS-2.
"""

from __future__ import annotations

import smsutil
import smsutil.codecs

# The most a message of ours may take. Telnyx's 1,600-character limit for one body is ten and a
# half GSM-7 parts; at ten, a reminder costs at most ten times a one-part text.
MAX_SEGMENTS = 10
GSM7_SINGLE, GSM7_PART = 160, 153  # septets
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units


# smsutil's tables; its is_valid_gsm escapes them into a new pattern on every call.
_GSM7 = frozenset(smsutil.codecs.GSM_CHARSET)
_EXTENSION = frozenset(smsutil.GSM_EXT_CHARSET)


def is_gsm7(text: str) -> bool:
    """Say whether ``text`` can go as GSM-7 (every character in the basic or extension table)."""
    return _GSM7.issuperset(text)


def segment_count(text: str) -> int:
    """Return how many segments (billed parts) ``text`` takes as one SMS."""
    # Most replies fit one segment: say so without smsutil's character-by-character split.
    if is_gsm7(text):
        # An extension character takes two septets. Counted in C: a generator over the characters
        # was a tenth of the API's own checks (profiled).
        escapes = 0 if _EXTENSION.isdisjoint(text) else sum(map(text.count, _EXTENSION))
        if len(text) + escapes <= GSM7_SINGLE:
            return 1
    elif len(text.encode("utf-16-le", "surrogatepass")) <= 2 * UCS2_SINGLE:
        return 1
    return len(smsutil.split(text).parts)


def fits(text: str, segments: int) -> bool:
    """Say whether ``text`` goes in at most ``segments`` segments."""
    return segment_count(text) <= segments


def split_message(text: str, max_segments: int = MAX_SEGMENTS) -> list[str]:
    """Cut ``text`` into messages of at most ``max_segments`` segments each, at a space where one is near.

    Pure and deterministic, so every retry cuts a stored body into the same parts.
    """
    parts: list[str] = []
    rest = text
    while not fits(rest, max_segments):
        # The longest prefix that fits: segment counts only grow as a text grows.
        low, high = 1, len(rest)
        while low < high:
            middle = (low + high + 1) // 2
            if fits(rest[:middle], max_segments):
                low = middle
            else:
                high = middle - 1
        cut = low
        space = rest.rfind(" ", max(1, cut - 80), cut)  # end a part on a word when one ends near the limit
        if space > 0:
            cut = space
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts
