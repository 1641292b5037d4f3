"""The dashboard's plots, rendered server-side to inline SVG with matplotlib (text kept as text)."""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from eta.api import accuracy

SIZE = (6.4, 3.6)
COLORS = {"model": "#1f6feb", "timetable": "#9a6700", "operator": "#8250df"}


_DRAWN: OrderedDict[str, str] = OrderedDict()  # the SVG of the latest inputs drawn, by their digest
_DRAWN_MAX = 32
_drawn_lock = threading.Lock()


def _memo(name: str, inputs: object, draw: Callable[[], str]) -> str:
    """The plot drawn for these exact inputs before, or drawn now: matplotlib takes 0.3-0.5 s a plot on a
    loaded machine, and the dashboard's inputs stay the same until new samples enter its window."""
    key = name + hashlib.sha256(repr(inputs).encode()).hexdigest()
    with _drawn_lock:
        if key in _DRAWN:
            _DRAWN.move_to_end(key)
            return _DRAWN[key]
    svg = draw()
    with _drawn_lock:
        _DRAWN[key] = svg
        while len(_DRAWN) > _DRAWN_MAX:
            _DRAWN.popitem(last=False)
    return svg


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "eta"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _empty(title: str, message: str) -> str:
    fig = Figure(figsize=(SIZE[0], 1.4))
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.4, message, ha="center", va="center", color="#57606a")
    return _svg(fig)


def error_by_horizon(rows: list[dict[str, Any]]) -> str:
    return _memo("horizon", rows, lambda: _error_by_horizon(rows))


def _error_by_horizon(rows: list[dict[str, Any]]) -> str:
    title = "Mean absolute error by horizon"
    if not rows:
        return _empty(title, "No served predictions with a known arrival in this window.")
    fig = Figure(figsize=SIZE)
    ax = fig.subplots()
    labels = [str(r["group"]) for r in rows]
    x = np.arange(len(labels))
    for key, name in (
        ("model_mae_s", "eta (P50)"),
        ("timetable_mae_s", "timetable"),
        ("operator_mae_s", "operator estimate"),
    ):
        values = [r[key] / 60 if r[key] is not None else np.nan for r in rows]
        if not np.all(np.isnan(values)):
            color = COLORS[key.split("_")[0]]
            ax.plot(x, values, marker="o", label=name, color=color)
    ax.set_xticks(x, labels)
    ax.set_xlabel("time before scheduled arrival")
    ax.set_ylabel("minutes")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _svg(fig)


def predicted_vs_actual(frame: pd.DataFrame, max_points: int = 3_000) -> str:
    title = "Predicted against actual delay"
    if frame.empty:
        return _empty(title, "No served predictions with a known arrival in this window.")
    scored = accuracy.add_errors(frame)
    if len(scored) > max_points:
        scored = scored.sample(max_points, random_state=0)
    predicted = scored["delay_predicted_s"] / 60
    actual = scored["delay_actual_s"] / 60
    digest = hashlib.sha256(predicted.to_numpy().tobytes() + actual.to_numpy().tobytes()).hexdigest()
    return _memo("scatter", digest, lambda: _predicted_vs_actual(predicted, actual))


def _predicted_vs_actual(predicted: pd.Series, actual: pd.Series) -> str:
    title = "Predicted against actual delay"
    fig = Figure(figsize=SIZE)
    ax = fig.subplots()
    ax.scatter(predicted, actual, s=6, alpha=0.35, color=COLORS["model"], label="served P50")
    low = float(min(predicted.min(), actual.min(), 0))
    high = float(max(predicted.max(), actual.max(), 1))
    ax.plot([low, high], [low, high], color="#57606a", linewidth=1, label="perfect")
    ax.set_xlabel("predicted delay (min)")
    ax.set_ylabel("actual delay (min)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _svg(fig)


def platform_calibration(points: list[dict[str, Any]]) -> str:
    return _memo("platform", points, lambda: _platform_calibration(points))


def _platform_calibration(points: list[dict[str, Any]]) -> str:
    title = "Platform calibration"
    if not points:
        return _empty(title, "No platform predictions with a known platform in this window.")
    fig = Figure(figsize=SIZE)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="#57606a", linewidth=1, label="perfectly calibrated")
    ax.plot(
        [p["predicted"] for p in points],
        [p["observed"] for p in points],
        marker="o",
        color=COLORS["model"],
        label="eta",
    )
    for p in points:
        ax.annotate(
            str(p["n"]),
            (p["predicted"], p["observed"]),
            textcoords="offset points",
            xytext=(4, -10),
            fontsize=7,
            color="#57606a",
        )
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("predicted probability of the top platform")
    ax.set_ylabel("share that was right")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _svg(fig)


# Ages beyond this many minutes (a collector stopped long ago, or a source replayed from another period,
# like the demo's 2013 flights beside its 2025 trains) are drawn off the scale of the recent ones.
RECENT_AGE_MIN = 24 * 60


@dataclass(frozen=True)
class FreshnessBar:
    collector: str
    width_min: float  # the bar's length on the plot
    label: str
    off_scale: bool  # older than the axis shows: drawn to its end, hatched, its age in the label
    failing: bool


def freshness_bars(collectors: list[dict[str, Any]]) -> tuple[float, list[FreshnessBar]]:
    """The axis length in minutes and one bar per collector: recent ages to scale, older ones capped."""
    ages = {
        c["collector"]: None if c["data_age_s"] is None else max(c["data_age_s"], 0) / 60 for c in collectors
    }
    recent = [age for age in ages.values() if age is not None and age <= RECENT_AGE_MIN]
    known = [age for age in ages.values() if age is not None]
    limit = max(recent or known or [0.0]) * 1.25 or 10.0
    limit = max(limit, 10.0)
    bars = []
    for c in collectors:
        age = ages[c["collector"]]
        runs = f"{c['failures_24h']} failed of {c['runs_24h']}"
        if age is None:
            bar = FreshnessBar(c["collector"], 0.0, "no data yet", False, bool(c["failures_24h"]))
        elif age > limit:
            label = f"{age_text(age)} old, off the scale; {runs}"
            bar = FreshnessBar(c["collector"], limit, label, True, bool(c["failures_24h"]))
        else:
            bar = FreshnessBar(c["collector"], age, runs, False, bool(c["failures_24h"]))
        bars.append(bar)
    return limit, bars


def _minutes_old(age_s: float | None) -> float | None:
    return None if age_s is None else max(age_s, 0) / 60


def age_text(minutes: float) -> str:
    """An age in the unit that reads best: 45 min, 5 h, 3 days, 12 years."""
    for unit, size in (("years", 525_960), ("days", 1_440), ("h", 60)):
        if minutes >= 2 * size:
            return f"{minutes / size:,.0f} {unit}"
    return f"{minutes:,.0f} min"


def collector_freshness(collectors: list[dict[str, Any]]) -> str:
    title = "Data age and failures per collector (24 h)"
    if not collectors:
        return _empty(title, "No collector has run yet.")
    limit, bars = freshness_bars(collectors)
    fig = Figure(figsize=(SIZE[0], 0.6 + 0.45 * len(bars)))
    ax = fig.subplots()
    y = np.arange(len(bars))
    drawn = ax.barh(
        y,
        [bar.width_min for bar in bars],
        color=["#cf222e" if bar.failing else "#2da44e" for bar in bars],
    )
    for patch, bar in zip(drawn, bars, strict=True):
        if bar.off_scale:
            patch.set_hatch("//")
            patch.set_alpha(0.5)
        ax.annotate(
            bar.label,
            (0 if bar.off_scale else patch.get_width(), patch.get_y() + patch.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(0, limit)
    ax.set_yticks(y, [bar.collector for bar in bars])
    ax.set_xlabel("minutes since the newest data")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    return _svg(fig)
