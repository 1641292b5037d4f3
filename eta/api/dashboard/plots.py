"""The dashboard's plots, rendered server-side to inline SVG with matplotlib (text kept as text)."""

from __future__ import annotations

import io
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from eta.api import accuracy

SIZE = (6.4, 3.6)
COLORS = {"model": "#1f6feb", "timetable": "#9a6700", "operator": "#8250df"}


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
    fig = Figure(figsize=SIZE)
    ax = fig.subplots()
    predicted = scored["delay_predicted_s"] / 60
    actual = scored["delay_actual_s"] / 60
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


def collector_freshness(collectors: list[dict[str, Any]]) -> str:
    title = "Data age and failures per collector (24 h)"
    if not collectors:
        return _empty(title, "No collector has run yet.")
    fig = Figure(figsize=(SIZE[0], 0.6 + 0.45 * len(collectors)))
    ax = fig.subplots()
    names = [c["collector"] for c in collectors]
    ages = [(c["data_age_s"] or 0) / 60 for c in collectors]
    y = np.arange(len(names))
    bars = ax.barh(y, ages, color=[("#cf222e" if c["failures_24h"] else "#2da44e") for c in collectors])
    for bar, c in zip(bars, collectors, strict=True):
        label = "no data yet" if c["data_age_s"] is None else f"{c['failures_24h']} failed of {c['runs_24h']}"
        ax.annotate(
            label,
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y, names)
    ax.set_xlabel("minutes since the newest data")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    return _svg(fig)
