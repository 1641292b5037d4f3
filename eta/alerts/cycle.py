"""One alerts cycle: examine new predictions for every active subscription, queue the notifications
due, deliver what is due (retrying with exponential backoff), and purge expired subscriptions.

Runs in the API process every ``ETA_ALERTS__CYCLE_INTERVAL_S``; it can as well be called right after
predictions are written (``AlertCycle(...).run_once()``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from eta.alerts import detect, leave
from eta.alerts.delivery import Outbox
from eta.alerts.metrics import AlertMetrics
from eta.alerts.subscriptions import lock_for_examining, purge_expired
from eta.alerts.webhooks import new_message_id
from eta.clock import Clock
from eta.config import Settings
from eta.read.predictions import in_force_one, made_between, sweep_times
from eta.read.reports import actual_arrival
from eta.store.schema import Call, NotificationDelivery, Service, Subscription

log = logging.getLogger("eta.alerts")
MAX_UPDATES_PER_CYCLE = 200


@dataclass(frozen=True)
class CycleReport:
    examined: int
    queued: int
    delivered: int
    retried: int
    failed: int
    disabled: int
    purged: int


class AlertCycle:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        clock: Clock,
        metrics: AlertMetrics | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.outbox = Outbox(engine, settings, metrics)

    def run_once(self) -> CycleReport:
        now = self.clock()
        examined, queued = self.find_changes(now)
        delivered, retried, failed, disabled = self.deliver_due()
        purged = purge_expired(self.engine, now)
        if self.metrics is not None:
            with self.engine.connect() as conn:
                active = conn.execute(select(Subscription.id).where(Subscription.disabled_at.is_(None))).all()
            self.metrics.active_subscriptions.set(len(active))
        return CycleReport(examined, queued, delivered, retried, failed, disabled, purged)

    # --- detection -------------------------------------------------------------------------------

    def find_changes(self, now: datetime) -> tuple[int, int]:
        with self.engine.connect() as conn:
            subs = conn.execute(
                select(Subscription).where(Subscription.disabled_at.is_(None), Subscription.expires_at >= now)
            ).all()
        queued = 0
        for listed in subs:
            with self.engine.begin() as conn:
                sub = lock_for_examining(conn, listed.id, now)  # another worker may have examined it
                if sub is not None:
                    queued += self._examine(conn, sub, now)
        return len(subs), queued

    def _examine(self, conn: Connection, sub: Any, now: datetime) -> int:
        alerts = self.settings.alerts
        updates, seen_until = self._new_updates(conn, sub, now)
        latest = updates[-1] if updates else self._latest_update(conn, sub.call_id, now)
        watch = detect.Watch(
            sub.notified_arrival,
            sub.notified_platform,
            sub.arrival_streak,
            sub.platform_candidate,
            sub.platform_streak,
        )
        leave_watch = leave.LeaveWatch(sub.leave_notified_at, sub.leave_streak)
        call = conn.execute(select(Call).where(Call.id == sub.call_id)).one()
        changes = detect.examine(
            watch,
            updates,
            scheduled=call.scheduled_arrival,
            watch_platform=sub.watch_platform,
            arrival_threshold_s=sub.arrival_threshold_s,
            confirm=alerts.confirm_updates,
            watch_predicted_platform=bool(sub.watch_predicted_platform),
        )
        events = [_change_event(change) for change in changes]
        if sub.travel_time_s is not None and latest is not None and not self._arrived(conn, sub.call_id, now):
            notice = leave.check(
                leave_watch,
                latest.p10,
                sub.travel_time_s,
                now,
                new_update=bool(updates),
                lead_s=alerts.leave_notice_lead_s,
                threshold_s=alerts.leave_correction_threshold_s,
                confirm=alerts.confirm_updates,
            )
            if notice is not None:
                events.append(_leave_event(notice, latest, sub.travel_time_s))
        arrived_at = self._arrived(conn, sub.call_id, now)
        values: dict[str, Any] = {
            "notified_arrival": watch.notified_arrival,
            "notified_platform": watch.notified_platform,
            "arrival_streak": watch.arrival_streak,
            "platform_candidate": watch.platform_candidate,
            "platform_streak": watch.platform_streak,
            "leave_notified_at": leave_watch.notified_at,
            "leave_streak": leave_watch.streak,
        }
        if updates:
            values["last_prediction_at"] = seen_until
            if updates[-1].p90 is not None and arrived_at is None:
                later = updates[-1].p90 + timedelta(seconds=alerts.keep_after_arrival_s)
                values["expires_at"] = max(sub.expires_at, later)
        if arrived_at is not None:
            values["expires_at"] = arrived_at + timedelta(seconds=alerts.keep_after_arrival_s)
        conn.execute(update(Subscription).where(Subscription.id == sub.id).values(**values))
        if events:
            trip = self._trip(conn, sub.call_id)
            for event_type, data in events:
                self._queue(conn, sub.id, event_type, {**trip, **data}, now)
        return len(events)

    def _new_updates(
        self, conn: Connection, sub: Any, now: datetime
    ) -> tuple[list[detect.Update], datetime | None]:
        """The prediction updates since the last examination, oldest first, ending with the one in force,
        and the time of the last of them.

        An update is a prediction made, or one found unchanged by a later sweep (predictions are stored on
        change: an unchanged one only moves its row's ``confirmed_at``), so that hysteresis counts the
        same updates whether every prediction is stored or not. A new subscription starts from the
        prediction in force when it was made: what came before is history, not news. When more were made
        than one cycle examines, the newest is still the last.
        """
        after = sub.last_prediction_at
        first = after is None
        since = sub.created_at if after is None else after
        standing = in_force_one(conn, sub.call_id, since)
        rows = [] if standing is None else [standing]
        rows += made_between(conn, sub.call_id, since, now, MAX_UPDATES_PER_CYCLE)
        newest = in_force_one(conn, sub.call_id, now)
        if newest is not None and rows and rows[-1].id != newest.id and rows[-1].made_at <= newest.made_at:
            rows.append(newest)
        sweeps = self._sweeps(conn, sub.call_id, since, now)
        seen: list[tuple[datetime, Any]] = []
        for row, following in zip(rows, [*rows[1:], None][: len(rows)], strict=True):
            if row is not standing or first:
                seen.append((row.made_at, row))
            until = min(now, row.confirmed_at) if row.confirmed_at is not None else None
            if following is not None and until is not None:
                until = min(until, following.made_at)
            if until is None:
                continue
            start = max(row.made_at, since)
            times = [t for t in sweeps if start < t <= until]
            if until > start and until not in times:
                times.append(until)  # a re-prediction on news found it unchanged
            seen += [(t, row) for t in times]
        seen.sort(key=lambda item: item[0])
        return [_update(row) for _, row in seen], (seen[-1][0] if seen else None)

    def _sweeps(self, conn: Connection, call_id: int, after: datetime, now: datetime) -> list[datetime]:
        """The sweeps of the call's mode in (after, now]."""
        mode = conn.execute(
            select(Service.mode).join(Call, Call.service_id == Service.id).where(Call.id == call_id)
        ).scalar_one()
        times = sweep_times(conn, after, now).get(mode)
        return [] if times is None else [t.to_pydatetime() for t in times if t.to_pydatetime() > after]

    def _latest_update(self, conn: Connection, call_id: int, now: datetime) -> detect.Update | None:
        row = in_force_one(conn, call_id, now)
        return None if row is None else _update(row)

    def _arrived(self, conn: Connection, call_id: int, now: datetime) -> datetime | None:
        return actual_arrival(conn, call_id, now)

    def _trip(self, conn: Connection, call_id: int) -> dict[str, Any]:
        call = conn.execute(select(Call).where(Call.id == call_id)).one()
        service = conn.execute(select(Service).where(Service.id == call.service_id)).one()
        return {
            "trip": {
                "mode": service.mode,
                "operator": service.operator,
                "number": service.number,
                "service_date": service.service_date.isoformat(),
                "leg": service.leg,
            },
            "location": call.location,
            "scheduled_arrival": _iso(call.scheduled_arrival),
        }

    def _queue(
        self, conn: Connection, subscription_id: str, event_type: str, data: dict[str, Any], now: datetime
    ) -> None:
        message_id = new_message_id()
        payload = {
            "type": event_type,
            "timestamp": datetime.now(UTC).isoformat(),
            "data": {"subscription_id": subscription_id, **data},
        }
        conn.execute(
            insert(NotificationDelivery).values(
                subscription_id=subscription_id,
                message_id=message_id,
                event_type=event_type,
                payload=payload,
                created_at=now,
                state="pending",
                attempts=0,
                next_attempt_at=datetime.now(UTC),
            )
        )
        if self.metrics is not None:
            self.metrics.alerts_sent.labels(event_type).inc()

    # --- delivery --------------------------------------------------------------------------------

    def deliver_due(self) -> tuple[int, int, int, int]:
        """Attempt every pending delivery whose time has come (retries use the real clock)."""
        return self.outbox.deliver_due()


def _update(row: Any) -> detect.Update:
    return detect.Update(
        made_at=row.made_at,
        p10=row.p10_arrival,
        p50=row.p50_arrival,
        p90=row.p90_arrival,
        platform=row.platform,
        platform_probability=row.platform_probability,
        platform_announced=bool(row.platform_announced),
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _change_event(change: detect.Change) -> tuple[str, dict[str, Any]]:
    upd = change.update
    assert upd is not None
    if change.kind == "arrival_changed":
        return "trip.arrival_changed", {
            "previous_arrival": _iso(change.previous),  # type: ignore[arg-type]
            "predicted_arrival": _iso(change.current),  # type: ignore[arg-type]
            "p10_arrival": _iso(upd.p10),
            "p90_arrival": _iso(upd.p90),
            "made_at": _iso(upd.made_at),
        }
    return "trip.platform_changed", {
        "previous_platform": change.previous,
        "platform": change.current,
        "probability": upd.platform_probability,
        "announced": upd.platform_announced,
        "made_at": _iso(upd.made_at),
    }


def _leave_event(
    notice: leave.LeaveNotice, upd: detect.Update, travel_time_s: int
) -> tuple[str, dict[str, Any]]:
    event = "trip.leave_now" if notice.kind == "leave_now" else "trip.leave_time_changed"
    return event, {
        "leave_at": _iso(notice.leave_at),
        "previous_leave_at": _iso(notice.previous),
        "travel_time_s": travel_time_s,
        "p10_arrival": _iso(upd.p10),
        "made_at": _iso(upd.made_at),
    }
