"""Tokens of the web page: sign-in links, browser sessions and calendar feeds, stored only as hashes.

A raw token (``secrets.token_urlsafe(32)``: 256 bits) is handed out once: texted in a link, put
into the signed session cookie, or shown as a calendar URL. The table keeps its SHA-256 (a token
has far too much entropy for a salt or a slow hash to matter), so a copy of the database signs
nobody in. Every change is one conditional UPDATE, as bot.storage.lifecycle does for reminders:
a link used twice at once signs in once.

    sign_in ──redeem (within 15 min, once)──▶ session ──sign out / "web off" / expiry──▶ ended
    feed ──revoke / a new feed──▶ ended

The functions take the open session; its transaction belongs to the caller.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.storage.models import WebToken, WebTokenKind
from bot.storage.queries import insert_ignoring_conflicts

SIGN_IN_TTL = timedelta(minutes=15)
TOKEN_BYTES = 32  # 256 bits; the issue asks for at least 128
SIGN_IN_PATH = "/w/"
# The shape of a raw token (token_urlsafe(32) is 43 characters): anything else is refused unread.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
# A texted sign-in link inside a message: how lifecycle finds the token to scrub once the SMS is out.
SIGN_IN_LINK = re.compile(re.escape(SIGN_IN_PATH) + r"([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")
SCRUBBED = "(used)"

_T = WebToken.__table__
_C = _T.c


def new_token() -> str:
    """Return a fresh random token, safe in a URL."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(raw: str) -> str:
    """Return the hex SHA-256 a token is stored under."""
    return hashlib.sha256(raw.encode()).hexdigest()


def is_token_shaped(raw: str) -> bool:
    """Say whether ``raw`` could be a token of ours (no database read for anything else)."""
    return TOKEN_PATTERN.fullmatch(raw) is not None


def sign_in_url(public_base_url: str, raw: str) -> str:
    """Return the link texted for signing in: PUBLIC_BASE_URL/w/<token> (never a phone number)."""
    return public_base_url.rstrip("/") + SIGN_IN_PATH + raw


def scrub_sign_in_links(text: str) -> str:
    """Replace the token of every sign-in link in ``text``: what is kept of a message once it is sent."""
    return SIGN_IN_LINK.sub(SIGN_IN_PATH + SCRUBBED, text)


def has_sign_in_link(text: str) -> bool:
    """Say whether ``text`` carries a sign-in link's token."""
    return SIGN_IN_PATH in text and SIGN_IN_LINK.search(text) is not None


def _insert(session: Session, kind: WebTokenKind, number: str, now: datetime, expires_at: datetime | None) -> str:
    raw = new_token()
    insert_ignoring_conflicts(session, WebToken, dict(
        token_hash=token_hash(raw), kind=kind, number=number, created_at=now, expires_at=expires_at,
        used_at=None, ended_at=None))
    return raw


# --- sign-in links ------------------------------------------------------------------------------

def count_sign_in_links_since(session: Session, number: str, since: datetime) -> int:
    """Count the sign-in links texted to ``number`` since ``since``."""
    return session.connection().execute(
        select(func.count()).select_from(_T).where(
            _C.number == number, _C.kind == WebTokenKind.SIGN_IN, _C.created_at >= since)).scalar() or 0


def issue_sign_in(session: Session, number: str, now: datetime, per_hour: int) -> str | None:
    """Make a sign-in link's token for ``number``; None when it had ``per_hour`` links in the last hour."""
    if count_sign_in_links_since(session, number, now - timedelta(hours=1)) >= per_hour:
        return None
    return _insert(session, WebTokenKind.SIGN_IN, number, now, now + SIGN_IN_TTL)


def _usable_sign_in(raw: str, now: datetime):  # type: ignore[no-untyped-def]
    return (_C.token_hash == token_hash(raw), _C.kind == WebTokenKind.SIGN_IN, _C.used_at.is_(None),
            _C.ended_at.is_(None), _C.expires_at > now)


def sign_in_is_usable(session: Session, raw: str, now: datetime) -> bool:
    """Say whether a sign-in token can still be used, without using it (a GET, a link preview)."""
    if not is_token_shaped(raw):
        return False
    return session.connection().execute(select(_C.number).where(*_usable_sign_in(raw, now))).first() is not None


@dataclass(frozen=True)
class SignedIn:
    """A sign-in that worked: whose it is, and the new session's raw token for the cookie."""

    number: str
    session_token: str


def redeem_sign_in(session: Session, raw: str, now: datetime, session_ttl: timedelta) -> SignedIn | None:
    """Use a sign-in token (once, within its 15 minutes) and open a session; None when it is not usable."""
    if not is_token_shaped(raw):
        return None
    row = session.connection().execute(
        update(_T).where(*_usable_sign_in(raw, now)).values(used_at=now).returning(_C.number)).first()
    if row is None:
        return None
    return SignedIn(row.number, _insert(session, WebTokenKind.SESSION, row.number, now, now + session_ttl))


# --- sessions -----------------------------------------------------------------------------------

def session_number(session: Session, raw: str, now: datetime) -> str | None:
    """Return the number a browser session belongs to, or None when it ended, expired or never was."""
    if not is_token_shaped(raw):
        return None
    return session.connection().execute(select(_C.number).where(
        _C.token_hash == token_hash(raw), _C.kind == WebTokenKind.SESSION, _C.ended_at.is_(None),
        _C.expires_at > now)).scalar()


def end_session(session: Session, raw: str, now: datetime) -> bool:
    """End one browser session (signing out)."""
    if not is_token_shaped(raw):
        return False
    return session.connection().execute(update(_T).where(
        _C.token_hash == token_hash(raw), _C.kind == WebTokenKind.SESSION, _C.ended_at.is_(None))
        .values(ended_at=now)).rowcount == 1


def end_sessions(session: Session, number: str, now: datetime) -> int:
    """End every browser session of ``number`` and void its unused sign-in links ("web off"); return the sessions."""
    connection = session.connection()
    connection.execute(update(_T).where(_C.number == number, _C.kind == WebTokenKind.SIGN_IN, _C.used_at.is_(None),
                                        _C.ended_at.is_(None)).values(ended_at=now))
    return connection.execute(
        update(_T).where(_C.number == number, _C.kind == WebTokenKind.SESSION, _C.ended_at.is_(None),
                         _C.expires_at > now).values(ended_at=now)
        .execution_options(preserve_rowcount=True)).rowcount


# --- calendar feeds -----------------------------------------------------------------------------

def issue_feed(session: Session, number: str, now: datetime) -> str:
    """Make a new private calendar feed token for ``number``; any earlier one stops working."""
    revoke_feeds(session, number, now)
    return _insert(session, WebTokenKind.FEED, number, now, None)


def revoke_feeds(session: Session, number: str, now: datetime) -> int:
    """Stop every calendar feed of ``number``; return how many."""
    return session.connection().execute(
        update(_T).where(_C.number == number, _C.kind == WebTokenKind.FEED, _C.ended_at.is_(None))
        .values(ended_at=now).execution_options(preserve_rowcount=True)).rowcount


def has_feed(session: Session, number: str) -> bool:
    """Say whether ``number`` has a calendar feed that works."""
    return session.connection().execute(select(_C.token_hash).where(
        _C.number == number, _C.kind == WebTokenKind.FEED, _C.ended_at.is_(None)).limit(1)).first() is not None


def feed_number(session: Session, raw: str) -> str | None:
    """Return the number a calendar feed token shows, or None when it was revoked or never was."""
    if not is_token_shaped(raw):
        return None
    return session.connection().execute(select(_C.number).where(
        _C.token_hash == token_hash(raw), _C.kind == WebTokenKind.FEED, _C.ended_at.is_(None))).scalar()
