"""Share links: a read-only view of one call's arrival for whoever picks the traveller up.

A share holds the call and two hashed secrets, nothing about a person: the link's *key* (in the link's
fragment, so it never reaches a server log or a Referer) opens it, the *revocation token* (kept by the
traveller's browser) deletes it. It stops working once the call has arrived (plus the alerts' grace
period), and is purged at ``expires_at`` at the latest, whichever comes first.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select

from eta.errors import InputError, NotFoundError
from eta.read.predictions import in_force
from eta.read.reports import call_states
from eta.read.timetable import call_known
from eta.store.schema import Call, Share

# A share is purged this long after its scheduled arrival even if no arrival was ever reported.
LONGEST_LIFE = timedelta(days=2)


class ShareGone(Exception):  # noqa: N818 (an answer: the link has served its purpose)
    """The call has arrived (or the link is past its purge time): the link no longer shows anything."""


@dataclass(frozen=True)
class Created:
    row: Any
    key: str
    revoke_token: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(engine: Engine, call_id: int, now: datetime, max_per_call: int, grace_s: int) -> Created:
    """A new share of ``call_id``; its key and revocation token are returned once, and stored hashed."""
    key, revoke = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    with engine.begin() as conn:
        conn.execute(delete(Share).where(Share.expires_at < now))  # retention: nothing kept past its time
        call = call_known(conn, call_id, now)
        if call is None:
            raise NotFoundError("that call does not exist (or eta did not know it yet)")
        if call.scheduled_arrival is None:
            raise InputError("this stop has no arrival (it is where the trip starts); choose a later stop")
        if ends_at(conn, call, now, grace_s) <= now:
            raise InputError("this trip has already arrived there; there is nothing left to share")
        count = conn.execute(
            select(func.count()).select_from(Share).where(Share.call_id == call_id)
        ).scalar_one()
        if count >= max_per_call:
            raise InputError("this trip has too many share links; try again later")
        values = {
            "id": "shr_" + secrets.token_urlsafe(12),
            "key_hash": _hash(key),
            "revoke_hash": _hash(revoke),
            "call_id": call_id,
            "created_at": now,
            "expires_at": call.scheduled_arrival + LONGEST_LIFE + timedelta(seconds=grace_s),
        }
        conn.execute(insert(Share).values(**values))
        row = conn.execute(select(Share).where(Share.id == values["id"])).one()
    return Created(row, key, revoke)


def ends_at(conn: Connection, call: Any, now: datetime, grace_s: int) -> datetime:
    """When a share of ``call`` stops working, as known at ``now``: the grace period after the reported
    arrival, or after the later of the schedule and the P90 of the prediction in force."""
    grace = timedelta(seconds=grace_s)
    state = call_states(conn, [call.id], now).get(call.id)
    if state is not None and state.actual_arrival is not None:
        return state.actual_arrival + grace
    end = call.scheduled_arrival
    prediction = in_force(conn, [call.id], now).get(call.id)
    if prediction is not None and prediction.p90_arrival is not None:
        end = max(end, prediction.p90_arrival)
    return end + grace


def _matching(conn: Connection, share_id: str, secret: str, column: str) -> Any:
    row = conn.execute(select(Share).where(Share.id == share_id)).first()
    if row is None or not hmac.compare_digest(getattr(row, column), _hash(secret)):
        raise NotFoundError("no share link with this id and key (it may have been revoked, or purged)")
    return row


def open_share(
    engine: Engine, share_id: str, key: str, now: datetime, grace_s: int
) -> tuple[Any, Any, datetime]:
    """The share, its call and when it stops working; :class:`ShareGone` once that time has passed."""
    with engine.begin() as conn:
        row = _matching(conn, share_id, key, "key_hash")
        call = conn.execute(select(Call).where(Call.id == row.call_id)).one()
        end = min(ends_at(conn, call, now, grace_s), row.expires_at)
        if end <= now:  # deleted in this transaction; raised once it is committed
            conn.execute(delete(Share).where(Share.id == share_id))
    if end <= now:
        raise ShareGone("this link has expired: the trip has arrived")
    return row, call, end


def revoke(engine: Engine, share_id: str, token: str) -> None:
    """Delete the share for good (the traveller's revocation token is needed)."""
    with engine.begin() as conn:
        _matching(conn, share_id, token, "revoke_hash")
        conn.execute(delete(Share).where(Share.id == share_id))


def purge_expired(engine: Engine, now: datetime) -> int:
    with engine.begin() as conn:
        return int(conn.execute(delete(Share).where(Share.expires_at < now)).rowcount)
