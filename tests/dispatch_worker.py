"""A dispatcher in a process of its own, for the multi-process tests.

Usage: python -m tests.dispatch_worker DATABASE_URL TELNYX_BASE_URL LEASE_SECONDS IDLE_SECONDS
Ticks until nothing has been due for IDLE_SECONDS (bounded to two minutes in all).
"""

from __future__ import annotations

import sys
import time

from bot.db import make_engine, make_session_factory, upgrade_database
from bot.dispatcher import Dispatcher
from bot.settings import load_settings
from bot.transport import TelnyxTransport


def main(database_url: str, base_url: str, lease: str, idle: str) -> None:
    settings = load_settings(overrides={
        "DATABASE_URL": database_url, "TELNYX_API_KEY": "KEY_WORKER", "TELNYX_PHONE_NUMBER": "+13125550100",
        "LEASE_SECONDS": lease, "OUTBOUND_RATE_PER_SECOND": 0, "DISPATCH_BATCH_SIZE": 20,
        "DISPATCH_CONCURRENCY": 4, "RETRY_BASE_SECONDS": 0.05, "RETRY_MAX_SECONDS": 0.2,
    })
    engine = make_engine(database_url)
    upgrade_database(engine)
    dispatcher = Dispatcher(make_session_factory(engine), TelnyxTransport("KEY_WORKER", base_url, 5.0), settings)
    print("ready", flush=True)
    started = last_work = time.monotonic()
    while time.monotonic() - last_work < float(idle) and time.monotonic() - started < 120:
        if dispatcher.tick():
            last_work = time.monotonic()
        else:
            time.sleep(0.05)
    dispatcher.stop()


if __name__ == "__main__":
    main(*sys.argv[1:5])
