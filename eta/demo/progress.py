"""What the demo says while it works: one line per stage as it starts and ends (with its time), so that a
log without a terminal (Docker, CI) still shows where it is; the progress bars themselves (with totals)
come from the importers and the replays, on a terminal."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Say = Callable[[str], None]


@dataclass
class Stages:
    """Stage names and how long each took, in order."""

    say: Say
    took_s: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[None]:
        self.say(f"▶ {name}" + (f" — {detail}" if detail else ""))
        started = time.monotonic()
        yield
        self.took_s[name] = time.monotonic() - started
        self.say(f"✓ {name} ({_duration(self.took_s[name])})")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
