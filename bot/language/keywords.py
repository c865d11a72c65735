"""Whole-message keywords: opt-out and consent words, acknowledgements, polite noise.

Pure text matching on short messages; no times are read here. Matching is on ``plain_words``:
lowercase, apostrophes dropped ("don't" is "dont"), punctuation gone, spaces collapsed.
"""

from __future__ import annotations

import re

# --- Cleaning ------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff]")
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`]")
_NOT_A_WORD = re.compile(r"[^\w\s-]+|(?<!\w)-|-(?!\w)|_")
MAX_SHORT_MESSAGE = 120  # characters: longer messages are neither an opt-out request, a YES nor a thanks


def clean_text(text: str) -> str:
    """Replace control characters (newlines too) with a space, drop invisible ones, trim."""
    return _CONTROL.sub(" ", _INVISIBLE.sub("", text)).strip()


def plain_words(text: str) -> str:
    """Lowercase ``text``, drop apostrophes ("don't" is "dont") and punctuation, collapse spaces."""
    return plain_of_cleaned(clean_text(text))


def plain_of_cleaned(cleaned: str) -> str:
    """Return ``plain_words`` of a text ``clean_text`` has already cleaned."""
    return " ".join(_NOT_A_WORD.sub(" ", _APOSTROPHES.sub("", cleaned.lower())).split())


# --- Opt-out and consent words ------------------------------------------------------------------
# Carrier opt-out keywords (CTIA), plus the words the FCC's 2024 TCPA consent-revocation order
# names ("revoke", "opt out"): the whole message, any case, punctuation ignored.
STOP_WORDS = frozenset({"stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "revoke",
                        "opt out", "optout", "opt-out"})
START_WORDS = frozenset({"start", "unstop"})
# The reply to a consent request ("+1 212-555-0147 wants to send you reminders... Reply YES").
YES_WORDS = frozenset({"yes", "y", "yes please", "yep", "yeah", "agree", "i agree", "accept", "i accept"})
NO_WORDS = frozenset({"no", "n", "nope", "nah", "no thanks", "no thank you", "dont", "do not", "never mind",
                      "nevermind", "keep them", "no dont"})

# The same order treats any reasonable way of saying "stop texting me" as a revocation. These
# patterns read short messages that are only such a request, matched against the whole message,
# so "remind me to stop at the store" or "stop at the bank at 5" never opt anyone out.
_MAX_OPT_OUT_WORDS = 12
_PLEASE = r"(?:please|pls|plz|kindly)"
_LEAD_IN = r"(?:(?:ok|okay|hey|hi|just|so)\s+)?"  # "ok stop", "hey just stop texting me"
_ME = r"(?:me|us|this number|my number|my phone)"
_MESSAGES = (r"(?:(?:these|those|this|your|ur|the|any|all|all the|all these|all your|any more|anymore|more)\s+)?"
             r"(?:messages|message|msgs|texts|text messages|text|txts|sms|reminders|notifications|alerts|spam)")
_REACHING = r"(?:texting|txting|messaging|msging|sending|contacting|spamming|bothering|smsing)"
_LIST = r"(?:this|your|ur|the|that|the mailing|your mailing)\s+(?:list|service|number|database|contacts|thing)"
_OPT_OUT_REQUESTS = (
    rf"(?:stop|quit|cease)\s+{_REACHING}(?:\s+{_ME})?(?:\s+{_MESSAGES})?",  # stop texting me, stop sending me messages
    rf"stop\s+(?:it|{_MESSAGES})",  # stop it, stop these texts
    rf"(?:dont|do not|never)\s+(?:text|txt|message|msg|contact|sms|send)\s+{_ME}(?:\s+{_MESSAGES})?",  # don't text me
    rf"(?:unsubscribe|remove)\s+{_ME}(?:\s+(?:off|from)\s+{_LIST})?",  # unsubscribe me, remove me from this list
    rf"(?:take|delete)\s+{_ME}\s+(?:off|from)\s+{_LIST}",  # take me off your list
    rf"opt\s+{_ME}\s+out",  # opt me out
    (r"(?:i\s+(?:want|wish|would like|need|wanna)\s+to\s+)?"  # i want to opt out (of this list)
     r"(?:opt out|optout|opt-out|unsubscribe|revoke(?:\s+(?:my\s+)?consent)?)"
     r"(?:\s+(?:from|of)\s+(?:this|these|your|ur|the|all)(?:\s+\w+)?)?"),
    rf"i\s+(?:dont|do not|no longer)\s+want\s+{_MESSAGES}",  # i don't want these texts
    rf"no\s+more\s+{_MESSAGES}",  # no more texts
    r"leave\s+me\s+alone",
    r"(?:stop|quit|unsubscribe)",  # please stop, stop please, stop now
    r"cancel\s+(?:my\s+)?subscription",
)
_OPT_OUT_SENTENCE = re.compile(
    rf"{_LEAD_IN}(?:{_PLEASE}\s+)?(?:{'|'.join(_OPT_OUT_REQUESTS)})"
    rf"(?:\s+(?:anymore|any more|again|ever again|from now on|now|at all))?(?:\s+{_PLEASE})?"
    r"(?:\s+(?:thanks|thank you|thx|ty))?")


def is_opt_out(text: str) -> bool:
    """Say whether a whole message asks to stop all messages: a carrier keyword or a short plain request."""
    return is_opt_out_plain(plain_words(text))


def is_opt_out_plain(plain: str) -> bool:
    """Say whether a message, as ``plain_words`` gives it, asks to stop all messages."""
    if not plain:
        return False
    if plain in STOP_WORDS:
        return True
    return len(plain.split()) <= _MAX_OPT_OUT_WORDS and _OPT_OUT_SENTENCE.fullmatch(plain) is not None


def is_yes(text: str) -> bool:
    """Say whether a whole message is a YES (to a consent request)."""
    return plain_words(text) in YES_WORDS


# --- Acknowledgements: no reply at all --------------------------------------------------------
# A reply to "thanks" costs the sender an SMS and says nothing; so does one to a reaction, which
# iMessage and Android send as plain text ('Liked "call mom"', 'Reacted 👍 to "call mom"').
# Words and phrases that acknowledge or thank, as texted in the US, UK and Australia, plus the
# French and Spanish thanks people use anyway. A message made only of these and the fillers
# below, in any order, gets no reply ("lovely, thanks", "cheers mate", "ok ta", "thanks very much").
# Not here: "yes" and "no" (answers to questions), "done" (a command), "stop" (an opt-out).
_ACK_PHRASES = (
    "ok", "okay", "okey", "okie", "okey dokey", "kk", "cool", "great", "perfect", "awesome", "nice", "lovely",
    "sweet", "brilliant", "ace", "super", "fab", "fantastic", "excellent", "wonderful", "amazing", "good",
    "all good", "alright", "all right", "sure", "got it", "gotcha", "sounds good", "will do", "noted", "understood",
    "thanks", "thank you", "thank u", "thanx", "thnx", "thnks", "thx", "ty", "tysm", "tyvm", "ta", "cheers",
    "merci", "merci beaucoup", "gracias", "danke", "appreciate it", "appreciated",
    "np", "no problem", "no prob", "no worries", "nw", "lol", "yay", "wow",
)
# Words that go with a thanks but acknowledge nothing alone ("you", "so", "a lot").
_FILLER_PHRASES = ("you", "u", "so", "very", "much", "a lot", "a bunch", "heaps", "really", "just", "oh", "ah",
                   "again", "for that", "for this", "mate", "dude", "buddy", "man", "love", "hun", "bot")
_ACK_WORD = re.compile(r"k+|o+k+|ha(?:ha)+h?|lo+l")  # "kkk", "okkk", "hahaha", "lool"
_PHRASE_WORDS = {tuple(phrase.split()): phrase in _ACK_PHRASES for phrase in _FILLER_PHRASES + _ACK_PHRASES}
_PHRASE_LONGEST = max(len(words) for words in _PHRASE_WORDS)

_REACTION = re.compile(
    r"(?:liked|loved|disliked|laughed at|emphasi[sz]ed|questioned|reacted\s+\S+(?:\s+\S+)?\s+to"
    r"|reacted\s+with\s+\S+(?:\s+\S+)?\s+to|removed\s+an?\s+\S+(?:\s+\S+)?\s+from)\s+"
    r"(?:[\"\u201c\u201d'\u2018\u2019\u00ab].*|an?\s+(?:image|photo|picture|video|movie|attachment|message|audio message))",
    re.IGNORECASE | re.DOTALL)
_HAS_WORD = re.compile(r"\w")


def is_acknowledgement(cleaned: str, plain: str) -> bool:
    """Say whether a message wants no answer: thanks, ok, an emoji or punctuation alone, a reaction."""
    if not _HAS_WORD.search(cleaned):
        return True  # only emoji, symbols or punctuation
    if _REACTION.fullmatch(cleaned):
        return True
    return bool(plain) and _only_thanks(plain.split())


def _only_thanks(words: list[str]) -> bool:
    """Say whether ``words`` split into acknowledgements and fillers, with one acknowledgement at least."""
    return _splits_into(words, _PHRASE_WORDS, _PHRASE_LONGEST)


def _splits_into(words: list[str], phrases: dict[tuple[str, ...], bool], longest: int) -> bool:
    """Say whether ``words`` split into ``phrases`` (of at most ``longest`` words), one of them True at least.

    Word by word over the reachable (position, acknowledged yet) states, so linear in the words: a
    regex of the same alternatives ("k+" or "kk", "ok" or "o+k+") backtracks exponentially on a
    long run that fails at its end ("kk kk kk ... x").
    """
    states = {(0, False)}
    for start in range(len(words)):
        if not any(position >= start for position, _ in states):
            return False  # no split reaches this word
        for acknowledged in (False, True):
            if (start, acknowledged) not in states:
                continue
            for length in range(1, min(longest, len(words) - start) + 1):
                phrase = tuple(words[start:start + length])
                is_ack = phrases.get(phrase)
                if is_ack is None and length == 1 and _ACK_WORD.fullmatch(phrase[0]):
                    is_ack = True
                if is_ack is not None:
                    states.add((start + length, acknowledged or is_ack))
    return (len(words), True) in states


# --- Small talk: a time in a message that is not a request -------------------------------------
# "ok thanks see you tomorrow", "talk to you at 5", "good night": a message meant for a person (or
# a goodbye to the bot) names a time, but its words are only a farewell. Without "remind me" such
# a message is not a reminder, and gets no reply; with it ("remind me at 5: see you") it is one.
_SMALL_TALK_PHRASES = (
    "see you", "see u", "see ya", "cya", "see you then", "see you soon", "see you later", "talk to you",
    "talk to u", "talk to you then", "speak to you", "ttyl", "talk soon", "speak soon", "chat soon",
    "catch you", "catch you later", "later", "laters", "bye", "bye bye", "goodbye", "good bye",
    "good night", "goodnight", "gn", "night", "nite", "night night", "nighty night", "sleep well",
    "sweet dreams", "love you", "love u", "luv u", "miss you", "have a good day", "have a good night",
    "have a good one", "have a nice day", "have a great day", "take care", "until then", "till then",
    "til then", "looking forward to it", "cant wait", "can't wait", "same time", "sounds like a plan",
    "it's a date", "its a date",
)
_TALK_WORDS = {**_PHRASE_WORDS, **{tuple(phrase.split()): True for phrase in _SMALL_TALK_PHRASES}}
_TALK_LONGEST = max(len(words) for words in _TALK_WORDS)


def is_small_talk(text: str) -> bool:
    """Say whether a reminder's would-be text is only farewells, thanks and fillers ("ok thanks see you")."""
    words = plain_words(text).split()
    return bool(words) and _splits_into(words, _TALK_WORDS, _TALK_LONGEST)


# --- Polite noise around a reminder ------------------------------------------------------------
# Words people wrap a request in; they carry no part of the reminder. Stripped at both ends.
_LEADING_NOISE = re.compile(
    r"(?:(?:hey there|hi there|hey bot|hi bot|hello bot|hey|hi|hello|yo|ok|okay|so|um|bot|please|pls|plz|kindly"
    r"|thanks|thank you|thx"
    r"|can you please|could you please|can you|could you|would you|will you|can u|could u|would u"
    r"|i need you to|i want you to|i would like you to|id like you to)(?![\w'])[\s,!.:;-]*)+",
    re.IGNORECASE)
_PLEASE_WORDS = r"(?:please|pls|plz|thanks|thank you|thank u|thx|ty|tysm|thanks a lot|thanks so much|thank you so much)"
# "say thank you at 5pm" keeps its words: after a verb of saying, they are the reminder's text.
_TRAILING_NOISE = re.compile(
    rf"(?<!\bsay)(?<!\bsaid)(?<!\bsend)(?<!\btext)(?<!\bwrite)(?:[\s,.!-]+{_PLEASE_WORDS})+[\s.!]*$",
    re.IGNORECASE)
_LEADING_PLEASE = re.compile(r"(?:please|pls|plz|kindly)(?![\w'])[\s,]*", re.IGNORECASE)


_NOISE_TAIL = 80  # characters: longer than any run of trailing polite words
_ASKING = re.compile(r"\b(?:you|u)\b", re.IGNORECASE)


def strip_noise(text: str) -> str:
    """Drop polite noise ("hey", "can you", "please", "thanks") from both ends; the rest keeps its case.

    After "can you ..." a final "?" ends the request, not the reminder's text.
    """
    leading = _LEADING_NOISE.match(text)
    if leading is not None:
        text = text[leading.end():]
        if _ASKING.search(leading.group(0)):
            text = text.rstrip().removesuffix("?")
    # Only the end can hold trailing noise; matching there alone keeps a long run of spaces from
    # costing the regex quadratic time.
    head, tail = text[:-_NOISE_TAIL], text[-_NOISE_TAIL:]
    return (head + _TRAILING_NOISE.sub("", tail if head else " " + tail)).strip()


def strip_leading_please(text: str) -> str:
    """Drop a leading "please" from a reminder's text ("at 5pm please call mom")."""
    match = _LEADING_PLEASE.match(text)
    return text[match.end():] if match else text
