"""Dashboard sessions: what the login cookie stands for.

The cookie holds a random id (256 bits); the store keeps only its SHA-256, the API key it was opened
with, and when it ends. A session is valid until it expires, is revoked at logout, or its API key is
revoked. Expired and revoked sessions are deleted as new ones are opened (their retention is their TTL).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, or_, select, update

from eta.api.apikeys import KeyInfo
from eta.store.schema import ApiKey, DashboardSession

COOKIE = "eta_session"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(engine: Engine, key: KeyInfo, now: datetime, ttl_s: int) -> str:
    """A new session for ``key``; the token (the cookie's value) is returned once."""
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            delete(DashboardSession).where(
                or_(DashboardSession.expires_at < now, DashboardSession.revoked_at.is_not(None))
            )
        )
        conn.execute(
            insert(DashboardSession).values(
                token_hash=_hash(token),
                api_key_id=key.id,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl_s),
                revoked_at=None,
            )
        )
    return token


def session_key(engine: Engine, token: str, now: datetime) -> KeyInfo | None:
    """The API key of a valid session, or None (unknown, expired, revoked, or its key revoked)."""
    if not token or len(token) > 100:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(ApiKey)
            .join(DashboardSession, DashboardSession.api_key_id == ApiKey.id)
            .where(
                DashboardSession.token_hash == _hash(token),
                DashboardSession.expires_at > now,
                DashboardSession.revoked_at.is_(None),
                ApiKey.revoked_at.is_(None),
            )
        ).first()
    return None if row is None else KeyInfo(row.id, row.name, row.prefix, row.created_at, row.revoked_at)


def revoke_session(engine: Engine, token: str, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(DashboardSession)
            .where(DashboardSession.token_hash == _hash(token), DashboardSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
