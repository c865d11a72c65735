"""The running bot: database, transport, dispatcher and clock, built from settings.

Both entry points (the Flask app and ``python -m bot chat``) build one ``Bot``
and call its methods; nothing here knows about HTTP.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine, func, select, text

from bot import store
from bot.clock import DispatchClock
from bot.db import make_engine, make_session_factory, upgrade_database
from bot.dispatcher import Dispatcher
from bot.inbound import InboundOutcome, InboundSms, handle_inbound
from bot.metrics import Metrics, MeteredTransport
from bot.models import Kind, Reminder, Status
from bot.settings import Settings
from bot.timeutil import Clock, utc_now
from bot.transport import ConsoleTransport, TelnyxTransport, Transport

log = logging.getLogger(__name__)

# Telnyx's message webhooks report the recipient's status; these are final.
_FINAL_DELIVERY = {"delivered": Status.DELIVERED, "delivery_failed": Status.FAILED,
                   "sending_failed": Status.FAILED}
# Webhooks arrive out of order: never let an earlier stage overwrite a later one.
_DELIVERY_STAGE = {"queued": 0, "sending": 1, "sent": 2, "delivery_unconfirmed": 3, "delivered": 4,
                   "sending_failed": 4, "delivery_failed": 4}


def make_transport(settings: Settings) -> Transport:
    """Return the Telnyx transport when credentials are set, else the console."""
    if settings.telnyx_enabled:
        assert settings.telnyx_api_key is not None
        return TelnyxTransport(settings.telnyx_api_key, settings.telnyx_base_url, settings.send_timeout_seconds)
    return ConsoleTransport()


class Bot:
    """One instance of the bot; several may share a database."""

    def __init__(self, settings: Settings, transport: Transport | None = None, clock: Clock = utc_now,
                 engine: Engine | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.engine = engine or make_engine(settings.database_url)
        upgrade_database(self.engine)
        self.session_factory = make_session_factory(self.engine)
        self.metrics = Metrics()
        self.metrics.track_pending(self.count_pending)
        self.transport = MeteredTransport(transport or make_transport(settings), self.metrics)
        self.dispatcher = Dispatcher(self.session_factory, self.transport, settings, clock, self.metrics)
        self.dispatch_clock = DispatchClock(self.dispatcher, settings.dispatch_interval_seconds)

    def start(self) -> None:
        """Start delivering due messages in the background."""
        if not self.settings.telnyx_enabled:
            log.warning("No TELNYX_API_KEY/TELNYX_PHONE_NUMBER set: outbound messages go to the console log.")
        self.dispatch_clock.start()

    def shutdown(self) -> None:
        """Stop claiming, finish in-flight sends and release the rest."""
        self.dispatch_clock.shutdown()

    def handle_sms(self, message: InboundSms) -> InboundOutcome:
        """Handle an inbound SMS and wake the dispatcher to send the reply."""
        outcome = handle_inbound(message, session_factory=self.session_factory, settings=self.settings,
                                 now=self.clock())
        self.metrics.inbound.labels(command=outcome.command or "none", outcome=outcome.status).inc()
        if outcome.created:
            self.metrics.created.labels(source="sms").inc(len(outcome.created))
        if outcome.reply is not None:
            self.wake()
        return outcome

    def wake(self) -> None:
        """Send anything due now without waiting for the next poll."""
        if self.dispatch_clock.running:
            self.dispatch_clock.wake()

    def record_delivery_status(self, provider_message_id: str, delivery_status: str) -> bool:
        """Store a Telnyx delivery report on the reminder it belongs to; False if unknown."""
        with self.session_factory() as session, session.begin():
            reminder = session.scalars(
                select(Reminder).where(Reminder.provider_message_id == provider_message_id)).first()
            if reminder is None:
                return False
            current = _DELIVERY_STAGE.get(reminder.delivery_status or "", -1)
            if _DELIVERY_STAGE.get(delivery_status, 0) < current:
                return True
            reminder.delivery_status = delivery_status
            final = _FINAL_DELIVERY.get(delivery_status)
            # A recurring reminder is already scheduled again; only a one-off row changes status.
            if final is not None and reminder.status in (Status.SENT, Status.DELIVERED) and not reminder.recurrence:
                reminder.status = final
            if final == Status.FAILED:
                reminder.error = f"delivery {delivery_status}"
                store.notify_owner_of_failure(session, reminder, reminder.error, self.clock())
            return True

    def count_pending(self) -> int:
        """Count reminders still to be sent."""
        with self.session_factory() as session:
            return session.scalar(select(func.count()).select_from(Reminder).where(
                Reminder.kind == Kind.REMINDER, Reminder.status.in_(Status.PENDING))) or 0

    def database_ok(self) -> bool:
        """Say whether the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def last_tick_at(self) -> datetime | None:
        return self.dispatcher.last_tick_at
