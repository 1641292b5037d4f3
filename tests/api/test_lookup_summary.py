"""The explanation's one-sentence summary names a factor that moved the prediction the way it goes."""

from __future__ import annotations

from eta.api.lookup import _summary
from eta.api.schemas import Factor


def _factor(contribution_s: int, text: str) -> Factor:
    return Factor(feature="x", contribution_s=contribution_s, text=text)


def test_a_late_prediction_is_not_summed_up_by_a_factor_pulling_it_earlier() -> None:
    factors = [
        _factor(-1500, "-25 min: trains 40 min late at Spandau usually make up time on the way here"),
        _factor(2400, "+40 min: the train was 40 min late at Spandau"),
        _factor(-2700, "-45 min: it is scheduled to set off in 10 min"),
    ]
    assert _summary(900, factors) == (
        "Expected 15 min late. What moved the prediction most: +40 min: the train was 40 min late at Spandau."
    )


def test_an_early_prediction_names_what_made_it_early() -> None:
    factors = [_factor(300, "+5 min: on a Monday"), _factor(-240, "-4 min: trains here lately were early")]
    assert _summary(-180, factors) == (
        "Expected 3 min early. What moved the prediction most: -4 min: trains here lately were early."
    )


def test_without_a_factor_the_way_it_goes_only_the_expectation_is_said() -> None:
    assert _summary(600, [_factor(-120, "-2 min: on a Sunday")]) == "Expected 10 min late."
    assert _summary(20, [_factor(-120, "-2 min: on a Sunday")]) == (
        "Expected on time. What moved the prediction most: -2 min: on a Sunday."
    )
