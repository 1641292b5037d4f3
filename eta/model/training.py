"""``eta train``: train on what the store holds for a window and register the result as a challenger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from eta.config import Settings
from eta.errors import InputError
from eta.features import departures, load_frames, unpublished
from eta.features.platforms import platform_targets
from eta.features.queries import HORIZONS, target_calls
from eta.model import arrival, departure, platform_unpublished, registry
from eta.model import platform as platform_model
from eta.windows import Window


def train_and_register(
    engine: Engine,
    settings: Settings,
    mode: str,
    window: Window,
    tasks: tuple[str, ...] = ("arrival", "platform"),
    dask_client: Any = None,
) -> list[registry.Entry]:
    """Train the mode's models on ``window`` and register each as a challenger; returns the entries.

    The platform models are trained for trains when the window has platform data: ``platform`` where
    the plan is published, ``platform_unpublished`` for stations that announce platforms late; the
    ``departure`` model for trains with departures in the window.
    """
    if mode not in HORIZONS:
        raise InputError(f"unknown mode {mode!r}; choose one of {sorted(HORIZONS)}")
    frames = load_frames(engine, mode, window.start, window.end)
    entries = []
    if "arrival" in tasks and not target_calls(frames, window.start, window.end).empty:
        model = arrival.train(frames, mode, window.start, window.end, settings, dask_client=dask_client)
        entries.append(registry.register(engine, settings, model, arrival.version_for(model.meta)))
    if (
        departure.TASK in tasks
        and mode in departure.MODES
        and not target_calls(departures.view(frames), window.start, window.end).empty
    ):
        model = departure.train(frames, mode, window.start, window.end, settings, dask_client=dask_client)
        entries.append(registry.register(engine, settings, model, arrival.version_for(model.meta)))
    if (
        "platform" in tasks
        and mode == "train"
        and not platform_targets(frames, window.start, window.end).empty
    ):
        model = platform_model.train(frames, window.start, window.end, settings)
        entries.append(registry.register(engine, settings, model, arrival.version_for(model.meta)))
    if (
        "platform_unpublished" in tasks
        and mode == "train"
        and not unpublished.platform_targets(frames, window.start, window.end).empty
    ):
        model = platform_unpublished.train(frames, window.start, window.end, settings)
        entries.append(registry.register(engine, settings, model, arrival.version_for(model.meta)))
    if not entries:
        raise InputError(
            f"no {mode} calls with outcomes between {window.label_from} and {window.label_until} in the "
            "store; import data for this period first (eta import …)"
        )
    return entries
