"""A collector kind: the code of one source (its adapter) and the settings model each instance fills in.

Kinds are declared by their provider's package (``eta/collectors/sources/<provider>/__init__.py``),
beside the adapter and the settings; instances are named in the settings and built by
:mod:`eta.collectors.registry`, the way OpenTripPlanner configures its updaters by type.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from eta.collectors.base import Adapter


class SourceSettings(BaseModel):
    """What each kind's settings model derives from."""

    model_config = ConfigDict(extra="forbid")  # a mistyped setting is an error, not ignored

    if TYPE_CHECKING:
        # Seconds between two runs of an instance. Every kind declares it with its own default and bounds;
        # declared here for type checkers only, as pydantic would move it to the top of each kind's table.
        interval_s: int = 0


@dataclass(frozen=True)
class Kind:
    name: str  # e.g. "gtfs-rt"; also the name of the kind's default instance
    provider: str  # who runs the source, e.g. "Deutsche Bahn"
    summary: str  # one line for `eta collect --help`
    settings: type[SourceSettings]  # what an instance is configured with (extra keys are errors)
    adapter: str  # "module:Class", imported when an instance is built (heavy dependencies stay lazy)
    push: bool = False  # the source pushes (ZeroMQ) instead of being polled

    def build(self, config: SourceSettings) -> Adapter[SourceSettings]:
        module, _, cls = self.adapter.partition(":")
        adapter: Adapter[SourceSettings] = getattr(import_module(module), cls)(config)
        return adapter
