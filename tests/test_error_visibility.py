"""Errors are visible: parser bugs and database outages are logged (numbers masked) and counted."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime

import pytest

from bot.language.commands import Error, to_json
from bot.language.parser import parse
from bot.logs import JsonFormatter, MaskNumbersFilter, TextFormatter, configure_logging
from bot.phones import mask_numbers_in

NOW = datetime.fromisoformat("2026-06-10T10:30:00-04:00")
NUMBER = "+1 212 555 0147"
NUMBER_FORMS = ("+1 212 555 0147", "+12125550147", "212 555 0147", "2125550147")


def test_a_parser_failure_is_logged_at_error_without_the_text(caplog):
    caplog.set_level(logging.INFO)
    text = f"remind me in 10 minutes: call {NUMBER} about the biopsy"
    command = parse(text, NOW, "Not/AZone", "+12125550147")  # a zone tzdata lacks makes read_command raise
    assert isinstance(command, Error) and command.internal
    assert "Sorry" in command.error
    [record] = [r for r in caplog.records if r.name == "bot.language.parser"]
    assert record.levelno == logging.ERROR
    logged = record.getMessage()
    assert f"{len(text)}-character message" in logged and "ZoneInfoNotFoundError" in logged
    assert "Traceback (most recent call last)" in logged and "in read_turn" in logged
    for private in (*NUMBER_FORMS, "0147", "about the biopsy"):
        assert private not in logged


def test_an_ordinary_error_is_not_internal_and_logs_nothing(caplog):
    caplog.set_level(logging.DEBUG)
    command = parse("hello there", NOW, "America/New_York", "+12125550147")
    assert isinstance(command, Error) and not command.internal
    assert not [r for r in caplog.records if r.name == "bot.language.parser"]


def test_the_internal_marker_is_not_part_of_the_json_contract():
    assert to_json(Error("nope", internal=True)) == {"command": "error", "error": "nope"}


def _record_with_exception(message: str, *args: object) -> logging.LogRecord:
    try:
        raise ValueError(f"Telnyx said: the number {NUMBER} is not reachable")
    except ValueError:
        record = logging.LogRecord("bot.test", logging.ERROR, __file__, 1, message, args, sys.exc_info())
    return record


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()], ids=["text", "json"])
def test_the_log_filter_masks_numbers_in_the_message_and_the_exception(formatter):
    record = _record_with_exception("send to %s failed: %s", NUMBER, "Telnyx 422 40310: bad 'to' +1-212-555-0147")
    assert MaskNumbersFilter().filter(record)
    line = formatter.format(record)
    if isinstance(formatter, JsonFormatter):
        entry = json.loads(line)
        line = entry["message"] + "\n" + entry["exception"]
    for form in (*NUMBER_FORMS, "212-555-0147"):
        assert form not in line
    assert line.count("+*******0147") == 3  # two in the message, one in the exception text
    assert "Telnyx 422 40310" in line  # status and error codes stay readable
    assert "Traceback (most recent call last)" in line and "ValueError" in line


def test_our_log_handler_masks_every_record():
    configure_logging()
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "_bot_handler", False)]
    assert any(isinstance(f, MaskNumbersFilter) for f in handler.filters)
    record = _record_with_exception("inbound from %s", NUMBER)
    assert handler.filter(record)
    assert "0147" in handler.format(record) and NUMBER not in handler.format(record)


@pytest.mark.parametrize("text, masked", [
    ("call +1 (212) 555-0147!", "call +*******0147!"),
    ("212 555 0147 and 646.555.0199", "******0147 and ******0199"),
    ("uk 020 7946 0958 or 07700900123", "uk *******0958 or *******0123"),
    ("Telnyx 422 40310: opted out", "Telnyx 422 40310: opted out"),
    ("at 2026-06-10 10:30:00 from 127.0.0.1:5432", "at 2026-06-10 10:30:00 from 127.0.0.1:5432"),
    ("already +*******0147", "already +*******0147"),
], ids=["us-formatted", "national", "other-country", "status-code", "date-and-address", "masked-twice"])
def test_mask_numbers_in_masks_numbers_and_leaves_other_digits(text, masked):
    assert mask_numbers_in(text) == masked


def test_mask_numbers_in_reads_national_numbers_in_the_given_region():
    assert mask_numbers_in("llama al 612 34 56 78", region="ES") == "llama al *****5678"


def test_database_ok_logs_once_when_the_database_goes_and_once_when_it_is_back(app_factory, tmp_path, caplog):
    directory = tmp_path / "data"
    directory.mkdir()
    app = app_factory(DATABASE_URL=f"sqlite:///{directory / 'bot.db'}", RUN_DISPATCHER=False)
    bot, client = app.extensions["bot"], app.test_client()
    caplog.set_level(logging.INFO, logger="bot.service")

    def probe() -> list[int]:
        return [client.get("/readyz").status_code for _ in range(3)]

    assert probe() == [200] * 3
    directory.rename(tmp_path / "away")  # SQLite cannot open a file in a folder that is not there
    bot.engine.dispose()  # pooled connections keep the moved file open
    assert probe() == [503] * 3
    (tmp_path / "away").rename(directory)
    assert probe() == [200] * 3
    logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "bot.service"]
    gone = "the database does not answer: (sqlite3.OperationalError) unable to open database file"
    assert logged == [(logging.ERROR, gone), (logging.WARNING, "the database answers again")]


def test_a_parser_failure_on_an_inbound_sms_is_answered_logged_and_counted(app, client, signer, fake_telnyx, caplog):
    from bot.storage.models import Contact
    from tests.conftest import ALICE, nth_message_to, send_sms

    # A zone stored before a tzdata upgrade dropped it: the parser fails on everything Alice sends.
    with app.extensions["bot"].session_factory() as session, session.begin():
        session.add(Contact(number=ALICE, timezone="Atlantis/Lost"))
    caplog.set_level(logging.INFO)
    send_sms(client, signer, f"remind me in 1 hour: call {NUMBER}")
    assert "Sorry, I couldn't read that" in nth_message_to(fake_telnyx, ALICE).text
    assert [r.levelno for r in caplog.records if r.name == "bot.language.parser"] == [logging.ERROR]
    assert "0147" not in "\n".join(r.getMessage() for r in caplog.records if r.name == "bot.language.parser")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "bot_parser_errors_total 1.0" in metrics
    assert 'bot_inbound_messages_total{command="error",outcome="handled"} 1.0' in metrics
