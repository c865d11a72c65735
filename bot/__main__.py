"""Command line: ``python -m bot parse ...``, ``preview ...``, ``chat`` and ``migrate``.

This is an edge of the system, so it may read the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import uuid
from datetime import datetime, timedelta
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def _parse_command(args: argparse.Namespace) -> int:
    from bot.language.commands import to_json
    from bot.language.parser import parse

    try:
        zone = args.tz or os.environ.get("BOT_TIMEZONE") or "UTC"
        ZoneInfo(zone)
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(ZoneInfo(zone))
        if now.tzinfo is None:
            now = now.replace(tzinfo=ZoneInfo(zone))
    except (ValueError, ZoneInfoNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lines = [args.text] if args.text is not None else (line.rstrip("\n") for line in sys.stdin)
    if args.conversation:
        return _converse_lines(lines, now, zone, args.sender)
    for line in lines:
        print(json.dumps(to_json(parse(line, now, zone, args.sender)), ensure_ascii=False))
    return 0


def _converse_lines(lines: Iterable[str], now: datetime, zone: str, sender: str) -> int:
    """Read the lines as one conversation: each line answers the question the one before asked."""
    from bot.language.commands import to_json
    from bot.language.parser import converse

    pending = None
    for line in lines:
        turn = converse(line, now, zone, sender, pending)
        pending = turn.pending
        body = {**to_json(turn.command), "pending": str(pending.kind) if pending is not None else None}
        print(json.dumps(body, ensure_ascii=False))
    return 0


def _preview_command(args: argparse.Namespace) -> int:
    """Print the next send times of a repeating reminder, computed as the dispatcher computes them."""
    try:
        times = _preview(args)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps([moment.isoformat() for moment in times]))
    return 0


def _preview(args: argparse.Namespace) -> list[datetime]:
    from bot.language.commands import Error, Remind
    from bot.language.parser import parse
    from bot.series import Series, anchor_of, next_after, upcoming

    zone = args.tz or os.environ.get("BOT_TIMEZONE") or "UTC"
    try:
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(f"unknown time zone {zone!r}") from None
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(ZoneInfo(zone))
    if now.tzinfo is None:
        now = now.replace(tzinfo=ZoneInfo(zone))
    if args.count < 1:
        raise ValueError(f"--count must be at least 1, not {args.count}")
    text = " ".join(args.text.split())
    if text.upper().startswith(("FREQ=", "RRULE:")):
        start = datetime.fromisoformat(args.start) if args.start else now
        anchor = anchor_of(start, zone) if start.tzinfo is not None else start
        series = Series(text, anchor, zone)
        try:
            first = next_after(series, now - timedelta(microseconds=1))  # the anchor itself counts if not past
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"unreadable rule {text!r} ({exc})") from None
        return [] if first is None else [first, *upcoming(series, first, args.count - 1)]
    message = text if text.lower().startswith("remind") else f"remind me {text}: preview"
    command = parse(message, now, zone, args.sender)
    if isinstance(command, Error):
        raise ValueError(command.error)
    if not isinstance(command, Remind):
        raise ValueError(f"{text!r} is not a reminder")
    if command.recurrence is None:
        return [command.send_at]
    series_zone = command.send_at.tzinfo.key if isinstance(command.send_at.tzinfo, ZoneInfo) else zone
    series = Series(command.recurrence, command.anchor or anchor_of(command.send_at, series_zone), series_zone)
    return [command.send_at, *upcoming(series, command.send_at, args.count - 1)]


def _chat_command(args: argparse.Namespace) -> int:
    from dotenv import load_dotenv

    from bot.conversation.inbound import InboundSms
    from bot.logs import configure_logging
    from bot.phones import normalize_number
    from bot.service import Bot
    from bot.settings import load_settings
    from bot.delivery.transport import ConsoleTransport, SentMessage

    load_dotenv()
    sender = normalize_number(args.number)
    if sender is None:
        print(f"error: {args.number!r} is not a phone number", file=sys.stderr)
        return 2
    overrides = {"DATABASE_URL": args.db} if args.db else {}
    settings = load_settings(os.environ, overrides)
    configure_logging(level="WARNING")
    replied = threading.Event()

    def show(message: SentMessage) -> None:
        marker = "bot" if message.to == sender else f"bot -> {message.to}"
        print(f"\n[{marker}] {message.text}", flush=True)
        if message.to == sender:
            replied.set()

    bot = Bot(settings, transport=ConsoleTransport(on_send=show))
    bot.start()
    print(f"Chatting as {sender} (database {settings.database_url}). Try: remind me in 1 minute: stretch")
    print("Ctrl-D to quit.")
    try:
        while True:
            try:
                text = input("you> ")
            except EOFError:
                break
            if not text.strip():
                continue
            replied.clear()
            outcome = bot.handle_sms(InboundSms(message_id=f"chat-{uuid.uuid4()}", sender=sender, text=text))
            if outcome.reply is None:
                print(f"[no reply: {outcome.reason or outcome.status}]")
            else:
                replied.wait(timeout=10)
    finally:
        bot.shutdown()
    return 0


def _migrate_command(args: argparse.Namespace) -> int:
    from dotenv import load_dotenv
    from sqlalchemy import text

    from bot.storage.db import make_engine, upgrade_database
    from bot.settings import load_settings

    load_dotenv()
    url = args.db or load_settings(os.environ).database_url
    engine = make_engine(url)
    upgrade_database(engine, args.revision)
    with engine.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    print(f"database at revision {revision}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="SMS reminder bot tools")
    commands = parser.add_subparsers(dest="command", required=True)

    parse_parser = commands.add_parser("parse", help="print the parsed command as JSON")
    parse_parser.add_argument("text", nargs="?", help="the message (default: one per line on stdin)")
    parse_parser.add_argument("--now", help="ISO 8601 instant to read times against (default: now)")
    parse_parser.add_argument("--tz", help="the sender's IANA zone (default: BOT_TIMEZONE or UTC)")
    parse_parser.add_argument("--sender", default="+12125550147", help="the sender's E.164 number")
    parse_parser.add_argument("--conversation", action="store_true",
                              help="read the lines as one conversation: a line may answer the question before it")
    parse_parser.set_defaults(run=_parse_command)

    preview_parser = commands.add_parser(
        "preview", help="print a repeating reminder's next send times as JSON",
        description='The argument is a message ("remind me every day at 2:30am: x"), a when-phrase '
                    '("every month on the 31st") or an RRULE ("FREQ=MONTHLY;BYMONTHDAY=31").')
    preview_parser.add_argument("text", help="a message, a when-phrase or an RRULE (FREQ=... or RRULE:...)")
    preview_parser.add_argument("--tz", help="the sender's IANA zone (default: BOT_TIMEZONE or UTC)")
    preview_parser.add_argument("--now", help="ISO 8601 instant to read times against (default: now)")
    preview_parser.add_argument("--count", type=int, default=10, help="how many send times (default: 10)")
    preview_parser.add_argument("--start", help="an RRULE's first occurrence, ISO local time (default: --now)")
    preview_parser.add_argument("--sender", default="+12125550147", help="the sender's E.164 number")
    preview_parser.set_defaults(run=_preview_command)

    chat_parser = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat_parser.add_argument("--number", default="+12125550147", help="the number you text from")
    chat_parser.add_argument("--db", help="DATABASE_URL to use (default: from the environment)")
    chat_parser.set_defaults(run=_chat_command)

    migrate_parser = commands.add_parser("migrate", help="upgrade the database schema (start-up does it too)")
    migrate_parser.add_argument("--db", help="DATABASE_URL to upgrade (default: from the environment)")
    migrate_parser.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate_parser.set_defaults(run=_migrate_command)

    args = parser.parse_args(argv)
    _check_settings(args)
    return args.run(args)


def _check_settings(args: argparse.Namespace) -> None:
    """Check every setting before a command runs: a bad one is one line on stderr and exit status 2.

    ``chat`` and ``migrate`` read ``.env`` and also need the database (and Redis) to answer; ``parse``
    and ``preview`` use only ``BOT_TIMEZONE`` (an alias such as "eastern" resolved) as their default zone.
    """
    from bot.config_check import settings_or_exit

    uses_database = args.command in ("chat", "migrate")
    if uses_database:
        from dotenv import load_dotenv

        load_dotenv()
    overrides = {"DATABASE_URL": args.db} if getattr(args, "db", None) else None
    settings = settings_or_exit(os.environ, overrides, reachable=uses_database)
    if hasattr(args, "tz") and not args.tz:
        args.tz = settings.bot_timezone


if __name__ == "__main__":
    sys.exit(main())
