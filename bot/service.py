"""The running bot: database, transport, dispatcher and clock, built from settings.

Both entry points (the Flask app and ``python -m bot chat``) build one ``Bot``
and call its methods; nothing here knows about HTTP.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, text
from sqlalchemy import exc as sqlalchemy_errors

from bot.api import messages
from bot.api.messages import Created, NewMessage, Page
from bot.storage import lifecycle
from bot.delivery.timer import DispatchTimer
from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.delivery.dispatcher import Dispatcher
from bot.conversation.inbound import InboundOutcome, InboundSms, handle_inbound
from bot.conversation.inbox import Acceptance, InboxProcessor, accept
from bot.metrics import Metrics, MeteredTransport
from bot.storage.models import PENDING, Kind, Reminder, Source
from bot.settings import Settings
from bot.timeutil import Clock, utc_now
from bot.delivery.transport import ConsoleTransport, TelnyxTransport, Transport

log = logging.getLogger(__name__)


def make_transport(settings: Settings) -> Transport:
    """Return the transport of the provider that sends (``Settings.provider``): Telnyx, Twilio or the console."""
    if settings.telnyx_enabled:
        assert settings.telnyx_api_key is not None
        return TelnyxTransport(settings.telnyx_api_key, settings.telnyx_base_url, settings.send_timeout_seconds)
    if settings.twilio_enabled:
        from bot.delivery.twilio_transport import TwilioTransport

        assert settings.twilio_account_sid is not None and settings.twilio_auth_token is not None
        return TwilioTransport(settings.twilio_account_sid, settings.twilio_auth_token,
                               phone_number=settings.twilio_phone_number,
                               messaging_service_sid=settings.twilio_messaging_service_sid,
                               public_base_url=settings.public_base_url, base_url=settings.twilio_base_url,
                               timeout=settings.send_timeout_seconds, pool_size=settings.dispatch_concurrency)
    return ConsoleTransport()


class Bot:
    """One instance of the bot; several may share a database."""

    def __init__(self, settings: Settings, transport: Transport | None = None, clock: Clock = utc_now,
                 engine: Engine | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.engine = engine or make_engine(settings.database_url)
        self._database_answered: bool | None = None  # database_ok's last answer, to log only changes
        self._database_state_lock = threading.Lock()
        self._failed_ticks = 0  # dispatch ticks the database failed since it last answered (see note_database_up)
        upgrade_database(self.engine)
        self.session_factory = make_session_factory(self.engine)
        self.metrics = Metrics()
        self.metrics.track_pending(self.count_pending)
        self.transport = MeteredTransport(transport or make_transport(settings), self.metrics)
        self.dispatcher = Dispatcher(self.session_factory, self.transport, settings, clock, self.metrics)
        self.dispatch_timer = DispatchTimer(self.dispatcher, settings.dispatch_interval_seconds, self._after_tick)
        # Inbound SMS stored by the webhooks are handled off the request, on a timer of their own.
        self.inbox = InboxProcessor(self.session_factory, settings, clock, on_handled=self._count_inbound,
                                    is_outage=database_unavailable)
        self.inbox_timer = DispatchTimer(self.inbox, settings.dispatch_interval_seconds, self._after_inbox_tick,
                                         next_due=self.inbox.next_due)
        self.metrics.track_inbox_backlog(self.inbox.count_waiting)

    def start(self) -> None:
        """Start delivering due messages, and handling stored inbound ones, in the background."""
        if self.settings.provider == "console":
            log.warning("No provider's credentials set (TELNYX_* or TWILIO_*): outbound messages go to the console log.")
        self.dispatch_timer.start()
        self.inbox_timer.start()

    def shutdown(self) -> None:
        """Stop claiming, finish in-flight sends and release the rest."""
        self.inbox_timer.shutdown()  # first: the batch under way finishes (its replies are queued) or is released
        self.dispatch_timer.shutdown()

    def receive_sms(self, message: InboundSms) -> Acceptance:
        """Store an inbound SMS to handle off the request (one INSERT) and wake the inbox; say if it was new."""
        acceptance = accept(message, session_factory=self.session_factory, now=self.clock())
        if acceptance is Acceptance.ACCEPTED and self.inbox_timer.running:
            self.inbox_timer.wake()
        return acceptance

    def handle_sms(self, message: InboundSms) -> InboundOutcome:
        """Handle an inbound SMS and wake the dispatcher to send the reply."""
        outcome = handle_inbound(message, session_factory=self.session_factory, settings=self.settings,
                                 now=self.clock())
        self._count_inbound(outcome)
        return outcome

    def _count_inbound(self, outcome: InboundOutcome) -> None:
        """Count a handled inbound SMS (here or in the inbox) and wake the dispatcher for its reply."""
        self.metrics.inbound.labels(command=outcome.command or "none", outcome=outcome.status).inc()
        if outcome.parser_failed:
            self.metrics.parser_errors.inc()
        if outcome.created:
            self.metrics.created.labels(source=Source.SMS).inc(len(outcome.created))
        if outcome.reply is not None:
            self.wake()

    def wake(self) -> None:
        """Send anything due now without waiting for the next poll."""
        if self.dispatch_timer.running:
            self.dispatch_timer.wake()

    def record_delivery_status(self, provider_message_id: str, delivery_status: str,
                               detail: str | None = None) -> bool:
        """Store a provider's delivery report (and its error code as ``detail``) on its reminder; False if unknown."""
        with self.session_factory() as session, session.begin():
            return lifecycle.record_delivery(session, provider_message_id, delivery_status, self.clock(), detail)

    # The REST API's operations: one call per request, as handle_sms is for an SMS.

    def schedule_message(self, message: NewMessage, idempotency_key: str | None) -> Created:
        """Queue a message for the API (or replay the one an earlier request with this key made)."""
        now = self.clock()
        created = messages.schedule_message(self.session_factory, message, now, idempotency_key,
                                            limits=messages.ApiLimits.of(self.settings))
        if not created.replayed:
            self.metrics.created.labels(source=Source.API).inc()
            if created.reminder.send_at - now <= timedelta(seconds=2 * self.settings.dispatch_interval_seconds):
                self.wake()  # due before the next poll would see it
        return created

    def list_messages(self, *, limit: int, cursor: str | None, status: str | None) -> Page:
        """Return one page of scheduled messages, newest first."""
        with self.session_factory() as session:
            return messages.list_scheduled(session, limit=limit, cursor=cursor, status=status)

    def get_message(self, reminder_id: str) -> Reminder | None:
        """Return a scheduled message by id, or None."""
        with self.session_factory() as session:
            return messages.get_scheduled(session, reminder_id)

    def cancel_message(self, reminder_id: str) -> Reminder | None:
        """Cancel a scheduled message; None if unknown; raises NotCancellable when it is being sent or final."""
        with self.session_factory() as session, session.begin():
            return messages.cancel_scheduled(session, reminder_id, self.clock())

    def count_pending(self) -> int:
        """Count reminders still to be sent."""
        with self.session_factory() as session:
            return session.scalar(select(func.count()).select_from(Reminder).where(
                Reminder.kind == Kind.REMINDER, Reminder.status.in_(PENDING))) or 0

    def database_ok(self) -> bool:
        """Say whether the database answers; log when that changes, not on every probe."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - whatever the failure, the answer is "no"
            self.note_database_down(exc)
            return False
        self.note_database_up()
        return True

    def _note_database_answer(self, answered: bool) -> bool | None:
        """Remember database_ok's answer and return the one before (None before the first)."""
        with self._database_state_lock:  # readiness probes run concurrently: one log line per change
            previous, self._database_answered = self._database_answered, answered
        return previous

    def last_tick_at(self) -> datetime | None:
        return self.dispatcher.last_tick_at

    # Outages: readiness probes, the dispatch timer and HTTP requests all report here, so
    # the log says once that the database is down and once that it is back, however many noticed.

    def note_database_down(self, error: BaseException) -> None:
        """Record that the database did not answer; log it the first time in an outage."""
        if self._note_database_answer(False) is not False:
            # The first line names the driver's error; SQLAlchemy adds a documentation link below it.
            reason = str(error).strip().splitlines() or [type(error).__name__]
            log.error("the database does not answer: %s", reason[0])

    def note_database_up(self) -> None:
        """Record that the database answered; log it when it is back, with the dispatch ticks the outage cost."""
        if self._note_database_answer(True) is not False:
            return
        with self._database_state_lock:
            failed_ticks, self._failed_ticks = self._failed_ticks, 0
        log.warning("the database answers again%s",
                    f" after {failed_ticks} failed dispatch tick{'s' if failed_ticks != 1 else ''}"
                    if failed_ticks else "")

    def _after_tick(self, error: Exception | None) -> None:
        """Hear how a dispatch tick went: count the ones the database failed, log anything else in full."""
        if error is None:
            self.note_database_up()
        elif database_unavailable(error):
            with self._database_state_lock:
                self._failed_ticks += 1
            self.note_database_down(error)
        else:  # a bug, not an outage: the whole traceback, every time
            log.error("dispatch tick failed; retrying on the next tick", exc_info=error)

    def _after_inbox_tick(self, error: Exception | None) -> None:
        """Hear how an inbox tick went: an outage is logged once (as for dispatch ticks), a bug in full."""
        if error is None:
            self.note_database_up()
        elif database_unavailable(error):
            self.note_database_down(error)
        else:
            log.error("inbox tick failed; retrying on the next tick", exc_info=error)


def database_unavailable(error: BaseException) -> bool:
    """Say whether ``error`` means the database cannot be reached or used just now, so waiting may cure it.

    Connection refused or lost, a server restarting or shutting down, a full connection pool, SQLite's
    "unable to open database file" or "database is locked": all OperationalError, InterfaceError or
    the pool's TimeoutError. Anything else (a constraint, a bad value) is not an outage.
    """
    if isinstance(error, (sqlalchemy_errors.OperationalError, sqlalchemy_errors.InterfaceError,
                          sqlalchemy_errors.TimeoutError)):
        return True
    return isinstance(error, sqlalchemy_errors.DBAPIError) and error.connection_invalidated
