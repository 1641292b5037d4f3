"""Collector instances by name: each is a kind (its code, in ``eta/collectors/sources/<provider>/``) with
its own settings, so several feeds of one kind run side by side — two operators' GTFS-Realtime feeds,
say, each with its URL, static feed, key and interval.

Every kind has a default instance named after it (``db-iris``, ``gtfs-rt``…), configured as before by
``ETA_COLLECTORS__DB_IRIS__API_KEY`` and the like. Any other section of ``ETA_COLLECTORS__`` names a new
instance and says its kind::

    ETA_COLLECTORS__GTFS_NL__KIND=gtfs-rt
    ETA_COLLECTORS__GTFS_NL__REALTIME_URL=https://…/tripUpdates.pb
    ETA_COLLECTORS__GTFS_CH='{"kind": "gtfs-rt", "realtime_url": "…", "api_key": "…", "interval_s": 30}'

Underscores in a section's name become hyphens in the instance's (``gtfs-nl``), which is what
``ETA_COLLECTORS__ENABLED``, ``eta collect --source`` and the metrics' ``collector`` label use. An
instance other than a kind's default also stores its rows under its own name as their source, so two
feeds' ids never meet (see :meth:`eta.collectors.base.Adapter.named`).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from eta.collectors.base import Adapter
from eta.collectors.kind import Kind, SourceSettings
from eta.collectors.sources import aviationweather, db, flight_status, gtfs, ns, open_meteo, opensky
from eta.config import Settings, section_rows
from eta.errors import InputError, validation_message

PROVIDERS = (db, gtfs, ns, flight_status, opensky, open_meteo, aviationweather)
KINDS: dict[str, Kind] = {kind.name: kind for provider in PROVIDERS for kind in provider.KINDS}


@dataclass(frozen=True)
class Instance:
    name: str
    kind: Kind
    config: SourceSettings

    @property
    def interval_s(self) -> int:
        return self.config.interval_s


def instances(settings: Settings) -> dict[str, Instance]:
    """Every collector instance: each kind's default, then the configured ones (which may override it)."""
    found = {name: Instance(name, kind, kind.settings()) for name, kind in KINDS.items()}
    for key, raw in settings.collectors.sections().items():
        name = key.replace("_", "-")
        found[name] = _instance(name, key, raw)
    return found


def instance(name: str, settings: Settings) -> Instance:
    known = instances(settings)
    if name not in known:
        raise InputError(f"unknown collector {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


def make_adapter(name: str, settings: Settings) -> Adapter:
    """The adapter of the instance ``name``, configured with its settings."""
    found = instance(name, settings)
    return found.kind.build(found.config).named(name)


def names(settings: Settings | None = None) -> list[str]:
    """Instance names (every kind's default without ``settings``)."""
    return sorted(instances(settings)) if settings is not None else sorted(KINDS)


def described(settings: Settings) -> list[str]:
    """One line per instance: name, kind, provider, how it is fed, and whether it is enabled."""
    enabled = set(settings.collectors.enabled)
    lines = []
    for name, found in sorted(instances(settings).items()):
        how = "push" if found.kind.push else f"every {found.interval_s} s"
        flag = "enabled" if name in enabled else "-"
        lines.append(f"{name:<16} {found.kind.name:<14} {how:<14} {flag:<8} {found.kind.provider}")
    return lines


def shown_instance(found: Instance) -> dict[str, Any]:
    """An instance's settings for display: secrets masked."""
    return {"kind": found.kind.name, **found.config.model_dump(mode="json")}


def kinds_table() -> str:
    """Markdown: each kind's settings as its default instance reads them (docs/configuration.md)."""
    out: list[str] = []
    for provider in PROVIDERS:
        for kind in provider.KINDS:
            how = "pushed" if kind.push else "polled"
            out += [
                f"### `{kind.name}` — {kind.provider} ({how})",
                "",
                f"{kind.summary[:1].upper()}{kind.summary[1:]}.",
                "",
            ]
            out += ["| variable | default | description |", "|---|---|---|"]
            prefix = f"ETA_COLLECTORS__{kind.name.upper().replace('-', '_')}__"
            out += section_rows(kind.settings, prefix)
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _instance(name: str, key: str, raw: object) -> Instance:
    section = _section(name, raw)
    kind_name = section.pop("kind", None) or (name if name in KINDS else None)
    if kind_name is None:
        raise InputError(
            f"collector {name!r} has no kind: set ETA_COLLECTORS__{key.upper()}__KIND to one of "
            f"{', '.join(sorted(KINDS))}"
        )
    kind = KINDS.get(str(kind_name))
    if kind is None:
        raise InputError(f"collector {name!r}: unknown kind {kind_name!r}; known: {', '.join(sorted(KINDS))}")
    try:
        config = kind.settings.model_validate(_decoded(kind.settings, section))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InputError(f"collector {name!r} ({kind.name}): {where}: {validation_message(error)}") from exc
    return Instance(name, kind, config)


def _section(name: str, raw: object) -> dict[str, Any]:
    """A section as a dict: given as nested variables (a dict) or as one JSON object."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"collector {name!r}: its section is not a JSON object ({exc})") from exc
    if not isinstance(raw, dict):
        raise InputError(f"collector {name!r}: its section must be a JSON object of settings")
    return dict(raw)


def _decoded(model: type[BaseModel], section: dict[str, Any]) -> dict[str, Any]:
    """Values of list, dict or model fields given as JSON text (environment variables) decoded."""
    out = dict(section)
    for key, value in section.items():
        field = model.model_fields.get(key)
        if field is not None and isinstance(value, str) and _structured(field.annotation):
            with contextlib.suppress(json.JSONDecodeError):  # left as text: validation names the field
                out[key] = json.loads(value)
    return out


def _structured(annotation: object) -> bool:
    if get_origin(annotation) in (Union, UnionType):
        return any(_structured(arg) for arg in get_args(annotation) if arg is not NoneType)
    origin = get_origin(annotation) or annotation
    return origin in (list, dict, tuple, set) or (isinstance(origin, type) and issubclass(origin, BaseModel))
