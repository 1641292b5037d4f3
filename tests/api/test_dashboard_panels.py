"""The dashboard's collector and model panels read at a glance: ages to scale (a source of another period
does not squash the others), never negative; model metrics in words."""

from __future__ import annotations

from typing import Any

import pytest

from eta.api.dashboard import plots
from eta.api.dashboard.plots import age_text, collector_freshness, freshness_bars
from eta.api.dashboard.routes import metrics_text

YEARS_12_S = 12 * 365 * 86_400


def _collector(name: str, age_s: float | None, failures: int = 0) -> dict[str, Any]:
    return {"collector": name, "data_age_s": age_s, "failures_24h": failures, "runs_24h": 40}


def test_a_source_of_another_period_is_drawn_off_the_scale_of_the_recent_ones() -> None:
    """The demo's trains server beside the 2013 flights: minutes stay readable."""
    limit, bars = freshness_bars(
        [_collector("db-iris", 240), _collector("store-replay", YEARS_12_S), _collector("metar", 900, 2)]
    )
    assert limit == 1.25 * 15  # the recent ages set the axis
    iris, flights, metar = bars
    assert (iris.width_min, iris.off_scale, iris.label) == (4, False, "0 failed of 40")
    assert flights.off_scale and flights.width_min == limit
    assert flights.label.startswith("12 years old, off the scale")
    assert metar.failing and metar.width_min == 15


def test_ages_are_never_drawn_below_zero_and_unknown_ones_say_so() -> None:
    limit, bars = freshness_bars([_collector("db-iris", -600), _collector("gtfs-rt", None)])
    assert limit == 10.0 and bars[0].width_min == 0 and bars[1].label == "no data yet"
    assert "<svg" in collector_freshness([_collector("db-iris", -600), _collector("gtfs-rt", None)])


def test_ages_read_in_their_own_unit() -> None:
    assert [age_text(m) for m in (45, 300, 4_320, YEARS_12_S / 60)] == ["45 min", "5 h", "3 days", "12 years"]


def test_model_metrics_read_as_words() -> None:
    arrival = {"coverage_p10_p90": 0.7997, "mae_s": 70.5, "n": 33_122, "nan_predictions": 0}
    assert (
        metrics_text(arrival) == "P50 off by 1.2 min on average, P10–P90 holds 80.0 % on 33,122 held-out rows"
    )
    platform = {"log_loss": 0.0177, "nan_predictions": 0, "top1": 0.9956}
    assert metrics_text(platform) == "top platform right 99.56 %, log loss 0.0177"
    assert metrics_text({"mae_s": 60.0, "brier": 0.1}) == "P50 off by 1.0 min on average, brier: 0.1"
    assert metrics_text({}) == "–"


def test_a_plot_of_the_same_inputs_is_drawn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """matplotlib takes 0.3-0.5 s a plot on a loaded machine: the dashboard draws each input once."""
    drawn: list[int] = []
    svg = plots._svg

    def counted(fig: Any) -> str:
        drawn.append(1)
        return svg(fig)

    monkeypatch.setattr(plots, "_svg", counted)
    rows = [{"group": "0-15 min", "model_mae_s": 60.0, "timetable_mae_s": 120.0, "operator_mae_s": None}]
    first = plots.error_by_horizon(rows)
    assert plots.error_by_horizon([dict(r) for r in rows]) == first and len(drawn) == 1
    moved = plots.error_by_horizon([rows[0] | {"model_mae_s": 66.0}])
    assert moved != first and len(drawn) == 2  # another figure: drawn again
