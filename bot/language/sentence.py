"""Read a reminder written as people write it: the time and the text in any order, "remind me" optional.

``call mom at 5pm``, ``tmrw 9am take out trash``, ``remind me 5pm call mom``, ``tomorrow at 9am, call
mom``, ``remind +1 646 555 0199 at 6pm: dinner?``. The time is a contiguous run of words at the start
or the end of the message (or before a colon) that bot.language.repeats reads whole; the rest is the
text, in the sender's own case. When two splits give different times and neither is clearly meant,
or the time is a bare hour at night, the result is a question (Ask), never a guess. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.language import wording
from bot.language.commands import (MAX_TEXT_LENGTH, Ask, Command, Error, Ignore, Question, QuestionKind, Remind)
from bot.language.holidays import HOLIDAY_WORDS
from bot.language.keywords import clean_text, is_small_talk, strip_leading_please, strip_noise
from bot.language.places import CITY_ZONES
from bot.language.repeats import is_recurring, read_schedule
from bot.language.spelling import may_be_spelled_time
from bot.language.when import (DAY_SLOTS, NIGHT_END, NUMBER_WORDS, PART_TIMES, WEEKDAYS, ZONE_ALIASES, Moment,
                               Reading, TimeProblem, find_zone, named_parts, normalize_phrase, parse_duration,
                               read_fallback)
from bot.phones import normalize_number, region_of
from bot.series import anchor_of

EXAMPLE = '"remind me tomorrow 9am: call mom"'

# The longest time phrase looked for at either end: "every mon, wed and fri at 9:30am until june 30"
# is eleven words; more only costs reads of phrases that cannot be one.
_MAX_RUN_WORDS = 14
_SEPARATOR_CHARS = ",;:-\u2013\u2014"
_EDGE = " \t" + _SEPARATOR_CHARS
_SEPARATOR_COLON = re.compile(r"(?<![0-9]):|:(?![0-9])")  # not the colon inside "9:30"
_PHONE_TOKEN = re.compile(r"[+0-9().\-]+")
_TO_SPLIT = re.compile(r"\s+to\s+", re.IGNORECASE)
_LEADING_TO = re.compile(r"to\s+", re.IGNORECASE)
_TEXT_START_MARKERS = frozenset({"at", "on", "in", "next", "by", "this", "the", "every"})
_BARE_NUMBER = re.compile(r"[0-9]{1,2}")
_AT = frozenset({"at", "@"})
_WORD = re.compile(r"\w")
# A time inside the text is looked for in messages up to this many words: each start is tried
# with up to _MAX_RUN_WORDS words, and a reminder is far shorter.
_MAX_MIDDLE_TOKENS = 40
_CLEAR_CLOCK = re.compile(r"[0-9]\s*(?:a\.?m\.?|p\.?m\.?)(?![a-z])|[0-9]{1,2}:[0-9]{2}"
                          r"|(?<![a-z])(?:noon|midday|midnight)(?![a-z])")
# Words a time inside the text never ends with: "at 12:30 on friday at the cafe" has its time before "at".
_CANNOT_END_TIME = frozenset({"at", "on", "by", "@", "around", "about", "in", "the", "of", "and", "for", "from", "a",
                              "an", "next", "this", "every", "each", "until", "till", "til", "after", "coming"})
# "the 3 kids": a number after "the" counts things; as a day ("the 3rd") it has its ordinal.
_COUNTED = re.compile(r"(?:on\s+)?(?:the\s+)?[0-9]{1,2}")
# Before a day in the text, words that make it the reminder's topic, not its time: "about Sunday".
_TOPIC_WORDS = frozenset({"about", "re", "regarding", "for", "before", "after", "until", "till", "til", "since", "from",
                          "by"})
# A text that ends with one of these wants the time after it as its object: "book a table for 8pm",
# "buy milk before 5pm", "move the 3pm meeting to 4pm" name a time, but none to send the reminder at.
_TIED_TO_TEXT = (_TOPIC_WORDS - {"by"}) | {"to", "than", "between", "b4"}
_DETERMINERS = frozenset({"the", "a", "an", "my", "your", "our", "his", "her", "their", "its", "this", "that", "these",
                          "those", "each", "every"})
_MAX_SPAN_WORDS = 8  # "1 week 2 days 3 hours and 30 minutes"
# After a span, words that tie it to something else than now: "5 minutes before the meeting".
_SPAN_ELSEWHERE = frozenset({"before", "after", "earlier", "later", "ago", "from", "prior", "ahead", "early", "late",
                             "past", "into", "until", "till", "til", "before,", "after,"})
_QUOTES = "\"'\u201c\u201d\u2018\u2019"
# A text word touching a time run with nothing between that carries on the when-phrase: the run was
# read only in part. "every morning at 7 except weekends" is not every morning, "every friday starting
# march 20" not from this Friday: refused, not guessed (see ``_touches_when``).
_CONTINUES_WHEN = frozenset({"except", "excluding", "exc", "excl", "besides", "starting", "beginning", "commencing",
                             "until", "till", "til"})
# A day name carries it on next to a word that lists or counts days: "gym mon wed fri 6am" is not
# "gym mon wed" on Friday, "every 3rd wednesday" not the 3rd of every month, "tues and thurs at 6pm"
# not Thursday alone; "get some sun on saturday" has its time whole.
_DAY_NAMES = frozenset(WEEKDAYS) | {day + "s" for day in WEEKDAYS if len(day) > 4}
_COUNTS_DAYS = frozenset({"every", "each", "other", "first", "second", "third", "fourth", "fifth", "last"})
_ORDINAL = re.compile(r"[0-9]{1,2}(?:st|nd|rd|th)")
_JOINS_DAYS = frozenset({"and", "&", "or", "/", "+", "n"})
# Zone abbreviations we do not read (several are ambiguous: IST is India, Ireland or Israel): next to
# a time they change it, so "10am IST call Priya" is refused, not read at 10am here. Those that are
# also English words count in capitals only ("EAT" but not "eat").
_UNREAD_ZONES = re.compile(r"(?i:ist|ast|adt|gst|nst|ndt|sast|pht|ict|wib|nzt|eest|pkt|npt|myt|brt|clt|awdt|acdt)"
                           r"|EAT|CAT|WAT|WEST|ART|PET|COT|VET")
# A separator between the text and a time inside it ends the when-phrase: "mon, 6pm gym".
_EDGE_AFTER = re.compile(r"[,;:\-\u2013\u2014]")
# After a time at the start, a colon further on marks all before it as the when-phrase ("<when>: <text>"):
# "every year on my birthday: party" and "at 10 on my birthday: party" were read only in part.
_WHEN_PREPOSITIONS = frozenset({"on", "at", "in", "by", "from", "around", "after", "before", "every", "each", "this",
                                "next"})
# A word a time at the start of a message never ends with: "tomorrow at | the office: call Bob".
_DANGLING = frozenset({"at", "on", "by", "@", "around", "about", "in", "of", "for", "from", "the", "a", "an", "and"})

# What asks for a reminder; "remind" alone may name who gets it ("remind +1 646 555 0199 ...").
_MARKER = re.compile(
    r"[/!]?(?:(?P<remind>remind)(?![\w'])(?!\s*me!)"
    r"|remind\s*me\s*!+|remindme!*|r!(?!\S)"  # "r! in 2h stretch": a Discord bot's prefix
    r"|(?:set|create|add|make|schedule)\s+(?:me\s+)?(?:a\s+|an\s+)?(?:new\s+)?reminders?(?:\s+for\s+me)?(?:\s+for(?=\s))?"
    r"|(?:new\s+)?reminder(?![\w'])(?:\s+for\s+me)?(?:\s+for(?=\s))?"
    r"|(?:(?:please\s+)?(?:don['\u2019]?t|do\s+not)\s+(?:let\s+me\s+)?forget|remember)(?![\w'])(?:\s+to)?)"
    r"[\s,:;!\-\u2013\u2014]*",
    re.IGNORECASE)
_CONNECTOR = re.compile(r"(?:to|that|about)\s+", re.IGNORECASE)
# Texting's "2" for "to" ("remind me 2 call dad at 7:30"), only before a word no time starts with:
# "remind me 2 hours: x" and "remind me 2 days: x" are spans.
_TEXTED_TO = re.compile(r"2\s+(?=[^\W\d])")

# A message that opens like a question to the bot ("what's the weather tomorrow", "is it going to rain
# at 5pm?") asks something; without "remind" its time is no reminder's. "when" too: "when is my
# flight tomorrow" asks, and "when I get home at 6 call mom" names no time to send at.
# Group-chat openers ("lol are we still on at 7") do not change that. "is" and "are" open no task,
# so they ask whatever follows ("is 5pm tomorrow ok for you"); "am" is also a time word.
_QUESTION_OPENER = re.compile(
    r"(?:(?:lol|lmao|haha+|omg|btw|wait|um+|uh+|so)[\s,.!]+)*"
    r"(?:what|what['’]?s|how|how['’]?s|why|who|who['’]?s|whom|whose|where|where['’]?s|which|when"
    r"|when['’]?s|is|isn['’]?t|are|aren['’]?t|was|were|am\s+(?:i|we)"
    # "do my taxes friday", "have the car serviced at 9": before "my" or "the" these start a task.
    r"|(?:will|would|should|shall|do|does|did|can|could|have|has)\s+(?:it|i|you|u|we|they|there|he|she))"
    r"(?![\w'’])",
    re.IGNORECASE)
# Days named in French, Spanish, German or Italian: we read English only, so a text that holds one
# has a day we did not read ("rdv médecin jeudi 14h" is Thursday, not today at 14:00).
_FOREIGN_DAYS = re.compile(
    r"(?<![\w'])(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|demain|aujourd['’]hui|apr[eè]s-demain"
    r"|lunes|martes|mi[eé]rcoles|jueves|viernes|s[aá]bado|domingo|ma[nñ]ana|hoy|pasado ma[nñ]ana"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonnabend|sonntag|morgen|heute|übermorgen"
    r"|luned[iì]|marted[iì]|mercoled[iì]|gioved[iì]|venerd[iì]|domenica|domani|oggi|dopodomani)(?![\w'])",
    re.IGNORECASE)

# Words that read as a time alone but are mostly something else inside a sentence: "buy 12",
# "get some sun", "wed", "finish the 3rd". As the whole time of a message they need a colon.
_WEAK_RUN = re.compile(r"(?:[0-9]{1,2}|sun|sat|wed|mon|tue|thu|fri|(?:the\s+)?[0-9]{1,2}(?:st|nd|rd|th))")
# "good morning", "good night": without "remind", a part of the day alone is not a time.
_PART_ALONE = re.compile(r"(?:morning|afternoon|evening|night)")


# Words a when-phrase is made of. A reading that stopped at a bad part ("in 1 hour 30 call mom": "30"
# is no clock time) has not looked at the words after it; it counts only if those are such words.
_MONTH_WORDS = ("jan january feb february mar march apr april may jun june jul july aug august sep sept september "
                "oct october nov november dec december")
_TIME_WORDS = frozenset(
    set((_MONTH_WORDS + " today tonight tomorrow tmrw tmr tomorow tommorow 2morrow day days week weeks weekday weekdays"
     " weekend weekends month months year years hour hours hr hrs h minute minutes min mins m second seconds sec"
     " secs s d w wk wks fortnight every each other until till til through thru for times once and the of after"
     " next this coming on at by in from now @ noon midday midnight oclock o'clock half quarter past an a time"
     " daily everyday nightly weekly monthly yearly annually hourly am pm a.m. p.m. mondays tuesdays wednesdays"
     " thursdays fridays saturdays sundays last first second third fourth end").split())
    | set(WEEKDAYS) | set(NUMBER_WORDS) | set(ZONE_ALIASES) | set(PART_TIMES))
_WHEN_WORDS = _TIME_WORDS | HOLIDAY_WORDS | {word for city in CITY_ZONES for word in city.split()} | {
    "o", "clock", "ish", "around", "about", "approximately", "approx", "local", "my", "during", "following", "week's",
    "over", "hence", "later", "mwf", "through", "thru", "&", "+", "shorter"}


@dataclass(frozen=True)
class Untimed:
    """A message that reads as a reminder's text with no time in it.

    ``error`` is the reply when no question waits for a text: set when the message asked for a
    reminder ("remind me to call mom"), None when it is not recognisably one ("call mom").
    """

    to: str
    text: str
    error: Error | None = None


@dataclass(frozen=True)
class _Split:
    """One way to cut a message into a time phrase and a text."""

    reading: Reading
    run: str
    text: str
    first: int  # the run's words, as token indexes [first, last)
    last: int
    separated: bool  # a colon, comma, dash or "to" stands between the time and the text
    colon: bool


def day_first(sender: str) -> bool:
    """Say whether "12/11" means 12 November: everywhere except NANP (+1) numbers."""
    return not sender.startswith("+1")


@lru_cache(maxsize=256)
def sender_region(sender: str) -> str | None:
    """Return the sender's country ("US", "GB"); cached, as every run of words of a message asks it."""
    return region_of(sender)


def read_phrase(phrase: str, now: datetime, zone: str, sender: str) -> Reading:
    """Read a when-phrase as the sender means it: their date order, their country's holidays."""
    return read_schedule(phrase, now, zone, day_first(sender), region=sender_region(sender))


def read_explicit(phrase: str, now: datetime, zone: str, sender: str) -> Reading:
    """Read a phrase known to be a when-phrase: our rules, then the dateparser fallback."""
    reading = read_phrase(phrase, now, zone, sender)
    if isinstance(reading, TimeProblem) and reading.kind == "unreadable" and not is_recurring(phrase):
        fallback = read_fallback(phrase, now, zone, day_first(sender))
        if fallback is not None:
            return fallback
    return reading


def shorten(text: str, width: int = 40) -> str:
    """Cut ``text`` to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def describe_problem(problem: TimeProblem, hint: str = f"Try {EXAMPLE}.") -> str:
    """Say politely what was wrong with a when-phrase and how to fix it."""
    fragment = shorten(problem.fragment, 60)
    if problem.kind == "impossible":
        return f'Sorry, "{fragment}" isn\'t a real date or time. {hint}'
    if problem.kind == "past" or _PAST_WORDS.search(fragment):  # "yesterday at 5pm" is past, not unreadable
        return f'Sorry, "{fragment}" is in the past. Please pick a future time. {hint}'
    if problem.kind == "too_far":
        return f'Sorry, "{fragment}" is more than a year away; I can only remind you up to 365 days ahead.'
    if problem.kind == "too_often":
        return f'Sorry, "{fragment}" is too often; reminders can repeat at most once an hour.'
    if problem.kind == "ends_early":
        return f'Sorry, "{fragment}" ends before its first reminder. Try "every day at 8am until dec 31".'
    if problem.kind == "two_bounds":
        return f'Sorry, in "{fragment}" use only one of "for ...", "until ..." or "N times".'
    if problem.kind == "bad_count":
        return f'Sorry, "{fragment}" isn\'t a number of times. Try "every day at 8am 5 times".'
    if problem.kind == "ambiguous":
        days = _days_asked(problem.choices)
        if days is None:
            return wording.unclear_time(fragment)
        return wording.unclear_day(fragment, [day[0] for day in days], _example(days))
    return _unit_missing(fragment) or f'Sorry, I couldn\'t read the time "{fragment}". {hint}'


def _unit_missing(fragment: str) -> str | None:
    """Ask for the unit of "in 5": minutes or hours is the sender's to say."""
    found = _NUMBER_WITHOUT_UNIT.fullmatch(fragment.strip())
    if found is None:
        return None
    number = found["number"]
    return f'Sorry, in {number} what? Try "in {number} minutes" or "in {number} hours".'


_PAST_WORDS = re.compile(r"\b(?:yesterday|last night|ago)\b", re.IGNORECASE)
_NUMBER_WITHOUT_UNIT = re.compile(r"in\s+(?P<number>[0-9]{1,3})", re.IGNORECASE)


def _reads(run: str, reading: Reading) -> bool:
    """Say whether ``reading`` found a when-phrase in the whole of ``run``, good or bad."""
    if not isinstance(reading, TimeProblem):
        return True
    if reading.is_unreadable():
        return False
    if normalize_phrase(reading.fragment) == normalize_phrase(run):
        return True  # the whole phrase was read, then found wanting ("feb 30", "in 400 days")
    return all(_is_time_word(word) for word in normalize_phrase(run).split())


@lru_cache(maxsize=4096)
def _may_be_time_word(word: str) -> bool:
    """Say whether a word may belong to a when-phrase: ``_is_time_word`` plus respellings, holidays, cities."""
    word = word.strip(",.;:!?\"()").lower().replace("\u2019", "'")
    return (_is_time_word(word) or word.startswith("@") or word in _WHEN_WORDS or word.replace(".", "") in _WHEN_WORDS
            or word.removesuffix("'s").removesuffix("'") in _WHEN_WORDS or may_be_spelled_time(word)
            or (len(word) <= 4 and find_zone(word) is not None))  # "cuba", "eet": what the zone rule reads


def _is_time_word(word: str) -> bool:
    word = word.strip(",.;:!?")
    return not word or word[0].isdigit() or "/" in word or word in _TIME_WORDS


def is_weak_run(run: str, asked: bool) -> bool:
    """Say whether a time phrase is too weak to be found inside text ("12", "sun", "morning")."""
    phrase = normalize_phrase(run)
    return _WEAK_RUN.fullmatch(phrase) is not None or (not asked and _PART_ALONE.fullmatch(phrase) is not None)


# --- The whole message -----------------------------------------------------------------------------

def asks_for_reminder(cleaned: str) -> bool:
    """Say whether a message starts by asking for a reminder ("remind ...", "set a reminder", "don't forget")."""
    return _MARKER.match(strip_noise(cleaned)) is not None


def read_sentence(cleaned: str, now: datetime, zone: str, sender: str) -> Command | Untimed:
    """Read a message as a reminder in any order; Untimed when it holds no time."""
    body = strip_noise(cleaned)
    if not _WORD.search(body):
        body = cleaned  # "hello?" is all the text there is
    marker = _MARKER.match(body)
    asked = marker is not None
    # A chat bot's command ("!remind", "RemindMe!", "r!") puts its span first: "<span> <text>".
    bot_order = asked and "!" in marker.group(0)
    recipient = sender
    if marker is not None:
        rest = body[marker.end():]
        if marker["remind"] and ":" not in marker.group(0):
            split = split_recipient(rest, sender)
            if isinstance(split, Error):
                if not _starts_with_time(rest, now, zone, sender):
                    return split
                split = (sender, rest)  # Discord's "!remind 10m pizza": nobody named, the time first
            recipient, rest = split
        body = rest.lstrip(_EDGE + "!")
        if not body:
            return Error(f"Sorry, I need a time and a message. Try {EXAMPLE}.")
    body = strip_leading_please(body) if asked else body  # "remind me please to ..."
    started_with_to = _LEADING_TO.match(body) is not None
    connector = _CONNECTOR.match(body) if asked else None
    if asked and connector is None:
        texted = _TEXTED_TO.match(body)
        if texted is not None and not _may_be_time_word(body[texted.end():].split(None, 1)[0]):
            connector = texted
    if connector is not None:
        body = body[connector.end():]
    found = _find_time(body, now, zone, recipient, sender, asked, not started_with_to)
    if asked and isinstance(found, tuple) and isinstance(found[0], TimeProblem) \
            and body.startswith(found[0].fragment):
        # "!remindme 90 minutes take out the roast": "90" is no clock time, but the span it opens is.
        found = _leading_duration(body, now, zone, sender) or found
    elif bot_order and isinstance(found, tuple) and body.startswith(found[1].strip()) \
            and (span := _leading_span(found[1].strip(_EDGE))) is not None:
        # "!remindme 2 hours check oven at 5pm": the chat-bot order's span is one time, "5pm" another.
        return _two_times(span[0])
    if found is not None:
        if isinstance(found, Ask):
            # Options that differ in text show the sender each split ("in 2 hours check oven at 5pm");
            # one text for all ("tomorrow at 5 and 7pm take meds": 5 AM or 5 PM?) hides the second time.
            texts = {option.text for option in found.question.options}
            second = _second_time(texts.pop(), body) if len(texts) == 1 else None
            return found if second is None else _two_times(second)
        if isinstance(found, Error):
            return found
        if not asked and is_small_talk(found[1]):
            return Ignore()  # "ok thanks, see you tomorrow": a goodbye that names a time, not a request
        if not asked and (_QUESTION_OPENER.match(body) or _ends_as_question(found[1], body)):
            return Error(f"Sorry, I can't answer questions, only set reminders. Try {EXAMPLE}.")
        second = _second_time(found[1], body)
        if second is not None:
            return _two_times(second)
        foreign = _FOREIGN_DAYS.search(found[1])
        if foreign is not None:
            return Error(f'Sorry, I read days in English only, not "{foreign.group(0)}". Try {EXAMPLE}.')
        return decide(recipient, found[0], found[1], now, zone)
    if asked:
        leading = _leading_duration(body, now, zone, sender)
        if leading is not None:
            return decide(recipient, leading[0], leading[1], now, zone)
        fallback = _fallback(body, started_with_to, now, zone, sender)
        if fallback is not None:
            return fallback if isinstance(fallback, Error) else decide(recipient, fallback[0], fallback[1], now, zone)
    text = body.strip(_EDGE)
    error = None
    if asked:
        error = Error(_unit_missing(text) or f'Sorry, I need a time to send "{shorten(text)}". '
                      f'Try "remind me to {shorten(text, 30)} tomorrow at 9am".')
    return Untimed(recipient, text, error)


def _ends_as_question(text: str, body: str) -> bool:
    """Say whether a message ends with a question mark that is not its reminder text's own.

    Without "remind", "fancy a pint at 6?" or "drinks at 7?" asks someone something (a group chat, a
    forwarded text); after a colon ("5pm: dinner?") the question is the text to send.
    """
    return body.rstrip().endswith("?") and not _is_text_after_colon(text, body)


def _is_text_after_colon(text: str, body: str) -> bool:
    """Say whether ``text`` is all that follows the colon of "<when>: <text>": the sender's own words."""
    colon = _SEPARATOR_COLON.search(body)
    return colon is not None and body[colon.end():].strip(_EDGE) == text.strip(_EDGE)


# A clock time that cannot be anything else: "5pm", "7:30", "noon"; whole numbers only ("10am", not "0am").
_CLOCK_IN_TEXT = re.compile(r"(?<![\w:.])(?:[0-9]{1,2}(?::[0-9]{2})?\s*(?:a\.?m\.?|p\.?m\.?)(?![a-z])"
                            r"|[0-9]{1,2}:[0-9]{2}(?![0-9])|(?:noon|midday|midnight)(?![a-z]))", re.IGNORECASE)


def _second_time(text: str, body: str) -> str | None:
    """Return a clock time the text still holds before any colon, unless it names a thing ("the 7:30 train").

    The time found and another in the text ("call mom 5pm tomorrow or friday", "tomorrow at 5 and 7pm
    take meds") mean the message has two times, or one we read only in part: refused, not guessed.
    What follows the colon of "<when>: <text>" is the sender's own ("remind me 5pm: meeting: room 3 at 4pm").
    """
    if _is_text_after_colon(text, body):
        return None
    head = _SEPARATOR_COLON.split(text, 1)[0]
    for match in _CLOCK_IN_TEXT.finditer(head):
        before = head[: match.start()].split()
        if not before or before[-1].lower() not in _DETERMINERS:
            return match.group(0)
    return None


def _two_times(second: str) -> Error:
    """Refuse a message with a second time in its text."""
    return Error(f'Sorry, I see two times there ("{shorten(second, 20)}" is one). Send one time, like {EXAMPLE}.')


def _starts_with_time(body: str, now: datetime, zone: str, sender: str) -> bool:
    """Say whether ``body`` begins with a when-phrase of up to three words ("10m pizza", "in 2h check")."""
    tokens = list(re.finditer(r"\S+", body))[:3]
    for token in tokens:
        phrase = body[: token.end()].strip(_EDGE)
        if parse_duration(phrase) is not None:
            return True
        if _reads(phrase, read_phrase(phrase, now, zone, sender)) and not is_weak_run(phrase, asked=True):
            return True
    return False


def _leading_duration(body: str, now: datetime, zone: str, sender: str) -> tuple[Reading, str] | None:
    """Read the chat-bot order "<span> <text>" ("RemindMe! 2 days "check this"", "!remind 10m pizza") as in <span>."""
    split = _leading_span(body)
    if split is None:
        return None
    span, text = split
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()  # Reddit's RemindMe! quotes its message
    elif (connector := _CONNECTOR.match(text)) is not None:
        text = text[connector.end():]  # "remind me 45 minutes to check the oven"
    return read_phrase("in " + span, now, zone, sender), text


def _leading_span(body: str) -> tuple[str, str] | None:
    """Split the longest span opening ``body`` ("2 days", "10m") from what follows it; None without one.

    Not when the text starts by placing the span elsewhere: "5 minutes before the meeting" has no time.
    """
    tokens = list(re.finditer(r"\S+", body))
    for count in range(min(len(tokens), _MAX_SPAN_WORDS), 0, -1):
        span = body[: tokens[count - 1].end()].strip(_EDGE)
        if parse_duration(span) is None:
            continue
        text = body[tokens[count - 1].end():].strip(_EDGE)
        if text and text.split(None, 1)[0].lower() in _SPAN_ELSEWHERE:
            return None
        return span, text
    return None


# Words that put a bare hour in the evening: nobody has dinner or drinks at 8 AM.
_EVENING_TEXT = re.compile(
    r"\b(?:dinner|supper|drinks|cocktails?|happy hour|date night|nightcap|pub|concert|gig)\b",
    re.IGNORECASE)


# Words that put a bare 11, 12, 1 or 2 around midday: "lunch tmrw at 1" is 1 PM.
_MIDDAY_TEXT = re.compile(r"\b(?:lunch|lunchtime|luncheon)\b", re.IGNORECASE)
_MIDDAY_HOURS = range(11, 15)


def _midday_choice(reading: Moment, zone: str) -> tuple[datetime, datetime | None] | None:
    """Return (send_at, anchor) of the one reading that falls around midday, when a choice was open."""
    readings = [(reading.send_at, reading.anchor), (reading.ambiguous_with, reading.ambiguous_anchor),
                (reading.evening, reading.evening_anchor)]
    middays = {at: anchor or anchor_of(at, zone) for at, anchor in readings
               if at is not None and at.astimezone(ZoneInfo(zone)).hour in _MIDDAY_HOURS}
    return next(iter(middays.items())) if len(middays) == 1 else None


def decide(recipient: str, reading: Reading, text: str, now: datetime, zone: str) -> Command:
    """Make the Remind a reading and a text give, or the question to ask, or the Error that explains."""
    message = clean_text(text)
    if isinstance(reading, TimeProblem):
        if reading.kind != "ambiguous" or not reading.choices or len(message) > MAX_TEXT_LENGTH:
            return Error(describe_problem(reading))
        # "next friday at 3" on a Thursday: ask which day (then am or pm); "next friday at midnight"
        # (the start or the end of either Friday): ask by number.
        options = tuple(Remind(recipient, choice, message) for choice in reading.choices)
        return ask_which_day(options, now, zone) or ask_which_time(options, now, zone)
    if len(message) > MAX_TEXT_LENGTH:
        return Error(f"Sorry, the reminder is too long ({len(message)} characters); "
                     f"the most I can send is {MAX_TEXT_LENGTH}.")
    send_at, anchor, ambiguous_with = reading.send_at, reading.anchor, reading.ambiguous_with
    evening = reading.evening
    if (evening is not None and (ambiguous_with is None or evening in (send_at, ambiguous_with))
            and _EVENING_TEXT.search(message)):
        # "dinner at 8 on friday" is 8 PM and "drinks at 6" 6 PM, as a person reads them: no question.
        send_at, anchor, ambiguous_with = evening, reading.evening_anchor, None
    elif (ambiguous_with is not None or evening is not None) and _MIDDAY_TEXT.search(message):
        midday = _midday_choice(reading, reading.zone)
        if midday is not None:
            send_at, anchor, ambiguous_with = *midday, None
    nearest = Remind(to=recipient, send_at=send_at, text=message, recurrence=reading.recurrence,
                     anchor=anchor if reading.recurrence else None)
    if ambiguous_with is not None:
        other = ambiguous_with
        # The other reading's wall time as asked: anchor_of(other) would give 03:30 for a 02:30 in a DST gap.
        other_anchor = (reading.ambiguous_anchor or anchor_of(other, reading.zone)) if reading.recurrence else None
        options = (nearest, Remind(recipient, other, message, reading.recurrence, other_anchor))
        return ask_which_time(options, now, zone)
    if not message:
        return ask_what_text(nearest, now)
    return nearest


def ask_which_time(options: tuple[Remind, ...], now: datetime, zone: str) -> Ask:
    """Ask which of the readings was meant: "am" or "pm" for one day's two halves, else by number."""
    if len(options) == 2 and options[0].text == options[1].text and _am_and_pm(options[0], options[1], zone):
        reply = wording.which_time_question(options[0].send_at, options[1].send_at, zone)
    else:
        reply = wording.which_one_question([option.send_at for option in options], zone)
    return Ask(Question(QuestionKind.WHICH_TIME, now, options), reply)


def ask_which_day(options: tuple[Remind, ...], now: datetime, zone: str) -> Ask | None:
    """Ask which day was meant, answered with a date; None unless each day has one time or its AM and PM."""
    days = _days_asked(tuple(option.send_at.astimezone(ZoneInfo(zone)) for option in options))
    if days is None:
        return None
    reply = wording.which_day_question([day[0] for day in days], _example(days))
    return Ask(Question(QuestionKind.WHICH_DAY, now, options), reply)


def _days_asked(choices: tuple[datetime, ...]) -> list[tuple[datetime, ...]] | None:
    """Group readings by day when that is the question: two or more days, each one time or its AM and PM.

    None when the readings are not so ("friday at midnight" is Friday's start or Saturday's).
    """
    days: dict[date, list[datetime]] = {}
    for choice in choices:
        days.setdefault(choice.date(), []).append(choice)
    groups = [tuple(day) for day in days.values()]
    pairs = [day for day in groups if len(day) == 2]
    if len(groups) < 2 or not pairs or any(len(day) > 2 for day in groups):
        return None
    if not all((first.hour < 12) != (second.hour < 12) and (first.hour % 12, first.minute)
               == (second.hour % 12, second.minute) for first, second in pairs):
        return None
    return groups


def _example(days: list[tuple[datetime, ...]]) -> datetime:
    """Return the reading to show as the example answer: the first day's waking hour."""
    first = days[0]
    return next((choice for choice in first if choice.hour >= NIGHT_END), first[-1])


def _am_and_pm(one: Remind, other: Remind, zone: str) -> bool:
    """Say whether two readings are the same clock time on the same day, one AM and one PM ("5:00 AM or 5:00 PM")."""
    first, second = (option.send_at.astimezone(ZoneInfo(zone)) for option in (one, other))
    return (first.date() == second.date() and (first.hour < 12) != (second.hour < 12)
            and (first.hour % 12, first.minute) == (second.hour % 12, second.minute))


def ask_what_text(option: Remind, now: datetime) -> Ask:
    """Ask what a reminder with a time but no text should say."""
    return Ask(Question(QuestionKind.WHAT_TEXT, now, (option,)), wording.what_text_question())


# --- Finding the time ------------------------------------------------------------------------------

def _find_time(body: str, now: datetime, zone: str, recipient: str, sender: str, asked: bool,
               colon_splits: bool) -> tuple[Reading, str] | Ask | Error | None:
    """Find the time run at the start or the end of ``body`` (or before its colon); None when there is none."""
    tokens = [(match.start(), match.end()) for match in re.finditer(r"\S+", body)]
    if not tokens:
        return None
    colons = [match.start() for match in _SEPARATOR_COLON.finditer(body)] if colon_splits else []
    if colons:
        # "<when>: <text>", the documented form: what stands before the colon is the time.
        left = body[: colons[0]].strip(_EDGE)
        if left and parse_duration(left) is not None:
            left = "in " + left  # "30 mins: tea", "remind me 2 days: x"
        reading = (read_explicit(left, now, zone, sender) if asked else read_phrase(left, now, zone, sender)) \
            if left else None
        if reading is not None and _reads(left, reading):
            return reading, body[colons[0] + 1:]
        left_tokens = [token for token in tokens if token[1] <= colons[0] + 1]
        if reading is not None and _heads(body, left_tokens, now, zone, sender, asked) and (
                asked or all(_is_time_word(word) for word in normalize_phrase(left).split())):
            assert isinstance(reading, TimeProblem)
            return Error(describe_problem(reading))  # "3pm XYZ: call": a time before the colon, misspelt
    head_tokens = [token for token in tokens if not colons or token[0] < colons[0]]
    heads = _heads(body, head_tokens, now, zone, sender, asked)
    if heads and heads[-1].last == len(tokens):
        return heads[-1].reading, ""  # the whole message is a time
    tails = _tails(body, tokens, now, zone, sender, asked, colons[-1] if colons else -1)
    head = heads[-1] if heads else None
    tail = tails[0] if tails else None
    if head is not None and tail is not None and head.last <= tail.first:
        return _head_and_tail(body, tokens, head, tail, now, zone, recipient, sender)
    if head is not None:
        return _one_end(head, heads[-2] if len(heads) > 1 else None, tokens, body, now, zone, recipient, sender)
    if tail is not None:
        tails = _without_leading_part(tails)
        return _one_end(tails[0], tails[1] if len(tails) > 1 else None, tokens, body, now, zone, recipient,
                        sender)
    if not colons:
        middle = _middle(body, tokens, now, zone, sender)
        if middle is not None:
            return middle
    if colons and asked and body[: colons[0]].strip(_EDGE):
        left = body[: colons[0]].strip(_EDGE)
        reading = read_explicit(left, now, zone, sender)
        if isinstance(reading, TimeProblem):
            return Error(describe_problem(reading))  # "remind me blorp: x"
    return None


def _middle(body: str, tokens: list[tuple[int, int]], now: datetime, zone: str,
            sender: str) -> tuple[Reading, str] | None:
    """Find one clear time inside the text: "call mom at 5pm about the party" is "call mom about the party" at 5 PM.

    Only when one contiguous run of words reads as a time that is clearly one (see ``_is_clear_time``)
    and no other run of the text reads as a time at all: "call mom at 5 about the party" or a second
    time elsewhere leave the message to the refusal, which is no guess.
    """
    if len(tokens) < 3 or len(tokens) > _MAX_MIDDLE_TOKENS:
        return None
    runs: list[tuple[int, int, Reading, bool]] = []  # [first, last) token indexes, reading, clear
    for first in range(1, len(tokens) - 1):
        for last in range(first + 1, min(len(tokens) - 1, first + _MAX_RUN_WORDS) + 1):
            if not _may_be_time_word(body[tokens[last - 1][0]:tokens[last - 1][1]]):
                break  # a run of time words only: "5pm about" cannot be one
            run = body[tokens[first][0]:tokens[last - 1][1]].strip(_EDGE)
            if not run or is_weak_run(run, asked=False) or run.split()[-1].lower() in _CANNOT_END_TIME:
                continue
            # "mon wed fri 6am gym": inside the text, a day name touching the run makes it part of a
            # longer when-phrase we could not read, whatever the run's edge is.
            before_words = [body[start:end] for start, end in tokens[max(0, first - 2):first]][::-1]
            after_words = [body[start:end] for start, end in tokens[last:last + 2]]
            gap_before = body[tokens[first - 1][1]:tokens[first][0]]
            gap_after = body[tokens[last - 1][1]:tokens[last][0]]
            if (_touches_when(before_words, None) and not _EDGE_AFTER.search(gap_before)) or (
                    _touches_when(after_words, None) and not _EDGE_AFTER.search(gap_after)):
                continue
            reading = read_phrase(run, now, zone, sender)
            if _reads(run, reading):
                # "the 4pm meeting": after a determiner a time names a thing, and is no time to send at.
                before_run = body[tokens[first - 1][0]:tokens[first - 1][1]].lower()
                named = before_run in _DETERMINERS or before_run in _TIED_TO_TEXT
                runs.append((first, last, reading, not named and _is_clear_time(run, sender)))
    clear = [run for run in runs if run[3]]
    if not clear:
        return None
    start, end = min(run[0] for run in clear), max(run[1] for run in clear)
    whole = [run for run in clear if (run[0], run[1]) == (start, end)]
    if not whole or any(run[0] < start or run[1] > end for run in runs):
        return None  # two times, or one the clear run does not hold whole: no guess
    before = body[: tokens[start][0]].rstrip(_EDGE)
    dangling = re.search(r"(?:^|\s)(?:at|on|by|@)$", before, re.IGNORECASE)
    if dangling is not None:
        before = before[: dangling.start()].rstrip(_EDGE)
    text = f"{before} {body[tokens[end - 1][1]:].lstrip(_EDGE)}".strip()
    return whole[0][2], text


def _is_clear_time(run: str, sender: str) -> bool:
    """Say whether a run is clearly a time even inside text: am/pm, "9:30", a day and a time, noon, "in 2 hours"."""
    phrase = normalize_phrase(run)
    if _CLEAR_CLOCK.search(phrase):
        return True
    words = phrase.split(" ", 1)
    if words[0] in ("in", "after") and len(words) == 2 and parse_duration(words[1]) is not None:
        return True
    parts = named_parts(phrase, day_first(sender))
    return "clock" in parts and bool(parts.intersection(DAY_SLOTS))


def _heads(body: str, tokens: list[tuple[int, int]], now: datetime, zone: str, sender: str,
           asked: bool) -> list[_Split]:
    """Return the readable time runs at the start of ``body``, shortest first."""
    found: list[_Split] = []
    previous = ""
    touching = False  # the longest run found so far is followed by a word that carries the when-phrase on
    for count in range(1, min(len(tokens), _MAX_RUN_WORDS) + 1):
        if not _may_be_time_word(body[tokens[count - 1][0]:tokens[count - 1][1]]):
            break  # every word of a when-phrase is read, so no run that holds this one ("call") is one
        raw = body[: tokens[count - 1][1]]
        run = raw.rstrip(_EDGE)
        if not run or run == previous:
            continue
        previous = run
        reading = read_phrase(run, now, zone, sender)
        if not _reads(run, reading):
            continue
        rest = body[tokens[count - 1][1]:]
        between = raw[len(run):] + rest[: len(rest) - len(rest.lstrip(_EDGE))]
        text = rest.lstrip(_EDGE)
        to = _LEADING_TO.match(text)
        if to is not None:
            text = text[to.end():]
        colon = ":" in between
        if is_weak_run(run, asked) and not (colon and text):
            continue
        if run.split()[-1].lower() in _DANGLING and not colon:
            continue  # "tomorrow at | the office: call Bob": the "at" belongs to the text
        touching = not between.strip() and (
            _touches_when(text.split(None, 2)[:2], run.split()[-1])
            or (_SEPARATOR_COLON.search(text) is not None and text.split(None, 1)[0].lower() in _WHEN_PREPOSITIONS))
        found.append(_Split(reading, run, strip_leading_please(text), 0, count,
                            bool(between.strip()) or to is not None, colon))
    # The longest run followed by a word that carries the when-phrase on was read only in part, and
    # the shorter runs are cut from the same unread phrase.
    return [] if found and touching else found


def _tails(body: str, tokens: list[tuple[int, int]], now: datetime, zone: str, sender: str,
           asked: bool, after: int) -> list[_Split]:
    """Return the readable time runs at the end of ``body`` that start after ``after``, longest first."""
    found: list[_Split] = []
    # Every word of a when-phrase is read, so a run at the end starts after the last word that cannot be.
    last_other = max((index for index, token in enumerate(tokens) if not _may_be_time_word(body[token[0]:token[1]])),
                     default=-1)
    for index in range(max(1, len(tokens) - _MAX_RUN_WORDS, last_other + 1), len(tokens)):
        if tokens[index][0] <= after:
            continue
        raw = body[tokens[index][0]:]
        run = raw.lstrip(_EDGE)
        if not run:
            continue
        reading = read_phrase(run, now, zone, sender)
        if not _reads(run, reading):
            continue
        before = body[: tokens[index][0]]
        text = before.rstrip(_EDGE)
        between = before[len(text):] + raw[: len(raw) - len(run)]
        colon = ":" in between
        if is_weak_run(run, asked) and not colon:
            continue
        last_word = text.rsplit(None, 1)[-1].lower() if text else ""
        if not colon and last_word in _TIED_TO_TEXT:
            continue
        if not found and not between.strip() and _touches_when(text.rsplit(None, 2)[::-1][:2], run.split()[0]):
            return []  # the longest run was read only in part, and the shorter ones are cut from it too
        found.append(_Split(reading, run, text, index, len(tokens), bool(between.strip()), colon))
    return found


def _touches_when(outward: list[str], edge: str | None) -> bool:
    """Say whether the text next to a time run carries the when-phrase on (see ``_CONTINUES_WHEN``).

    ``outward`` is the text's words from the run outwards (two are looked at: "tues and" before
    "thurs at 6pm"); ``edge`` is the run's word on that side, None inside the text, where any day
    name carries it on.
    """
    if not outward:
        return False
    if _UNREAD_ZONES.fullmatch(outward[0].strip(",.;:!?()")):
        return True
    words = [word.strip(",.;:!?").lower() for word in outward[:2]]
    edge = None if edge is None else edge.strip(",.;:!?").lower()
    word = words[0]
    if word in _CONTINUES_WHEN:
        return True
    if word in _JOINS_DAYS:
        return len(words) > 1 and words[1] in _DAY_NAMES and (edge is None or edge in _DAY_NAMES)
    if edge is None:
        return word in _DAY_NAMES or _counts_days(word)
    if word in _DAY_NAMES:
        return edge in _DAY_NAMES or _counts_days(edge)
    return _counts_days(word) and edge in _DAY_NAMES


def _counts_days(word: str) -> bool:
    """Say whether a word counts days: "every", "other", "3rd", "last"."""
    return word in _COUNTS_DAYS or _ORDINAL.fullmatch(word) is not None


def _without_leading_part(tails: list[_Split]) -> list[_Split]:
    """Leave a part of the day that changes nothing to the text: "Parents evening at 6pm" is at 6 PM."""
    if len(tails) > 1 and _PART_ALONE.fullmatch(normalize_phrase(tails[0].run).split()[0]) \
            and tails[1].first == tails[0].first + 1 and not isinstance(tails[0].reading, TimeProblem) \
            and not isinstance(tails[1].reading, TimeProblem) and tails[0].reading.send_at == tails[1].reading.send_at:
        return tails[1:]
    return tails


def _is_bare_number(tokens: list[tuple[int, int]], body: str, index: int) -> bool:
    word = body[tokens[index][0]:tokens[index][1]].rstrip(_EDGE)
    before = body[tokens[index - 1][0]:tokens[index - 1][1]].lower() if index > 0 else ""
    return _BARE_NUMBER.fullmatch(word) is not None and before not in _AT


def _one_end(best: _Split, shorter: _Split | None, tokens: list[tuple[int, int]], body: str, now: datetime,
             zone: str, recipient: str, sender: str) -> tuple[Reading, str] | Ask | Error:
    """Take the time run at one end; ask when a bare number at its inner edge may belong to the text."""
    inner = best.last - 1 if best.first == 0 else best.first
    if shorter is not None and _names_thing(best, shorter):
        return shorter.reading, shorter.text  # "sat 2pm arvo bbq", "tomorrow 10pm night shift"
    if (shorter is None or best.separated or not _is_bare_number(tokens, body, inner)
            or (shorter.last - shorter.first) != (best.last - best.first) - 1):
        day = _day_left_in_text(best, now, zone, sender)
        return (best.reading, best.text) if day is None else _either(best, day, now, zone, recipient)
    # "read chapter 5 tomorrow": 5 PM tomorrow, or "read chapter 5" at 9 AM?
    return _either(best, shorter, now, zone, recipient)


def _names_thing(best: _Split, shorter: _Split) -> bool:
    """Say whether a time at the start ends with a part of day that only repeats its clock, opening the text.

    "tomorrow 10pm night shift": 10 PM is already night, so "night" is the shift's, not the time's.
    """
    if best.first != 0 or best.separated or not best.text.strip(_EDGE) or shorter.first != 0 \
            or shorter.last != best.last - 1:
        return False
    last_word = normalize_phrase(best.run).split()[-1:]
    if not last_word or named_parts(last_word[0], True) != {"part"}:
        return False  # "night", "arvo"; not "tonight", which names a day too
    if "clock" not in named_parts(shorter.run, True):
        return False  # "tomorrow morning call mom": the morning is the time's, "tomorrow" alone has no clock
    return _adds_nothing(shorter.reading, best.reading)


def _adds_nothing(settled: Reading, with_part: Reading) -> bool:
    """Say whether a part of day added to a settled time leaves it where it was ("8pm" and "8pm night")."""
    return isinstance(settled, Moment) and isinstance(with_part, Moment) and settled.ambiguous_with is None \
        and settled.evening is None and settled.send_at == with_part.send_at \
        and settled.recurrence == with_part.recurrence


def _day_left_in_text(split: _Split, now: datetime, zone: str, sender: str) -> _Split | None:
    """Find a day the text names that the time may belong to: "call mom tomorrow about it at 5pm".

    Only for a time of day alone, and a day that is no topic ("about Sunday", "for friday"): the
    split with that day joined to the time, or None when there is no such day (or several).
    """
    if isinstance(split.reading, TimeProblem) or split.reading.recurrence or split.reading.ambiguous_with:
        return None
    first_day = day_first(sender)
    if not named_parts(split.run, first_day) <= {"clock", "zone"}:
        return None
    words = list(re.finditer(r"\S+", split.text))
    found: list[_Split] = []
    for first in range(len(words)):
        before = words[first - 1].group(0).lower() if first else ""
        if before in _TOPIC_WORDS:
            continue
        for last in range(first + 1, min(len(words), first + 3) + 1):
            if not _may_be_time_word(words[last - 1].group(0)):
                break
            run = split.text[words[first].start():words[last - 1].end()].strip(_EDGE)
            if (not run or is_weak_run(run, asked=False) or run.split()[-1].lower() in _CANNOT_END_TIME
                    or _COUNTED.fullmatch(run.lower())):
                continue
            parts = named_parts(run, first_day)
            if not parts or not parts <= {*DAY_SLOTS, "part"} or not parts.intersection(DAY_SLOTS):
                continue
            joined = read_phrase(f"{run} {split.run}", now, zone, sender)
            if isinstance(joined, Moment) and joined.send_at != split.reading.send_at:
                head = split.text[: words[first].start()].rstrip(_EDGE)
                dangling = re.search(r"(?:^|\s)(?:at|on|by)$", head, re.IGNORECASE)
                if dangling is not None:
                    head = head[: dangling.start()].rstrip(_EDGE)
                text = f"{head} {split.text[words[last - 1].end():].lstrip(_EDGE)}".strip()
                found.append(_Split(joined, f"{run} {split.run}", text, split.first, split.last, split.separated,
                                    split.colon))
    return found[-1] if found and len({option.reading.send_at for option in found}) == 1 else None


def _head_and_tail(body: str, tokens: list[tuple[int, int]], head: _Split, tail: _Split, now: datetime,
                   zone: str, recipient: str, sender: str) -> tuple[Reading, str] | Ask | Error:
    """Settle a message with a time at both ends: "tomorrow call mom at 5pm" is one time, split."""
    if head.colon or tail.colon:
        chosen = head if head.colon else tail
        return chosen.reading, chosen.text
    middle = body[tokens[head.last][0]:tokens[tail.first - 1][1]].strip(_EDGE)
    to = _LEADING_TO.match(middle)
    if to is not None:
        middle = middle[to.end():]
    joined_run = f"{head.run} {tail.run}"
    joined = read_phrase(joined_run, now, zone, sender)
    if _said_again(head, tail, joined):
        return head.reading, head.text  # "tomorrow 8pm date night": the text's "night", the time said once
    if _reads(joined_run, joined):
        return joined, strip_leading_please(middle)
    if head.separated != tail.separated:
        chosen = head if head.separated else tail
        return chosen.reading, chosen.text
    return _either(head, tail, now, zone, recipient)


def _said_again(head: _Split, tail: _Split, joined: Reading) -> bool:
    """Say whether a lone part of day ending the text only repeats the head's time, naming a thing instead.

    "!reminder tomorrow 8pm raid night", "remind me fri 7pm date night": the evening is already 8 PM, so
    "night" is the raid's; "tomorrow at 7 call mom evening" still moves 7 AM to 7 PM.
    """
    if tail.separated or _PART_ALONE.fullmatch(normalize_phrase(tail.run)) is None:
        return False
    return _adds_nothing(head.reading, joined)


def _either(one: _Split, other: _Split, now: datetime, zone: str, recipient: str) -> tuple[Reading, str] | Ask | Error:
    """Two splits: take the one that works when the other does not, the same time once, else ask."""
    if isinstance(one.reading, TimeProblem) or isinstance(other.reading, TimeProblem):
        if isinstance(one.reading, TimeProblem) and isinstance(other.reading, TimeProblem):
            return one.reading, one.text
        chosen = other if isinstance(one.reading, TimeProblem) else one
        return chosen.reading, chosen.text
    if one.reading.send_at == other.reading.send_at:
        return one.reading, one.text
    options: list[Remind] = []
    for split in (one, other):
        made = decide(recipient, split.reading, split.text, now, zone)
        if isinstance(made, Ask) and made.question.kind == QuestionKind.WHICH_TIME:
            options.extend(made.question.options)  # "dinner 7 tomorrow": 7 AM, 7 PM, or "dinner 7" at 9 AM
        elif isinstance(made, Remind):
            options.append(made)
        else:
            return split.reading, split.text  # no text, or too long: that one says so first
    return ask_which_time(tuple(sorted(options, key=lambda option: option.send_at)), now, zone)


def _fallback(body: str, started_with_to: bool, now: datetime, zone: str,
              sender: str) -> tuple[Moment, str] | Error | None:
    """Let dateparser read a when-phrase our rules do not cover, where the old grammar put one."""
    if not started_with_to:
        # "remind me <when> to <text>": what stands before the first " to " is the time.
        split = _TO_SPLIT.search(body)
        if split is None:
            return None
        found = read_explicit(body[: split.start()], now, zone, sender)
        if isinstance(found, TimeProblem):
            return Error(describe_problem(found))
        return found, body[split.end():]
    # "to <text> <when>": a few endings that start as a time does.
    tried = 0
    for match in list(re.finditer(r"\S+", body))[1:]:
        if match.group(0).lower() not in _TEXT_START_MARKERS:
            continue
        fallback = read_fallback(body[match.start():], now, zone, day_first(sender))
        if fallback is not None:
            return fallback, body[: match.start()].rstrip(_EDGE)
        tried += 1
        if tried == 3:
            break
    return None


def split_recipient(body: str, sender: str) -> tuple[str, str] | Error:
    """Split "me ..." or "<number> ..." off the front of a remind command."""
    me = re.match(r"\s*me(?![a-z0-9])", body, re.IGNORECASE)
    if me:
        return sender, body[me.end():].strip()
    body = body.lstrip(_EDGE)
    if not body or re.match(r"(?:to|that|about)\s", body, re.IGNORECASE):
        return sender, body  # "remind to call bob at 5": nobody named, so the sender
    tokens = list(re.finditer(r"[^\s:]+", body))
    phone_tokens = []
    for token in tokens:
        if not _PHONE_TOKEN.fullmatch(token.group(0)):
            break
        phone_tokens.append(token)
        if body[token.end():token.end() + 1] == ":":
            break
    if not phone_tokens:
        word = tokens[0].group(0) if tokens else body
        return Error(f'Sorry, I can only remind "me" or a phone number, not "{shorten(word)}". '
                     f'Try {EXAMPLE} or "remind +12125550147 at 5pm: dinner".')
    # Longest run of number-like tokens that is a phone number; "... 0147 5" keeps the 5 out.
    for count in range(len(phone_tokens), 0, -1):
        candidate = body[: phone_tokens[count - 1].end()]
        number = normalize_number(candidate, sender)
        if number is not None:
            return number, body[phone_tokens[count - 1].end():].strip()
    shown = body[: phone_tokens[-1].end()].strip()
    return Error(f'Sorry, "{shorten(shown)}" doesn\'t look like a phone number. Use "me" or a full '
                 'number, like "remind +12125550147 at 5pm: dinner".')
