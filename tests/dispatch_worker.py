"""A dispatcher in a process of its own, for the multi-process tests.

Usage: python -m tests.dispatch_worker DATABASE_URL TELNYX_BASE_URL LEASE_SECONDS IDLE_SECONDS [RATE [REDIS_URL]]
Ticks until nothing is pending in the database and nothing has been due for IDLE_SECONDS
(bounded to two minutes in all). Waiting for the pending rows too means a worker that starts
quickly does not give up before rows inserted for the future come due. RATE is the account's
OUTBOUND_RATE_PER_SECOND (default 0, no limit), shared through REDIS_URL when given, else the database.
The provider is Telnyx, or the one named by DISPATCH_WORKER_PROVIDER (twilio); the base URL is its fake's.
"""

from __future__ import annotations

import os
import sys
import time

from sqlalchemy import func, select

from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.delivery.dispatcher import Dispatcher
from bot.storage.models import PENDING, Reminder
from bot.settings import load_settings
from bot.service import make_transport
from tests.providers import sending_settings


def main(database_url: str, base_url: str, lease: str, idle: str, rate: str = "0", redis_url: str = "") -> None:
    # The send timeout must fit the lease several times over (see Dispatcher.renew_below).
    send_timeout = min(5.0, float(lease) / 4)
    provider = os.environ.get("DISPATCH_WORKER_PROVIDER", "telnyx")
    settings = load_settings(overrides={
        "DATABASE_URL": database_url, **sending_settings(provider, base_url),
        "LEASE_SECONDS": lease, "SEND_TIMEOUT_SECONDS": send_timeout, "OUTBOUND_RATE_PER_SECOND": rate,
        "REDIS_URL": redis_url,
        "DISPATCH_BATCH_SIZE": 20, "DISPATCH_CONCURRENCY": 4, "RETRY_BASE_SECONDS": 0.05,
        "RETRY_MAX_SECONDS": 0.2,
    })
    engine = make_engine(database_url)
    upgrade_database(engine)
    sessions = make_session_factory(engine)
    transport = make_transport(settings)
    dispatcher = Dispatcher(sessions, transport, settings)
    # Ready once the SDK has loaded (in the background, seconds on a busy machine): sends that held
    # their slots while it loaded would otherwise all go out together when it is done.
    loaded_by = time.monotonic() + 60
    while not transport.ready and time.monotonic() < loaded_by:
        time.sleep(0.05)
    print("ready", flush=True)

    def pending() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).where(Reminder.status.in_(PENDING))) or 0

    started = last_work = time.monotonic()
    while time.monotonic() - started < 120:
        if dispatcher.tick():
            last_work = time.monotonic()
        elif time.monotonic() - last_work >= float(idle) and not pending():
            break
        else:
            dispatcher.stopping.wait(0.05)  # the idle poll between ticks (ends early if stop is requested)
    dispatcher.stop()
    engine.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:7])
