"""Rewrite how people spell a when-phrase into the words the slot rules read.

"tmrw at seven" becomes "tomorrow at 7", "nine thirty" becomes "9:30", "quarter to 5" becomes
"4:45", "in 1h30" becomes "in 1 hours 30 minutes". The input is already lowercased with single
spaces (``when.normalize_phrase``); the output is the same kind of text, and rewriting it again
changes nothing. Pure string work, every pattern compiled at import.

A spelled number becomes digits only where it is a time or a count: next to a unit ("five
minutes"), a meridiem or o'clock ("seven pm"), after "at"/"by"/"around" ("at two"), or in a
clock idiom ("ten past two", "nine thirty"). "buy two tomorrow" keeps its "two": a spelled
number alone is a quantity far more often than a time.
"""

from __future__ import annotations

import re

_B = r"(?<![a-z0-9'])"  # word start
_E = r"(?![a-z0-9'])"  # word end


def _words(table: dict[str, str]) -> str:
    return "|".join(sorted((re.escape(word) for word in table), key=len, reverse=True))


# Abbreviations, misspellings and regional words with one fixed meaning.
_SAME_AS = {
    # tomorrow, today, tonight
    "tmrw": "tomorrow", "tmr": "tomorrow", "tmrow": "tomorrow", "tmorrow": "tomorrow", "tomorow": "tomorrow",
    "tommorow": "tomorrow", "tommorrow": "tomorrow", "tomorro": "tomorrow", "tomoz": "tomorrow",
    "2moro": "tomorrow", "2morrow": "tomorrow", "2morow": "tomorrow", "2mrw": "tomorrow", "2mro": "tomorrow",
    "tmw": "tomorrow", "tomo": "tomorrow",
    "2day": "today", "tonite": "tonight", "2nite": "tonight", "2night": "tonight", "tonigh": "tonight",
    "nite": "night", "morn": "morning", "mornin": "morning", "mrng": "morning", "morng": "morning",
    "aftn": "afternoon", "aftnoon": "afternoon", "afternon": "afternoon", "evng": "evening", "evenin": "evening",
    # Australian "arvo" is the afternoon; "s'arvo" is this afternoon.
    "arvo": "afternoon", "s'arvo": "this afternoon", "sarvo": "this afternoon",
    "nxt": "next", "wk": "week", "wks": "weeks", "wknd": "weekend", "yr": "year", "yrs": "years",
    "mo": "month", "mos": "months", "mths": "months", "mth": "month", "mnth": "month", "mnths": "months",
    "evry": "every", "everyday": "every day", "every single": "every", "each and every": "every",
    "febuary": "february", "feburary": "february",
    # Fixed clock times.
    "eod": "17:00", "end of day": "17:00", "end of the day": "17:00", "end of business": "17:00",
    "close of business": "17:00", "cob": "17:00", "eob": "17:00",
    "lunchtime": "noon", "lunch time": "noon", "at lunch": "at noon", "by lunch": "by noon",
    "12 noon": "noon", "12noon": "noon", "12 midnight": "midnight", "mid-day": "midday",
    "first thing in the morning": "morning", "first thing": "morning",
    # Elapsed spans with one meaning; "a few" and "several" are left alone on purpose.
    "half an hour": "30 minutes", "a half hour": "30 minutes", "half hour": "30 minutes",
    "a half-hour": "30 minutes", "half-hour": "30 minutes",
    "a quarter of an hour": "15 minutes", "quarter of an hour": "15 minutes", "a quarter hour": "15 minutes",
    "quarter hour": "15 minutes", "three quarters of an hour": "45 minutes",
    "a couple of": "2", "couple of": "2", "a couple": "2",
    "a fortnight": "2 weeks", "fortnight": "2 weeks", "fortnightly": "every 2 weeks",
    "quarterly": "every 3 months",
    "o'clock": "o'clock", "oclock": "o'clock", "o clock": "o'clock",
}
_SAME_AS_PATTERN = re.compile(_B + "(?:" + _words(_SAME_AS) + ")" + _E)
# The many ways "tomorrow" gets typed: tmrw, tomorw, tomorrw, tommorrow, 2moro, 2morrow, tmorow...
_TOMORROW = re.compile(_B + r"(?:2|to?)m{1,2}o?r{1,2}o{0,2}w{0,2}" + _E)

_ONES = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
          "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50}
_BIG = {"sixty": 60, "ninety": 90, "hundred": 100}
CARDINALS: dict[str, int] = {**_ONES, **_TEENS, **_TENS, **_BIG}
for _ten, _tens_value in _TENS.items():
    for _one, _ones_value in _ONES.items():
        CARDINALS[f"{_ten} {_one}"] = CARDINALS[f"{_ten}-{_one}"] = _tens_value + _ones_value
_CARDINAL = _words(CARDINALS)

_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
             "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
             "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
             "nineteenth": 19, "twentieth": 20, "thirtieth": 30}
for _prefix, _base in (("twenty", 20), ("thirty", 30)):
    for _word, _value in list(_ORDINALS.items())[:9]:
        if _base + _value <= 31:
            _ORDINALS[f"{_prefix} {_word}"] = _ORDINALS[f"{_prefix}-{_word}"] = _base + _value


def ordinal(number: int) -> str:
    """Write 1 as "1st", 22 as "22nd", 13 as "13th"."""
    suffix = "th" if 11 <= number % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


_MONTH_WORDS = (r"jan|january|feb|february|mar|march|apr|april|may|jun|june|jul|july|aug|august|sep|sept"
                r"|september|oct|october|nov|november|dec|december")
_WEEKDAY_WORDS = (r"mon|monday|tue|tues|tuesday|wed|weds|wednesday|thu|thur|thurs|thursday|fri|friday"
                  r"|sat|saturday|sun|sunday|weekday|day")
# "second" is also a unit ("in a second"): an ordinal only next to "the", a month, "of" or a weekday.
_ORDINAL_PATTERN = re.compile(
    rf"(?P<before>(?:the|{_MONTH_WORDS})\s+)?{_B}(?P<word>{_words(_ORDINALS)}){_E}"
    rf"(?P<after>\s+(?:of{_E}|(?:{_WEEKDAY_WORDS}){_E}|(?:{_MONTH_WORDS}){_E}))?")

_UNIT_WORDS = (r"seconds?|secs?|minutes?|mins?|hours?|hrs?|h|days?|weeks?|months?|years?|times"
               r"|a\.?m\.?|p\.?m\.?|am|pm|a|p|o'clock|ish|-ish|and a half")
# "nine thirty", "ten oh five", "seven forty-five": an hour word and a minute word, not a count.
_MINUTE_WORDS = (r"(?:oh|o)[\s-]+(?:" + _words(_ONES) + ")|" + _words(_TEENS) + "|(?:" + _words(_TENS)
                 + r")(?:[\s-]+(?:" + _words(_ONES) + "))?")
_HOUR_WORDS = _words({**_ONES, "ten": 10, "eleven": 11, "twelve": 12})
_SPOKEN_CLOCK = re.compile(
    rf"{_B}(?P<hour>{_HOUR_WORDS})[\s-]+(?P<minute>{_MINUTE_WORDS}){_E}"
    rf"(?![\s-]*(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|times|[0-9]){_E})")
_COUNTED = re.compile(rf"{_B}(?P<number>{_CARDINAL}){_E}(?=[\s-]*(?:{_UNIT_WORDS}){_E})")
_AFTER_WORD = re.compile(
    rf"{_B}(?P<word>at|@|by|around|about|past|after|to|till|til|until|before|half|from|every|of)\s+"
    rf"(?P<number>{_CARDINAL}){_E}")
_MINUTES_BEFORE_IDIOM = re.compile(
    rf"{_B}(?P<number>{_CARDINAL}){_E}(?=(?:\s+minutes?)?\s+(?:past|after|to|till|til|before){_E})")

# Clock idioms, read after the numbers are digits: "half past 3", "quarter to 5", "10 past 2", "half 3".
_IDIOM = re.compile(
    rf"(?<!from )(?<!between ){_B}(?P<minutes>(?:a\s+)?quarter|half|5|10|20|25|[0-9]{{1,2}}\s+minutes?)\s+"
    rf"(?P<direction>past|after|to|till|til|before|of)\s+(?P<hour>[0-9]{{1,2}}|noon|midnight)"
    rf"(?![0-9:.]|\s*(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?){_E})")
# British "half 3" is 3:30 (not 2:30 as in German "halb drei").
_HALF_HOUR = re.compile(
    rf"{_B}half\s+(?P<hour>[0-9]{{1,2}})(?![0-9:.]|\s*(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?"
    rf"|weeks?|months?|years?|past|to){_E})")
# "in 1h30", "in 2 hours 15": the number after the hours is minutes.
_HOURS_THEN_MINUTES = re.compile(
    rf"{_B}(?P<prefix>in|after|for)\s+(?P<hours>[0-9]+)\s*(?:h|hr|hrs|hours?)\s*(?P<minutes>[0-9]{{1,2}})"
    rf"(?![0-9:.]|\s*[a-z])")
_AND_A_HALF = re.compile(rf"{_B}(?P<number>[0-9]+) and a half (?P<unit>hours?|hrs?|minutes?|mins?|weeks?){_E}")
_ISH = re.compile(r"(?<=[0-9m])\s*-?\s*ish" + _E)
# British "in a fortnight's time", "in 10 minutes' time": the span alone.
_SPAN_TIME = re.compile(rf"{_B}(?P<unit>(?:second|minute|hour|day|week|fortnight|month|year)s?)(?:'s|')\s+time{_E}")
# "tmrw eve", "fri aft": after a day, "eve" is its evening and "aft" its afternoon ("christmas eve" is
# a holiday, left alone).
_DAY_PART = re.compile(rf"{_B}(?P<day>today|tomorrow|this|(?:{_WEEKDAY_WORDS})){_E}\s+(?P<part>eve|aft){_E}")
_DAY_PARTS = {"eve": "evening", "aft": "afternoon"}


def _same_as(match: re.Match[str]) -> str:
    return _SAME_AS[match.group(0)]


def _spoken_clock(match: re.Match[str]) -> str:
    hour = CARDINALS[match["hour"]]
    minute_words = match["minute"].replace("-", " ").split()
    if minute_words[0] in ("oh", "o"):
        minute = CARDINALS[minute_words[1]]
    else:
        minute = CARDINALS[" ".join(minute_words)]
    return f"{hour}:{minute:02d}"


def _counted(match: re.Match[str]) -> str:
    return str(CARDINALS[match["number"]])


def _after_word(match: re.Match[str]) -> str:
    return f"{match['word']} {CARDINALS[match['number']]}"


def _ordinal(match: re.Match[str]) -> str:
    word = match["word"]
    if word == "second" and not (match["before"] or match["after"]):
        return match.group(0)
    return f"{match['before'] or ''}{ordinal(_ORDINALS[word])}{match['after'] or ''}"


def _idiom(match: re.Match[str]) -> str:
    words = match["minutes"]
    minutes = 15 if "quarter" in words else 30 if words == "half" else int(words.split()[0])
    direction = match["direction"]
    if minutes >= 60 or (words == "half" and direction not in ("past", "after")):
        return match.group(0)
    if direction == "of" and "quarter" not in words:
        return match.group(0)  # "5 of 6" is too rare to read; "quarter of 5" is American for 4:45
    hour_text = match["hour"]
    named = hour_text in ("noon", "midnight")
    hour = 12 if hour_text == "noon" else 0 if hour_text == "midnight" else int(hour_text)
    if hour > 24:
        return match.group(0)
    total = hour * 60 + (minutes if direction in ("past", "after") else -minutes)
    total %= 24 * 60
    clock_hour, minute = divmod(total, 60)
    if named or hour > 12 or hour == 0:
        # "quarter to midnight" is 23:45 and "half past 17" is 17:30: no doubt about the half of the day.
        return f"{clock_hour % 12 or 12}:{minute:02d}{'am' if clock_hour < 12 else 'pm'}"
    # Written 1-12 style, as the hour was: "quarter to 1" is 12:45, "10 past 12" is 12:10.
    return f"{clock_hour % 12 or 12}:{minute:02d}"


def _half_hour(match: re.Match[str]) -> str:
    hour = int(match["hour"])
    return match.group(0) if hour > 23 else f"{hour}:30"


def _day_part(match: re.Match[str]) -> str:
    return f"{match['day']} {_DAY_PARTS[match['part']]}"


def _hours_then_minutes(match: re.Match[str]) -> str:
    return f"{match['prefix']} {match['hours']} hours {match['minutes']} minutes"


def _and_a_half(match: re.Match[str]) -> str:
    return f"{match['number']}.5 {match['unit']}"


_TOKEN = re.compile(r"[a-z0-9']+")
# Each rewrite runs only when a word it needs is there: most phrases need none, and the
# parser tries every ending of a message.
_SAME_AS_WORDS = frozenset(word for key in _SAME_AS for word in _TOKEN.findall(key))
_ORDINAL_WORDS = frozenset(word for key in _ORDINALS for word in _TOKEN.findall(key))
_CARDINAL_WORDS = frozenset(word for key in CARDINALS for word in _TOKEN.findall(key))
_IDIOM_WORDS = frozenset({"past", "after", "to", "till", "til", "before", "of"})
_ELAPSED_WORDS = frozenset({"in", "after", "for"})


# Every word a respelling reads ("tmrw", "arvo", "quarter", "seventeen", "thirtieth"), besides the
# run-together tomorrows (_TOMORROW), for callers that look for where a when-phrase may stand.
SPELLING_WORDS = frozenset(word for phrase in (*_SAME_AS, *CARDINALS, *_ORDINALS) for word in phrase.split()) | {
    "to", "past", "half", "quarter", "till", "of", *_DAY_PARTS}


def may_be_spelled_time(word: str) -> bool:
    """Say whether a word is one the respelling reads ("tmrw", "tommorrow", "seven")."""
    return word in SPELLING_WORDS or _TOMORROW.fullmatch(word) is not None


def respell(text: str) -> str:
    """Rewrite a normalized when-phrase into the canonical words the slot rules read."""
    if not text:
        return text
    if "m" in text:
        text = _TOMORROW.sub("tomorrow", text)
    if "' time" in text or "'s time" in text:
        text = _SPAN_TIME.sub(r"\g<unit>", text)
    words = set(_TOKEN.findall(text))
    if words & _SAME_AS_WORDS:
        text = _SAME_AS_PATTERN.sub(_same_as, text)
        words = set(_TOKEN.findall(text))
    if words & _DAY_PARTS.keys():
        text = _DAY_PART.sub(_day_part, text)
    if words & _ORDINAL_WORDS:
        text = _ORDINAL_PATTERN.sub(_ordinal, text)
    if words & _CARDINAL_WORDS:
        text = _SPOKEN_CLOCK.sub(_spoken_clock, text)
        text = _COUNTED.sub(_counted, text)
        text = _MINUTES_BEFORE_IDIOM.sub(_counted, text)
        text = _AFTER_WORD.sub(_after_word, text)
    if words & _IDIOM_WORDS:
        text = _IDIOM.sub(_idiom, text)
    if "half" in words:
        text = _HALF_HOUR.sub(_half_hour, text)
        text = _AND_A_HALF.sub(_and_a_half, text)
    if words & _ELAPSED_WORDS:
        text = _HOURS_THEN_MINUTES.sub(_hours_then_minutes, text)
    if "ish" in text:
        text = _ISH.sub("", text)
    return text
