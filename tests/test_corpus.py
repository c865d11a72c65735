"""Issue 14's corpus (tests/data/corpus/*.json) against the parser: no wrong answer, 95% understood exactly.

Each case is judged exact, wrong or not understood. Wrong is the outcome that hurts: a reminder
confirmed with another time, text, recipient or repeat than the person meant, a reminder set where
the bot should have asked, or another command than the one sent. A refusal, a question or silence
where something else was meant is only "not understood". ``pytest -s`` prints the rates per category
and per zone and every case that was not exact.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from bot.language import parser
from bot.language.commands import (Ask, Cancel, Done, Edit, Error, Help, Ignore, Move, Remind, SetTimezone, Snooze,
                                   Web, command_name)

CORPUS = Path(__file__).parent / "data" / "corpus"
MIN_CASES = 800
MIN_EXACT_RATE = 0.95
EXACT, WRONG, NOT_UNDERSTOOD = "exact", "wrong", "not understood"
ZONE_NAMES = {"America/New_York": "ny", "America/Los_Angeles": "la", "Europe/London": "london",
              "Europe/Paris": "paris", "Australia/Sydney": "sydney"}
COUNTRY_CODES = {"America/New_York": "+1", "America/Los_Angeles": "+1", "Europe/London": "+44",
                 "Europe/Paris": "+33", "Australia/Sydney": "+61"}
# Answers that commit to nothing: where another command was meant they are "not understood", never wrong.
NON_COMMITTAL = (Error, Ask, Help, Ignore)
OCCURRENCES = 8  # a repeat rule is compared by this many occurrences, so equivalent RRULE spellings agree
QUOTES = "\"'\u201c\u201d\u2018\u2019"
# The command names of the JSON contract (bot.language.commands.command_name).
COMMAND_NAMES = frozenset({"remind", "list", "cancel", "help", "timezone", "stop", "start", "yes", "snooze", "move",
                           "edit", "done", "delete_all", "more", "web", "ignore", "ask", "error"})


@dataclass(frozen=True)
class Outcome:
    """How the parser did on one case."""

    case: dict[str, Any]
    category: str
    verdict: str
    got: str  # what came out, in a line
    internal: bool = False  # the parser raised: parse() turned a bug into a polite Error


def load_corpus() -> dict[str, list[dict[str, Any]]]:
    """Return every category's cases, by file name."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8"))["cases"]
            for path in sorted(CORPUS.glob("*.json"))}


CORPUS_CASES = load_corpus()
ALL_CASES = [(category, case) for category, cases in CORPUS_CASES.items() for case in cases]


def _now(case: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(case["now"])


def _wall(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")


def _normalized(text: str) -> str:
    """Trim spaces, surrounding quotes and trailing '.' or '!'; case and everything else count."""
    previous = None
    while text != previous:
        previous = text
        text = text.strip().strip(QUOTES).rstrip(".!")
    return text


def _recipient(expect: dict[str, Any], case: dict[str, Any]) -> str:
    to = expect.get("to", "me")
    return case["sender"] if to == "me" else to


def _occurrences(rule: str, start: datetime) -> list[datetime] | None:
    try:
        return list(islice(rrulestr(rule, dtstart=start), OCCURRENCES))
    except (ValueError, TypeError):
        return None


def _same_rule(expected: str | None, expected_start: str, got: str | None, got_start: datetime) -> bool:
    """Say whether two rules fire at the same wall times (FREQ=YEARLY from Jan 25 is BYMONTH=1;BYMONTHDAY=25)."""
    if expected is None or got is None:
        return expected is None and got is None
    wanted = _occurrences(expected, datetime.fromisoformat(expected_start))
    return wanted is not None and wanted == _occurrences(got, got_start.replace(second=0, microsecond=0))


def _remind_matches(command: Remind, expect: dict[str, Any], case: dict[str, Any]) -> bool:
    zone = expect.get("local_zone", case["zone"])
    start = command.anchor or command.send_at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return (_wall(command.send_at, zone) == expect["local"]
            and _normalized(command.text) == _normalized(expect["text"])
            and command.to == _recipient(expect, case)
            and _same_rule(expect.get("recurrence"), expect["local"], command.recurrence, start))


def _question_matches(command: Ask, expect: dict[str, Any], case: dict[str, Any]) -> bool:
    """Say whether a question of the expected kind would lead to what was meant once answered."""
    options = command.question.options
    zone = case["zone"]
    if expect["kind"] == "which_time":
        return (sorted(_wall(option.send_at, zone) for option in options) == sorted(expect["options"])
                and all(_normalized(option.text) == _normalized(expect["text"]) for option in options)
                and all(option.to == case["sender"] for option in options))
    if expect["kind"] == "what_text":
        return "local" not in expect or (len(options) == 1 and _wall(options[0].send_at, zone) == expect["local"])
    return True


def _offers(command: Ask, expect: dict[str, Any], case: dict[str, Any]) -> bool:
    """Say whether a which_time question offers the reminder that was meant."""
    return str(command.question.kind) == "which_time" and any(
        isinstance(option, Remind) and _remind_matches(option, expect, case) for option in command.question.options)


def _fields_match(command: Any, expect: dict[str, Any], case: dict[str, Any]) -> bool:
    """Compare the fields a non-reminder command carries."""
    zone = case["zone"]
    if isinstance(command, Snooze):
        return _wall(command.send_at, zone) == expect["local"] and command.id == expect.get("id")
    if isinstance(command, Move):
        start = command.anchor or command.send_at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        return (command.id == expect["id"] and _wall(command.send_at, zone) == expect["local"]
                and _same_rule(expect.get("recurrence"), expect["local"], command.recurrence, start))
    if isinstance(command, Edit):
        return command.id == expect["id"] and _normalized(command.text) == _normalized(expect["text"])
    if isinstance(command, Cancel):
        return command.id == expect["id"]
    if isinstance(command, Done):
        return command.id == expect.get("id")
    if isinstance(command, Web):
        return command.off == expect.get("off", False)
    if isinstance(command, SetTimezone):
        return command.tz == expect["tz"]
    return True


def judge(command: Any, case: dict[str, Any]) -> str:
    """Classify what the parser answered: exact, wrong or not understood."""
    expect = case["expect"]
    wanted = expect["command"]
    got = command_name(command)
    if wanted == "remind":
        if isinstance(command, Remind):
            return EXACT if _remind_matches(command, expect, case) else WRONG
        if expect.get("ask_ok") and isinstance(command, Ask) and _offers(command, expect, case):
            return EXACT  # "tomorrow at 3": 3 PM is likely, but asking is right too
        return NOT_UNDERSTOOD if isinstance(command, NON_COMMITTAL) else WRONG
    if wanted == "ask":
        if isinstance(command, Ask):
            if "kind" not in expect:
                return EXACT
            if str(command.question.kind) != expect["kind"]:
                return NOT_UNDERSTOOD
            return EXACT if _question_matches(command, expect, case) else WRONG
        if isinstance(command, Error):
            return EXACT if "kind" not in expect else NOT_UNDERSTOOD
        return NOT_UNDERSTOOD if isinstance(command, NON_COMMITTAL) else WRONG
    if got == wanted:
        return EXACT if _fields_match(command, expect, case) else WRONG
    return NOT_UNDERSTOOD if isinstance(command, NON_COMMITTAL) else WRONG


def describe(command: Any, case: dict[str, Any]) -> str:
    """Say in one line what the parser answered."""
    zone = case["zone"]
    name = command_name(command)
    if isinstance(command, Remind):
        to = "me" if command.to == case["sender"] else command.to
        zone_name = command.send_at.tzinfo.key if isinstance(command.send_at.tzinfo, ZoneInfo) else zone
        rule = f" {command.recurrence}" if command.recurrence else ""
        return f"remind {_wall(command.send_at, zone_name)} ({zone_name}) {command.text!r} to {to}{rule}"
    if isinstance(command, Ask):
        options = ", ".join(f"{_wall(option.send_at, zone)} {option.text!r}" for option in command.question.options)
        return f"ask {command.question.kind} [{options}]"
    if isinstance(command, Error):
        return f"error{' (internal)' if command.internal else ''}: {command.error[:90]}"
    if isinstance(command, (Snooze, Move)):
        return f"{name} {getattr(command, 'id', None)} {_wall(command.send_at, zone)}"
    fields = vars(command)
    return f"{name} {fields}" if fields else name


@cache
def outcomes() -> tuple[Outcome, ...]:
    """Run every case through parse() once."""
    found = []
    for category, case in ALL_CASES:
        command = parser.parse(case["text"], _now(case), case["zone"], case["sender"])
        found.append(Outcome(case, category, judge(command, case), describe(command, case),
                             isinstance(command, Error) and command.internal))
    return tuple(found)


def _rate_table(title: str, groups: dict[str, list[Outcome]]) -> list[str]:
    lines = [f"{title:<18} {'cases':>5} {'exact':>6} {'wrong':>6} {'not':>5} {'rate':>7}"]
    for name, group in groups.items():
        counts = Counter(outcome.verdict for outcome in group)
        lines.append(f"{name:<18} {len(group):>5} {counts[EXACT]:>6} {counts[WRONG]:>6} "
                     f"{counts[NOT_UNDERSTOOD]:>5} {counts[EXACT] / len(group):>7.1%}")
    return lines


def report(found: tuple[Outcome, ...]) -> str:
    """Render the rates per category and per zone and every case that was not exact."""
    by_category: dict[str, list[Outcome]] = defaultdict(list)
    by_zone: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in found:
        by_category[outcome.category].append(outcome)
        by_zone[ZONE_NAMES[outcome.case["zone"]]].append(outcome)
    lines = _rate_table("category", dict(by_category)) + [""] + _rate_table("zone", dict(by_zone))
    lines += [""] + _rate_table("all", {"all": list(found)})
    for verdict in (WRONG, NOT_UNDERSTOOD):
        misses = [outcome for outcome in found if outcome.verdict == verdict]
        lines += ["", f"{verdict} ({len(misses)}):"]
        lines += [f"  {outcome.case['id']}: {outcome.case['text']!r}\n"
                  f"      expected {json.dumps(outcome.case['expect'], ensure_ascii=False)}\n"
                  f"      got      {outcome.got}" for outcome in misses]
    return "\n".join(lines)


# --- the corpus itself ---------------------------------------------------------------------------

def test_corpus_is_big_and_every_category_covers_every_zone() -> None:
    assert len(ALL_CASES) >= MIN_CASES
    for category, cases in CORPUS_CASES.items():
        assert {case["zone"] for case in cases} == set(ZONE_NAMES), category
    ids = [case["id"] for _, case in ALL_CASES]
    assert len(set(ids)) == len(ids), [id_ for id_, count in Counter(ids).items() if count > 1]


def _form_problems(category: str, case: dict[str, Any]) -> list[str]:
    """Say what is wrong with how a case is written, if anything."""
    zone = case["zone"]
    problems = []
    if not re.fullmatch(rf"{category.replace('_', '-')}-[a-z0-9-]+-{ZONE_NAMES[zone]}-[0-9]+", case["id"]):
        problems.append("id is not category-variant-zone-n")
    now = _now(case)
    # The offset written in `now` must be the zone's own at that instant (DST weeks are easy to get wrong).
    if now.utcoffset() != now.astimezone(ZoneInfo(zone)).utcoffset():
        problems.append("now's offset is not the zone's")
    if not (case["sender"].startswith(COUNTRY_CODES[zone]) and case["sender"][1:].isdigit()):
        problems.append("sender is not an E.164 number of the zone's country")
    expect = case["expect"]
    if expect["command"] not in COMMAND_NAMES:
        problems.append("unknown command")
    if "local" in expect:
        local = datetime.fromisoformat(expect["local"]).replace(tzinfo=ZoneInfo(expect.get("local_zone", zone)))
        if local <= now:
            problems.append("expected time is not after now")
    if expect["command"] == "remind" and not (expect["text"] and re.fullmatch(r"me|\+[0-9]+", expect.get("to", "me"))):
        problems.append("a reminder needs text and 'me' or an E.164 recipient")
    if expect.get("kind") == "which_time" and len(expect["options"]) != 2:
        problems.append("which_time has two options")
    return [f"{case['id']}: {problem}" for problem in problems]


def test_every_case_is_well_formed() -> None:
    problems = [problem for category, case in ALL_CASES for problem in _form_problems(category, case)]
    assert not problems, "\n".join(problems)


def test_the_judge_tells_wrong_from_not_understood() -> None:
    case = {"id": "order-text-first-ny-0", "text": "call mom at 5pm", "now": "2026-06-10T10:30:00-04:00",
            "zone": "America/New_York", "sender": "+12125550147",
            "expect": {"command": "remind", "local": "2026-06-10T17:00", "text": "call mom", "to": "me"}}
    zone = ZoneInfo("America/New_York")

    def remind(hour: int, text: str = "call mom", rule: str | None = None) -> Remind:
        return Remind("+12125550147", datetime(2026, 6, 10, hour, tzinfo=zone), text, rule)

    assert judge(remind(17, "Call mom."), case) == WRONG  # case counts
    assert judge(remind(17, '"call mom!"'), case) == EXACT  # quotes and a trailing "!" do not
    assert [judge(command, case) for command in (remind(5), remind(17, "mom"), remind(17, rule="FREQ=DAILY"),
                                                 Cancel("k3x9"))] == [WRONG] * 4
    assert [judge(command, case) for command in (Error("?"), Help(), Ignore())] == [NOT_UNDERSTOOD] * 3
    yearly = {**case, "expect": {**case["expect"], "recurrence": "FREQ=YEARLY;BYMONTH=6;BYMONTHDAY=10"}}
    assert judge(remind(17, rule="FREQ=YEARLY"), yearly) == EXACT  # the same dates, spelled another way
    assert judge(remind(17, rule="FREQ=MONTHLY"), yearly) == WRONG


# --- the parser against it -------------------------------------------------------------------------

def test_no_case_crashes_the_parser() -> None:
    crashed = [outcome.case["id"] for outcome in outcomes() if outcome.internal]
    assert not crashed


@pytest.mark.parametrize("category", sorted(CORPUS_CASES))
def test_category_has_no_wrong_answer(category: str) -> None:
    wrong = [f"{outcome.case['id']}: {outcome.case['text']!r} -> {outcome.got}; "
             f"expected {json.dumps(outcome.case['expect'], ensure_ascii=False)}"
             for outcome in outcomes() if outcome.category == category and outcome.verdict == WRONG]
    assert not wrong, "\n".join(wrong)


def test_exact_rate_is_at_least_95_percent() -> None:
    found = outcomes()
    print("\n" + report(found))
    exact = sum(outcome.verdict == EXACT for outcome in found)
    assert exact / len(found) >= MIN_EXACT_RATE, f"{exact}/{len(found)} exact"


def test_converse_without_a_question_is_parse() -> None:
    converse = getattr(parser, "converse", None)
    assert converse is not None, "bot.language.parser.converse(text, now, zone, sender, pending) is missing"
    differing = []
    for _, case in ALL_CASES:
        arguments = (case["text"], _now(case), case["zone"], case["sender"])
        command = parser.parse(*arguments)
        turn = converse(*arguments, None)
        pending = command.question if isinstance(command, Ask) else None
        if turn.command != command or turn.pending != pending:
            differing.append(f"{case['id']}: parse {describe(command, case)}; converse {describe(turn.command, case)}"
                             f", pending {turn.pending}")
    assert not differing, "\n".join(differing)
