"""Where outbound messages go: Telnyx's Messaging API, or the console.

A transport sends one message and either returns the provider's message id or
raises ``SendError`` saying whether trying again could help. Twilio's transport is in
``bot.delivery.twilio_transport``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Protocol

from bot.phones import mask_number, mask_numbers_in
from bot.timeutil import utc_now

log = logging.getLogger(__name__)

# Telnyx error codes that will not change on a retry
# (https://developers.telnyx.com/docs/messaging/messages/error-codes).
OPTED_OUT_CODES = {"40300"}


@dataclass(frozen=True)
class SendResult:
    """A message the provider accepted."""

    provider_message_id: str | None


class SendError(Exception):
    """A send that did not go through."""

    def __init__(self, reason: str, *, permanent: bool, retry_after: float | None = None,
                 status: int | None = None, code: str | None = None, key_reused: bool = False,
                 opted_out: bool = False) -> None:
        super().__init__(reason)
        self.key_reused = key_reused  # the provider already took a request under this Idempotency-Key
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status
        self.code = code
        self._opted_out = opted_out  # said by a transport whose codes are not Telnyx's (Twilio's 21610)

    @property
    def opted_out(self) -> bool:
        """Say whether the carrier refused because the recipient opted out."""
        return self._opted_out or self.code in OPTED_OUT_CODES


class Transport(Protocol):
    def send(self, *, from_number: str, to: str, text: str, idempotency_key: str) -> SendResult:
        """Send one SMS, or raise SendError."""
        ...

    @property
    def ready(self) -> bool:
        """Say whether a send would go out now, without first waiting for the transport to load."""
        ...


@dataclass(frozen=True)
class EarlierSend:
    """A message the provider took on an earlier attempt: its id, and its delivery state as the provider says now."""

    provider_message_id: str
    delivery_report: str | None = None  # a DeliveryState value, or None when the provider's word is unknown


class FindsEarlierSends(Protocol):
    """A transport whose provider has no idempotency key (Twilio) also has this.

    Before it sends an occurrence again, the dispatcher asks the provider whether an earlier
    attempt went out after all (a timeout, a connection reset after the request left, a process
    killed before it recorded the answer). Telnyx needs none: its Idempotency-Key deduplicates.
    """

    def find_sent(self, *, to: str, text: str, since: datetime) -> list[EarlierSend]:
        """Return the messages to ``to`` with this body the provider took since ``since``, newest first."""
        ...


@dataclass(frozen=True)
class SentMessage:
    """What the console transport delivered, kept for the chat REPL and tests."""

    from_number: str
    to: str
    text: str
    sent_at: datetime


@dataclass
class ConsoleTransport:
    """Deliver to the log (and an optional callback) instead of the phone network."""

    on_send: Callable[[SentMessage], None] | None = None
    sent: list[SentMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0

    @property
    def ready(self) -> bool:
        return True

    def send(self, *, from_number: str, to: str, text: str, idempotency_key: str) -> SendResult:
        message = SentMessage(from_number, to, text, utc_now())
        with self._lock:
            self.sent.append(message)
            self._counter += 1
            provider_id = f"console-{self._counter}"
        if log.isEnabledFor(logging.INFO):  # masking the text costs ~0.1 ms; only for a line that is written
            log.info("console delivery to %s: %s", mask_number(to), mask_numbers_in(text))
        if self.on_send is not None:
            self.on_send(message)
        return SendResult(provider_id)


class TelnyxClient:
    """The SDK client, built in a background thread as soon as this object is made.

    ``import telnyx`` and its resource modules take about two seconds (telnyx 4.189 imports
    thousands of generated types), which would double the app's start-up. The first user waits
    only if it comes before the load is done; the load also makes the first reminder on time.
    """

    def __init__(self, *, api_key: str, base_url: str | None = None, timeout: float = 10.0) -> None:
        self._options = dict(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)
        self._client = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._load, name="telnyx-import", daemon=True).start()

    def _load(self) -> None:
        try:
            import telnyx

            client = telnyx.Telnyx(**self._options)
            client.messages  # noqa: B018 (first use imports the resource module)
            self._client = client
        except BaseException as exc:  # surfaced to the first caller of get()
            self._error = exc
        finally:
            self._ready.set()

    @property
    def loaded(self) -> bool:
        """Say whether the SDK is loaded and the client built."""
        return self._ready.is_set() and self._error is None

    def get(self):  # type: ignore[no-untyped-def]
        """Return the client, waiting for the background load if it is still running."""
        self._ready.wait()
        if self._error is not None:
            raise RuntimeError("could not load the Telnyx SDK") from self._error
        return self._client


class TelnyxTransport:
    """Send through the official Telnyx SDK; retries are ours, so the SDK's are off."""

    def __init__(self, api_key: str, base_url: str | None = None, timeout: float = 10.0,
                 client: TelnyxClient | None = None) -> None:
        self._client = client or TelnyxClient(api_key=api_key, base_url=base_url, timeout=timeout)

    @property
    def ready(self) -> bool:
        return self._client.loaded

    def send(self, *, from_number: str, to: str, text: str, idempotency_key: str) -> SendResult:
        client = self._client.get()
        import telnyx  # already loaded by the client: only a dictionary look-up here

        try:
            response = client.messages.send(
                from_=from_number, to=to, text=text, idempotency_key=idempotency_key
            )
        except telnyx.APITimeoutError as exc:
            raise SendError("timeout talking to Telnyx", permanent=False) from exc
        except telnyx.APIConnectionError as exc:
            # The reason is logged, stored in the reminder's error column and told to its owner.
            raise SendError(mask_numbers_in(f"network error: {exc}"), permanent=False) from exc
        except telnyx.APIStatusError as exc:
            raise _status_error(exc) from exc
        data = getattr(response, "data", None)
        return SendResult(getattr(data, "id", None))


def _status_error(exc) -> SendError:  # type: ignore[no-untyped-def]
    status = exc.status_code
    code, detail = _first_error(exc.body)
    # Telnyx's detail is free text that may quote the recipient's number; the reason is logged,
    # stored in the reminder's error column and told to its owner.
    reason = mask_numbers_in(f"Telnyx {status}" + (f" {code}" if code else "") + (f": {detail}" if detail else ""))
    retry_after = retry_after_seconds(exc.response.headers.get("retry-after"))
    # 429 is backpressure, 5xx a Telnyx fault, 408 a timeout and 401 usually a key being
    # rotated: worth retrying. Any other 4xx (invalid number, blocked, opted out) will not change.
    transient = status in (401, 408, 429) or status >= 500
    # Telnyx answers 422 to a reused Idempotency-Key whose body differs from the first request's:
    # that request was accepted, so this is not a delivery failure (our retries resend the same bytes,
    # so this only happens if an earlier attempt's body was composed differently).
    key_reused = status == 422 and "idempoten" in f"{code} {detail}".lower()
    return SendError(reason, permanent=not transient, retry_after=retry_after, status=status, code=code,
                     key_reused=key_reused)


def _first_error(body: object) -> tuple[str | None, str | None]:
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            code = first.get("code")
            return (str(code) if code is not None else None, first.get("detail") or first.get("title"))
    return None, None


def retry_after_seconds(header: str | None) -> float | None:
    """Read a Retry-After header (seconds, or an HTTP date) as seconds from now; None when absent or unreadable."""
    if not header:
        return None
    try:
        return max(float(header), 0.0)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max((parsedate_to_datetime(header) - utc_now()).total_seconds(), 0.0)
        except (TypeError, ValueError):
            return None
