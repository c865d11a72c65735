"""Telnyx webhook signatures: ed25519 over ``"{telnyx-timestamp}|{raw body}"``, five-minute window.

This does exactly what the SDK's ``client.webhooks.unwrap`` does (telnyx 4.x,
``telnyx/resources/webhooks.py``), with the same library (PyNaCl, the SDK's
``webhooks`` extra), minus the last step: ``unwrap`` then builds a pydantic
model of the whole event, which we never use and which cost 0.8 ms of the
4.4 ms a webhook took (profiled; see bench/README-http.md). The key is decoded
once, not per request.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Mapping

from nacl.exceptions import BadSignatureError, ValueError as NaclValueError
from nacl.signing import VerifyKey

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
TOLERANCE_SECONDS = 300  # the SDK's window, either side of now


class SignatureError(ValueError):
    """The request is not a fresh event signed with the configured key."""


@lru_cache(maxsize=4)
def verify_key(public_key: str) -> VerifyKey:
    """Decode the portal's base64 public key once; SignatureError when it is not a 32-byte key."""
    try:
        raw = base64.b64decode(public_key, validate=True)
        if len(raw) != 32:
            raise SignatureError(f"Invalid public key: expected 32 bytes, got {len(raw)} bytes")
        return VerifyKey(raw)
    except (ValueError, NaclValueError) as exc:  # binascii.Error, non-ASCII text, a bad point
        raise SignatureError(f"Invalid webhook key encoding: {exc}") from exc


def verify_signature(raw_body: bytes, headers: Mapping[str, str], public_key: str, now: float) -> None:
    """Raise SignatureError unless ``raw_body`` was signed by ``public_key`` within the window around ``now``.

    ``headers`` is looked up by lower-case name (Werkzeug's headers ignore case already).
    """
    signature_header = headers.get(SIGNATURE_HEADER)
    timestamp_header = headers.get(TIMESTAMP_HEADER)
    if signature_header is None:
        raise SignatureError("Missing required header: Telnyx-Signature-Ed25519")
    if timestamp_header is None:
        raise SignatureError("Missing required header: Telnyx-Timestamp")
    try:
        timestamp = int(timestamp_header)  # as the SDK reads it ("+17…" and " 17… " included)
    except ValueError as exc:  # not a number, or longer than Python's 4,300-digit limit
        raise SignatureError(f"Invalid timestamp format: {timestamp_header[:40]}") from exc
    if abs(int(now) - timestamp) > TOLERANCE_SECONDS:  # ints: no overflow for huge values
        raise SignatureError("Webhook timestamp is too old or too new")
    try:
        signature = base64.b64decode(signature_header, validate=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise SignatureError(f"Invalid signature encoding: {exc}") from exc
    if len(signature) != 64:
        raise SignatureError(f"Invalid signature: expected 64 bytes, got {len(signature)} bytes")
    try:
        verify_key(public_key).verify(timestamp_header.encode() + b"|" + raw_body, signature)
    except BadSignatureError as exc:
        raise SignatureError("Signature verification failed: signature does not match payload") from exc
