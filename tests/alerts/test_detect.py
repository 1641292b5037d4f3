"""Platform changes: announced ones at once, eta's predicted ones only to those who opted in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eta.alerts.detect import Update, Watch, observe

T0 = datetime(2025, 9, 3, 14, 0, tzinfo=UTC)


def _updates(*platforms: tuple[str, bool]) -> list[Update]:
    return [
        Update(T0 + timedelta(minutes=5 * i), None, None, None, platform, 0.7, announced)
        for i, (platform, announced) in enumerate(platforms)
    ]


def _notified(predicted: bool, *platforms: tuple[str, bool]) -> list[tuple[str | None, str]]:
    watch = Watch()
    out = []
    for update in _updates(*platforms):
        for change in observe(
            watch,
            update,
            watch_platform=True,
            arrival_threshold_s=None,
            confirm=2,
            watch_predicted_platform=predicted,
        ):
            out.append((str(change.previous), str(change.current)))
    return out


def test_a_predicted_change_is_notified_once_confirmed_to_those_who_asked() -> None:
    # before the announcement: eta predicts 7, then twice 9; the operator then announces 9
    sequence = (("7", False), ("9", False), ("9", False), ("9", True))
    assert _notified(True, *sequence) == [("7", "9")]


def test_without_the_opt_in_only_the_announcement_is_notified() -> None:
    sequence = (("7", False), ("9", False), ("9", False), ("9", True))
    assert _notified(False, *sequence) == [("7", "9")]
    # it comes with the announcement, not with the confirmed prediction before it
    assert _notified(False, *sequence[:3]) == []
    assert _notified(True, *sequence[:3]) == [("7", "9")]


def test_an_announcement_back_to_the_notified_platform_is_no_change() -> None:
    assert _notified(False, ("7", True), ("9", False), ("7", True)) == []
