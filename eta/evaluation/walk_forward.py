"""Walk-forward: the test window cut into blocks, each predicted by a model trained on the training window
moved forward to it, as the retraining job retrains on the days before and serves the days after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from eta.errors import InputError
from eta.windows import Window


@dataclass(frozen=True)
class Block:
    """One model's share of the test window and the window it was trained on."""

    train: Window
    test: Window


def blocks(train: Window, test: Window, walk_forward: timedelta | None) -> list[Block]:
    """The whole test window on one model, or blocks of ``walk_forward`` each on a model trained on the
    training window moved forward by as much (the retraining job's own loop)."""
    if walk_forward is None:
        return [Block(train, test)]
    out = []
    start = test.start
    while start < test.end:
        shift = start - test.start
        end = min(start + walk_forward, test.end)
        moved = Window(
            train.start + shift,
            train.end + shift,
            _label(train.start + shift),
            _label(train.end + shift - timedelta(days=1)),
        )
        out.append(Block(moved, Window(start, end, _label(start), _label(end - timedelta(days=1)))))
        start = end
    return out


def _label(at: datetime) -> str:
    return at.date().isoformat()


def parse_period(text: str) -> timedelta:
    """``7d`` → 7 days (whole days only, at least one)."""
    if not text.endswith("d") or not text[:-1].isdigit() or int(text[:-1]) < 1:
        raise InputError(f"--walk-forward {text!r}: give whole days, e.g. 7d")
    return timedelta(days=int(text[:-1]))
