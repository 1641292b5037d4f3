"""The operator accuracy's joined frame, precomputed: what ``/api/v1/operator/accuracy`` and the dashboard
both read, so that they answer from memory instead of joining every served prediction with the actual
arrivals on each request (20 s on the demo's store on a loaded machine).

One frame is kept: :func:`eta.api.accuracy.served_vs_actual` over ``[now − span, now + ahead]`` (a
replayed store holds the rest of its day beyond the served clock), for every mode, with the store's
*version* it was computed at — the newest prediction, report and sweep ids (rows are appended; a
prediction row's ``confirmed_at`` only moves at a logged sweep) and the last day rolled up (which deletes
old predictions). A request whose window lies inside the kept span is answered by filtering the frame to
its window and mode: equal to computing it afresh while the version is unchanged. When the store has
changed, the kept frame is still used while it is at most ``stale_s`` old (a refresh runs in the
background meanwhile); older, or a window outside the span, is computed there and then. With ``stale_s`` 0
every change is computed before answering.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from eta.api import accuracy
from eta.store.schema import AccuracyDaily, Observation, Prediction, PredictionSweep

log = logging.getLogger("eta.api.accuracy")

Version = tuple[int, int, int, str]


@dataclass(frozen=True)
class Kept:
    version: Version
    now: datetime  # the clock it was computed at
    start: datetime
    end: datetime
    frame: pd.DataFrame
    computed_at: float  # time.monotonic()


class AccuracyView:
    def __init__(self, engine: Engine, span: timedelta, ahead: timedelta, stale_s: float) -> None:
        self.engine = engine
        self.span = span
        self.ahead = ahead
        self.stale_s = stale_s
        self.kept: Kept | None = None
        self._lock = threading.Lock()  # one computation at a time
        self._refreshing = False
        self._thread: threading.Thread | None = None
        # called in the background thread with each join kept there (the dashboard draws its plots)
        self.after_kept: Callable[[Kept], None] | None = None

    def frame(self, start: datetime, end: datetime, now: datetime, mode: str | None = None) -> pd.DataFrame:
        """The served predictions in force in [start, end] joined with their actual arrivals (as
        :func:`~eta.api.accuracy.served_vs_actual`), from the kept frame where it covers the window."""
        kept = self.kept
        version = self.version()
        if kept is None or not (kept.start <= start and end <= kept.end):
            if start < now - self.span or end > now + self.ahead:  # not a window the view keeps
                return accuracy.served_vs_actual(self.engine, start, end, mode)
            kept = self._compute(now, version)
        elif kept.version != version:
            if time.monotonic() - kept.computed_at > self.stale_s:
                kept = self._compute(now, version)
            else:
                self._refresh_in_background(now, version)
        return _window(kept.frame, start, end, mode)

    def warm(self, now: datetime) -> None:
        """Compute the frame in a background thread (at start, so that the first request is fast)."""
        self._refresh_in_background(now, None)

    def version(self) -> Version:
        with self.engine.connect() as conn:
            return (
                int(conn.execute(select(func.max(Prediction.id))).scalar() or 0),
                int(conn.execute(select(func.max(Observation.id))).scalar() or 0),
                int(conn.execute(select(func.max(PredictionSweep.id))).scalar() or 0),
                # a roll-up deletes the predictions of the days it counts (eta.api.rollup)
                str(conn.execute(select(func.max(AccuracyDaily.day))).scalar()),
            )

    def _compute(self, now: datetime, version: Version | None) -> Kept:
        with self._lock:
            kept = self.kept
            if kept is not None and version is not None and kept.version == version:
                return kept  # computed by another request meanwhile
            version = version or self.version()  # read before the frame: a later write makes it stale
            start, end = now - self.span, now + self.ahead
            started = time.monotonic()
            frame = accuracy.served_vs_actual(self.engine, start, end)
            self.kept = Kept(version, now, start, end, frame, time.monotonic())
            log.info("operator accuracy: %d samples joined in %.1f s", len(frame), time.monotonic() - started)
            return self.kept

    def _refresh_in_background(self, now: datetime, version: Version | None) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True

        def run() -> None:
            try:
                kept = self._compute(now, version)
                if self.after_kept is not None:
                    self.after_kept(kept)
            except Exception:  # the kept frame stays; the next request tries again
                log.exception("refreshing the operator accuracy failed")
            finally:
                self._refreshing = False

        self._thread = threading.Thread(target=run, name="eta-accuracy", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 60.0) -> None:
        """Wait for a refresh under way: a thread still inside pandas or the plots when the interpreter
        exits aborts the process (``terminate called without an active exception``, exit 134)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.error("the operator accuracy's refresh still runs %g s after close; left", timeout_s)


def accuracy_frame(
    state: Any, start: datetime, end: datetime, now: datetime, mode: str | None = None
) -> pd.DataFrame:
    """What the operator API and the dashboard both read: the app's view, or the join itself without one."""
    view: AccuracyView | None = getattr(state, "accuracy", None)
    if view is None:
        return accuracy.served_vs_actual(state.engine, start, end, mode)
    return view.frame(start, end, now, mode)


def _window(frame: pd.DataFrame, start: datetime, end: datetime, mode: str | None) -> pd.DataFrame:
    if frame.empty:
        return frame
    made = pd.to_datetime(frame["made_at"], utc=True)
    keep = (made >= pd.Timestamp(start)) & (made <= pd.Timestamp(end))
    if mode:
        keep &= frame["mode"] == mode
    return frame[keep.to_numpy()].reset_index(drop=True)
