"""An inbox processor in a process of its own, for the multi-process tests.

Usage: python -m tests.inbox_worker DATABASE_URL LEASE_SECONDS BATCH_SIZE
Prints "ready" once it is set up, waits for a line on stdin (so that a test can start several
workers together and set them going one by one), then handles stored inbound messages until none is
waiting (received or claimed by anyone) after a pause in its work; bounded to two minutes in all. Replies are queued, not sent.
"""

from __future__ import annotations

import sys
import time

from bot.conversation.inbox import InboxProcessor
from bot.service import database_unavailable
from bot.settings import load_settings
from bot.storage import inbox_queries
from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.timeutil import utc_now


def main(database_url: str, lease: str, batch_size: str) -> None:
    settings = load_settings(overrides={
        "DATABASE_URL": database_url, "TELNYX_PHONE_NUMBER": "+13125550100", "TELNYX_API_KEY": "KEY_WORKER",
        "INBOX_LEASE_SECONDS": lease, "INBOX_BATCH_SIZE": batch_size,
    })
    engine = make_engine(database_url)
    upgrade_database(engine)
    sessions = make_session_factory(engine)
    processor = InboxProcessor(sessions, settings, utc_now, on_handled=lambda _outcome: None,
                               is_outage=database_unavailable)
    print("ready", flush=True)
    sys.stdin.readline()

    def waiting() -> int:
        with sessions() as session:
            return inbox_queries.count_waiting(session)

    started = last_work = time.monotonic()
    while time.monotonic() - started < 120:
        if processor.tick():
            last_work = time.monotonic()
        elif time.monotonic() - last_work >= 0.2 and not waiting():
            break
        else:
            time.sleep(0.05)  # the idle poll: claims held by a killed worker come back after their lease
    engine.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:4])
