"""Command line: ``python -m bot parse ...``, ``python -m bot chat`` and ``python -m bot migrate``.

This is an edge of the system, so it may read the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import uuid
from datetime import datetime
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def _parse_command(args: argparse.Namespace) -> int:
    from bot.commands import to_json
    from bot.parser import parse

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
    for line in lines:
        print(json.dumps(to_json(parse(line, now, zone, args.sender)), ensure_ascii=False))
    return 0


def _chat_command(args: argparse.Namespace) -> int:
    from dotenv import load_dotenv

    from bot.inbound import InboundSms
    from bot.logs import configure_logging
    from bot.phones import normalize_number
    from bot.service import Bot
    from bot.settings import load_settings
    from bot.transport import ConsoleTransport, SentMessage

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

    from bot.db import make_engine, upgrade_database
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
    parse_parser.set_defaults(run=_parse_command)

    chat_parser = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat_parser.add_argument("--number", default="+12125550147", help="the number you text from")
    chat_parser.add_argument("--db", help="DATABASE_URL to use (default: from the environment)")
    chat_parser.set_defaults(run=_chat_command)

    migrate_parser = commands.add_parser("migrate", help="upgrade the database schema (start-up does it too)")
    migrate_parser.add_argument("--db", help="DATABASE_URL to upgrade (default: from the environment)")
    migrate_parser.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate_parser.set_defaults(run=_migrate_command)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
