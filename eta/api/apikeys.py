"""Operator API keys: random, shown once, stored as SHA-256 (a fast hash is right for 256-bit random keys)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from eta._time import utcnow
from eta.errors import InputError, NotFoundError
from eta.store.schema import ApiKey, DashboardSession

PREFIX = "eta_"


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(engine: Engine, name: str) -> tuple[str, KeyInfo]:
    """A new key (returned in clear, once) and its stored record."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InputError("an API key needs a name of 1 to 100 characters (who or what uses it)")
    key = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    with engine.begin() as conn:
        key_id = conn.execute(
            insert(ApiKey).values(
                name=name, prefix=key[:12], key_hash=hash_key(key), created_at=now, revoked_at=None
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    return key, KeyInfo(int(key_id), name, key[:12], now, None)


def verify_key(engine: Engine, key: str) -> KeyInfo | None:
    """The key's record if it exists and is not revoked."""
    if not key.startswith(PREFIX) or len(key) > 200:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
        ).first()
    return None if row is None else KeyInfo(row.id, row.name, row.prefix, row.created_at, row.revoked_at)


def list_keys(engine: Engine) -> list[KeyInfo]:
    with engine.connect() as conn:
        rows = conn.execute(select(ApiKey).order_by(ApiKey.id)).all()
    return [KeyInfo(r.id, r.name, r.prefix, r.created_at, r.revoked_at) for r in rows]


def revoke_key(engine: Engine, prefix: str) -> KeyInfo:
    """Revoke the one active key starting with ``prefix`` (as ``eta apikey list`` shows it)."""
    prefix = prefix.strip().rstrip("…")
    if len(prefix) < len(PREFIX) + 4:
        raise InputError("give the key's prefix as `eta apikey list` shows it (e.g. eta_AbCd12Ef)")
    with engine.begin() as conn:
        rows = conn.execute(
            select(ApiKey).where(ApiKey.prefix.startswith(prefix[:12]), ApiKey.revoked_at.is_(None))
        ).all()
        if not rows:
            raise NotFoundError(f"no active API key starts with {prefix!r}")
        if len(rows) > 1:
            raise InputError(f"{len(rows)} active keys start with {prefix!r}; give more characters")
        row = rows[0]
        now = utcnow()
        conn.execute(update(ApiKey).where(ApiKey.id == row.id).values(revoked_at=now))
        conn.execute(  # its dashboard sessions end with it
            update(DashboardSession)
            .where(DashboardSession.api_key_id == row.id, DashboardSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return KeyInfo(row.id, row.name, row.prefix, row.created_at, now)
