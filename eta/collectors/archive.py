"""The raw payload archive: every fetched body, gzip-compressed, written before it is parsed.

Layout: ``<data_dir>/raw/<source>/<YYYY-MM-DD>/<fetched_at>__<kind>__<k=v,…>.<ext>.gz``. The name alone
says when and what was fetched, so a payload archived by a process that died before writing it to the
store can be found and ingested later, and a parser fix can reprocess history.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

from eta.collectors.base import Request

STAMP = "%Y%m%dT%H%M%S%fZ"


def root(data_dir: Path) -> Path:
    return data_dir / "raw"


def relative_path(source: str, request: Request, fetched_at: datetime, extension: str) -> str:
    when = fetched_at.astimezone(UTC)
    params = ",".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in request.params)
    return (
        f"{source}/{when.date().isoformat()}/{when.strftime(STAMP)}__{request.kind}__{params}.{extension}.gz"
    )


def parse_name(path: str) -> tuple[datetime, Request]:
    """(fetched_at, request) from an archive path made by :func:`relative_path`."""
    name = path.rsplit("/", 1)[-1]
    stamp, kind, rest = name.split("__", 2)
    params_text = rest.split(".", 1)[0]
    params = []
    for pair in filter(None, params_text.split(",")):
        key, _, value = pair.partition("=")
        params.append((unquote(key), unquote(value)))
    return datetime.strptime(stamp, STAMP).replace(tzinfo=UTC), Request(kind, tuple(params))


def write(data_dir: Path, path: str, body: bytes) -> None:
    """Write atomically (temp file + rename): a crash leaves the file whole or absent, never half."""
    target = root(data_dir) / path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as raw:
        # mtime=0: the same body always gives the same bytes
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
            gz.write(body)
        raw.flush()
        os.fsync(raw.fileno())
    tmp.replace(target)


def read(data_dir: Path, path: str) -> bytes:
    with gzip.open(root(data_dir) / path, "rb") as handle:
        return handle.read()


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def archived_paths(data_dir: Path, source: str, since: date) -> list[str]:
    """Archived paths of ``source`` in day folders from ``since`` on, oldest first."""
    base = root(data_dir) / source
    if not base.is_dir():
        return []
    paths = []
    for day in sorted(base.iterdir()):
        if not day.is_dir() or day.name < since.isoformat():
            continue
        paths += [f"{source}/{day.name}/{f.name}" for f in day.iterdir() if f.name.endswith(".gz")]
    return sorted(paths, key=lambda p: p.rsplit("/", 1)[-1])


def days_back(now: datetime, days: int) -> date:
    return (now.astimezone(UTC) - timedelta(days=days)).date()
