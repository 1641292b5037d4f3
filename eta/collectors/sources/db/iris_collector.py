"""The live DB Timetables API (IRIS) collector: plan hours once each, then changes, per station.

Each run asks, for every configured station, for the plan of the current hour and the next
``plan_hours_ahead`` hours that have not been parsed yet, then for the changes: the full list
(``fchg``) when the last one is older than ``full_changes_every_s``, else only the recent ones
(``rchg``). Parsing is :mod:`eta.collectors.sources.db.iris` (shared with ``eta import iris-archive`` and the
replay); changes name their calls by IRIS stop id, which the runner resolves through ``call_refs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from eta.collectors.base import Adapter, Payload, PayloadError, Request, Rows, StoreView
from eta.collectors.sources.db import iris as db_iris
from eta.collectors.sources.db.settings import DbIrisSettings

PLAN_MEMORY = timedelta(hours=30)


class DbIrisAdapter(Adapter[DbIrisSettings]):
    name = "db-iris"
    source = db_iris.SOURCE
    content_types = ("application/xml", "text/xml")
    extension = "xml"

    def requests(self, now: datetime, view: StoreView) -> list[Request]:
        plans_done = {
            (p.get("eva"), p.get("date"), p.get("hour"))
            for _, p in view.parsed_since("plan", now - PLAN_MEMORY)
        }
        full_since = now - timedelta(seconds=self.config.full_changes_every_s)
        recent_full = {p.get("eva") for _, p in view.parsed_since("fchg", full_since)}
        if self.config.full_changes_every_s == 0:
            recent_full = set()
        hour = now.astimezone(db_iris.TZ).replace(minute=0, second=0, microsecond=0)
        slots = [
            (hour + timedelta(hours=k)).strftime("%y%m%d %H").split()
            for k in range(self.config.plan_hours_ahead + 1)
        ]
        out = [
            Request.of("plan", eva=eva, date=day, hour=hh)
            for eva in self.config.stations
            for day, hh in slots
            if (eva, day, hh) not in plans_done
        ]
        out += [Request.of("rchg" if eva in recent_full else "fchg", eva=eva) for eva in self.config.stations]
        return out

    def url(self, request: Request) -> tuple[str, Mapping[str, str]]:
        base = self.config.base_url.rstrip("/")
        eva = request.param("eva")
        if request.kind == "plan":
            return f"{base}/plan/{eva}/{request.param('date')}/{request.param('hour')}", {}
        return f"{base}/{request.kind}/{eva}", {}

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/xml"}
        if self.config.client_id is not None:
            headers["DB-Client-Id"] = self.config.client_id.get_secret_value()
        if self.config.api_key is not None:
            headers["DB-Api-Key"] = self.config.api_key.get_secret_value()
        return headers

    def parse(self, payload: Payload) -> Rows:
        return parse_payload(payload)


def parse_payload(payload: Payload) -> Rows:
    """Rows of one IRIS payload: a plan gives calls, a change list gives observations and the calls of
    the stops it lists with their planned times (pure)."""
    rows = Rows()
    try:
        if payload.request.kind == "plan":
            eva = payload.request.param("eva")
            plan = db_iris.parse_plan(payload.body, payload.fetched_at)
            planned = db_iris.plan_rows(plan.stops, eva, plan.station)
            rows.add("locations", [db_iris.location_row(eva, plan.station)])
            rows.add("services", planned.services)
            rows.add("calls", planned.calls)
            rows.add("call_refs", planned.call_refs)
        else:
            changes = db_iris.parse_changes(payload.body, payload.fetched_at)
            # additional trains are only in change lists: their calls from their planned times, known
            # from this fetch on (the runner's known_since); a plan listing one later matches it by id
            eva = payload.request.param("eva")
            added = db_iris.change_plan_rows(changes.stops, eva, changes.station)
            if added.calls:
                rows.add("locations", [db_iris.location_row(eva, changes.station)])
                rows.add("services", added.services)
                rows.add("calls", added.calls)
                rows.add("call_refs", added.call_refs)
            rows.add("observations", db_iris.observation_rows(changes.stops, payload.fetched_at, payload.ref))
    except db_iris.IrisParseError as exc:
        raise PayloadError(str(exc)) from exc
    return rows
