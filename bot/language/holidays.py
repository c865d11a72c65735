"""Named days whose date a year fixes: "christmas", "thanksgiving", "mother's day", "easter".

Fixed-date days are plain month/day pairs. The others are computed per year with dateutil
(``easter``, ``relativedelta`` weekdays), and some depend on the sender's country: Canada's
Thanksgiving is the 2nd Monday of October, the UK's Mothering Sunday is three weeks before
Easter. Where the sender's country does not fix the meaning (mother's day for a number whose
country we do not know, or that keeps it on another day), there is no date: we do not guess.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Callable

from dateutil.easter import EASTER_ORTHODOX, EASTER_WESTERN, easter
from dateutil.relativedelta import MO, SU, TH, relativedelta

FIXED_DAYS: dict[str, tuple[int, int]] = {
    "christmas": (12, 25), "christmas eve": (12, 24), "boxing day": (12, 26),
    "new year's day": (1, 1), "new year's eve": (12, 31), "valentine's day": (2, 14),
    "halloween": (10, 31), "st patrick's day": (3, 17), "independence day": (7, 4),
    "bastille day": (7, 14), "australia day": (1, 26), "anzac day": (4, 25), "canada day": (7, 1),
    "waitangi day": (2, 6), "remembrance day": (11, 11), "veterans day": (11, 11), "juneteenth": (6, 19),
    "cinco de mayo": (5, 5), "groundhog day": (2, 2), "april fools' day": (4, 1), "earth day": (4, 22),
    "bonfire night": (11, 5), "burns night": (1, 25), "st george's day": (4, 23), "st andrew's day": (11, 30),
    "st david's day": (3, 1),
}
# How people write them; apostrophes are optional ("new years eve"), "xmas" is Christmas.
_SPELLINGS = {
    "christmas": "christmas", "christmas day": "christmas", "xmas": "christmas", "xmas day": "christmas",
    "christmas eve": "christmas eve", "xmas eve": "christmas eve", "boxing day": "boxing day",
    "new year's day": "new year's day", "new year": "new year's day", "new year's": "new year's day",
    "new year's eve": "new year's eve", "nye": "new year's eve",
    "valentine's day": "valentine's day", "valentine's": "valentine's day", "valentine": "valentine's day",
    "halloween": "halloween", "hallowe'en": "halloween",
    "st patrick's day": "st patrick's day", "st. patrick's day": "st patrick's day",
    "saint patrick's day": "st patrick's day", "st paddy's day": "st patrick's day",
    "paddy's day": "st patrick's day", "patrick's day": "st patrick's day",
    "st patty's day": "st patrick's day", "st. patty's day": "st patrick's day", "patty's day": "st patrick's day",
    "independence day": "independence day", "fourth of july": "independence day",
    "thanksgiving": "thanksgiving", "thanksgiving day": "thanksgiving",
    "black friday": "black friday",
    "memorial day": "memorial day", "labor day": "labor day", "labour day": "labor day",
    "mother's day": "mother's day", "mothering sunday": "mothering sunday",
    "father's day": "father's day",
    "bastille day": "bastille day", "australia day": "australia day", "anzac day": "anzac day",
    "canada day": "canada day", "waitangi day": "waitangi day", "remembrance day": "remembrance day",
    "armistice day": "remembrance day", "veterans day": "veterans day", "veteran's day": "veterans day",
    "juneteenth": "juneteenth", "cinco de mayo": "cinco de mayo", "groundhog day": "groundhog day",
    "april fools' day": "april fools' day", "april fools day": "april fools' day", "april fool's day":
    "april fools' day", "earth day": "earth day", "bonfire night": "bonfire night",
    "guy fawkes night": "bonfire night", "guy fawkes": "bonfire night", "burns night": "burns night",
    "st george's day": "st george's day", "st andrew's day": "st andrew's day", "st david's day": "st david's day",
    "martin luther king day": "martin luther king day", "mlk day": "martin luther king day",
    "presidents day": "presidents day", "presidents' day": "presidents day", "president's day": "presidents day",
    "easter": "easter", "easter sunday": "easter", "good friday": "good friday",
    "easter monday": "easter monday",
}
HOLIDAY_PATTERN = "|".join(
    sorted((re.escape(name).replace("'", "'?") for name in _SPELLINGS), key=len, reverse=True))
_BY_BARE_SPELLING = {spelling.replace("'", ""): name for spelling, name in _SPELLINGS.items()}
# Every word of a holiday's name, with and without its apostrophe ("mother's", "mothers").
HOLIDAY_WORDS = frozenset(word for spelling in _SPELLINGS for word in (*spelling.split(), *spelling.replace(
    "'", "").split()))
# Churches that keep Easter by the Julian calendar, by the sender's country.
_ORTHODOX_REGIONS = frozenset({"GR", "CY", "RU", "UA", "BY", "RO", "BG", "RS", "MK", "ME", "GE", "MD"})
# Countries that keep mother's day on the 2nd Sunday of May (the US custom).
_MAY_MOTHERS_DAY = frozenset({"US", "CA", "AU", "NZ", "ZA", "IN", "JP", "DE", "IT", "NL", "BE", "CH", "AT",
                              "DK", "FI", "TR", "SG", "MY", "PH", "HK", "TW", "BR", "CN"})
_MOTHERING_SUNDAY = frozenset({"GB", "IE", "IM", "JE", "GG"})
# Father's day is the 3rd Sunday of June in most of these; Australia and New Zealand keep the 1st of September.
_JUNE_FATHERS_DAY = frozenset({"US", "CA", "GB", "IE", "FR", "ZA", "IN", "JP", "NL", "CH", "SG", "MY", "PH",
                               "HK", "CN", "TR"})
_SEPTEMBER_FATHERS_DAY = frozenset({"AU", "NZ"})


def holiday_name(written: str) -> str:
    """Return the canonical name of a holiday as written ("xmas" -> "christmas", "new years eve")."""
    return _BY_BARE_SPELLING[written.replace("'", "")]


def _easter(year: int, region: str | None) -> date:
    return easter(year, EASTER_ORTHODOX if region in _ORTHODOX_REGIONS else EASTER_WESTERN)


def _thanksgiving(year: int, region: str | None) -> date | None:
    if region == "CA":
        return date(year, 10, 1) + relativedelta(weekday=MO(+2))
    return date(year, 11, 1) + relativedelta(weekday=TH(+4))  # the famous one, wherever it is said


def _black_friday(year: int, region: str | None) -> date:
    # The day after the US Thanksgiving wherever it is said: shops abroad keep the US date.
    return date(year, 11, 1) + relativedelta(weekday=TH(+4)) + timedelta(days=1)


def _mothers_day(year: int, region: str | None) -> date | None:
    if region in _MOTHERING_SUNDAY:
        return _easter(year, region) - timedelta(days=21)
    if region in _MAY_MOTHERS_DAY:
        return date(year, 5, 1) + relativedelta(weekday=SU(+2))
    return None  # France, Mexico, unknown countries...: another day, or we cannot tell


def _fathers_day(year: int, region: str | None) -> date | None:
    if region in _JUNE_FATHERS_DAY:
        return date(year, 6, 1) + relativedelta(weekday=SU(+3))
    if region in _SEPTEMBER_FATHERS_DAY:
        return date(year, 9, 1) + relativedelta(weekday=SU(+1))
    return None


def _labor_day(year: int, region: str | None) -> date | None:
    # The US and Canada keep it on the 1st Monday of September; elsewhere "labour day" is another day.
    return date(year, 9, 1) + relativedelta(weekday=MO(+1)) if region in (None, "US", "CA") else None


_COMPUTED: dict[str, Callable[[int, str | None], date | None]] = {
    "thanksgiving": _thanksgiving,
    "black friday": _black_friday,
    "memorial day": lambda year, region: date(year, 5, 31) + relativedelta(weekday=MO(-1)),
    "martin luther king day": lambda year, region: date(year, 1, 1) + relativedelta(weekday=MO(+3)),
    "presidents day": lambda year, region: date(year, 2, 1) + relativedelta(weekday=MO(+3)),
    "labor day": _labor_day,
    "mother's day": _mothers_day,
    "mothering sunday": lambda year, region: _easter(year, "GB") - timedelta(days=21),
    "father's day": _fathers_day,
    "easter": _easter,
    "good friday": lambda year, region: _easter(year, region) - timedelta(days=2),
    "easter monday": lambda year, region: _easter(year, region) + timedelta(days=1),
}


def holiday_date(name: str, year: int, region: str | None) -> date | None:
    """Return the date of a canonical holiday in ``year`` for a sender in ``region``; None if not fixed."""
    if name == "independence day" and region not in (None, "US"):
        return None  # many countries have an independence day of their own
    if name in FIXED_DAYS:
        month, day = FIXED_DAYS[name]
        return date(year, month, day)
    return _COMPUTED[name](year, region)
