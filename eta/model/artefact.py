"""Model files on disk: xgboost's own UBJSON format (never pickle), JSON sidecars, and their hashes.

A model directory holds ``model.ubj`` (the booster), optionally ``interval.ubj`` (a second booster, for
arrival models whose P50 and P10/P90 are fitted apart) and ``median_1.ubj``, ``median_2.ubj``, … (further
P50 boosters, for arrival models whose P50 is the mean of several), ``history.json`` (the training
window's aggregates the features look up) and ``meta.json`` (training window, feature list, vocabularies,
calibration, metrics, params, and the sha256 of the other files). The registry stores the sha256 of
``meta.json``, so a change to any file is caught by :func:`verify`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xgboost as xgb

from eta.errors import EtaError
from eta.features.history import History

MODEL_FILE = "model.ubj"
INTERVAL_FILE = "interval.ubj"
EXTRA_MEDIAN_FILE = "median_{}.ubj"
HISTORY_FILE = "history.json"
META_FILE = "meta.json"


class IntegrityError(EtaError):
    """A model's files do not match the hashes recorded when it was trained."""


@dataclass
class Artefact:
    """A trained model as stored: the booster, its history tables and its metadata."""

    booster: xgb.Booster
    history: History
    meta: dict[str, Any]
    # Arrival models since the P50 got its own booster: the P10 and P90 (None: ``booster`` gives all three).
    interval_booster: xgb.Booster | None = None
    # Arrival models whose P50 is the mean of several boosters: those besides ``booster``.
    extra_median_boosters: list[xgb.Booster] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        return list(self.meta["features"])


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(artefact: Artefact, directory: Path) -> str:
    """Write the model's files into ``directory``; returns the sha256 of meta.json (the model's hash)."""
    directory.mkdir(parents=True, exist_ok=True)
    artefact.booster.save_model(str(directory / MODEL_FILE))
    files = [MODEL_FILE, HISTORY_FILE]
    if artefact.interval_booster is not None:
        artefact.interval_booster.save_model(str(directory / INTERVAL_FILE))
        files.append(INTERVAL_FILE)
    for number, extra in enumerate(artefact.extra_median_boosters, start=1):
        name = EXTRA_MEDIAN_FILE.format(number)
        extra.save_model(str(directory / name))
        files.append(name)
    artefact.history.save(directory / HISTORY_FILE)
    meta = dict(artefact.meta)
    meta["files"] = {name: sha256_file(directory / name) for name in files}
    (directory / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
    artefact.meta = meta
    return sha256_file(directory / META_FILE)


def verify(directory: Path, expected_hash: str | None = None) -> dict[str, Any]:
    """Check every file against the recorded hashes; returns the metadata or raises IntegrityError."""
    meta_path = directory / META_FILE
    if not meta_path.exists():
        raise IntegrityError(f"model directory {directory} has no {META_FILE}")
    if expected_hash is not None and sha256_file(meta_path) != expected_hash:
        raise IntegrityError(f"{meta_path} does not match the hash recorded in the registry")
    meta: dict[str, Any] = json.loads(meta_path.read_text())
    for name, digest in meta.get("files", {}).items():
        path = directory / name
        if not path.exists() or sha256_file(path) != digest:
            raise IntegrityError(f"{path} was changed or is missing since the model was trained")
    return meta


def load(directory: Path, expected_hash: str | None = None) -> Artefact:
    """Load a model after checking its integrity."""
    meta = verify(directory, expected_hash)
    booster = xgb.Booster()
    booster.load_model(str(directory / MODEL_FILE))
    interval = None
    if INTERVAL_FILE in meta.get("files", {}):
        interval = xgb.Booster()
        interval.load_model(str(directory / INTERVAL_FILE))
    return Artefact(
        booster=booster,
        history=History.load(directory / HISTORY_FILE),
        meta=meta,
        interval_booster=interval,
        extra_median_boosters=_extra_medians(directory, meta),
    )


def _extra_medians(directory: Path, meta: dict[str, Any]) -> list[xgb.Booster]:
    boosters = []
    number = 1
    while EXTRA_MEDIAN_FILE.format(number) in meta.get("files", {}):
        booster = xgb.Booster()
        booster.load_model(str(directory / EXTRA_MEDIAN_FILE.format(number)))
        boosters.append(booster)
        number += 1
    return boosters
