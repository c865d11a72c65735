"""Sign webhooks the way Telnyx does: ed25519 over ``"{timestamp}|{body}"``."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

from nacl.signing import SigningKey


class WebhookSigner:
    """A test keypair; ``public_key`` is what the portal would show (base64)."""

    def __init__(self) -> None:
        self.signing_key = SigningKey.generate()
        self.public_key = base64.b64encode(bytes(self.signing_key.verify_key)).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.signing_key.sign(stamp.encode() + b"|" + body).signature
        return {"telnyx-signature-ed25519": base64.b64encode(signature).decode(),
                "telnyx-timestamp": stamp, "Content-Type": "application/json"}


def message_received(text: str, sender: str, to: str = "+13125550100", message_id: str | None = None,
                     event_id: str | None = None) -> dict[str, Any]:
    """Build a Telnyx v2 ``message.received`` event."""
    return {
        "data": {
            "event_type": "message.received",
            "id": event_id or str(uuid.uuid4()),
            "occurred_at": "2026-11-23T12:00:00.000+00:00",
            "record_type": "event",
            "payload": {
                "id": message_id or str(uuid.uuid4()),
                "direction": "inbound",
                "text": text,
                "type": "SMS",
                "from": {"phone_number": sender, "carrier": "T-Mobile USA", "line_type": "Wireless"},
                "to": [{"phone_number": to, "status": "webhook_delivered"}],
                "record_type": "message",
            },
        },
        "meta": {"attempt": 1, "delivered_to": "https://example.com/webhooks/telnyx"},
    }


def message_status(event_type: str, provider_message_id: str, status: str, to: str) -> dict[str, Any]:
    """Build a ``message.sent`` / ``message.finalized`` event for an outbound message."""
    return {"data": {"event_type": event_type, "id": str(uuid.uuid4()), "record_type": "event",
                     "payload": {"id": provider_message_id, "direction": "outbound",
                                 "to": [{"phone_number": to, "status": status}]}},
            "meta": {"attempt": 1}}


def encode(event: Any) -> bytes:
    return json.dumps(event).encode()
