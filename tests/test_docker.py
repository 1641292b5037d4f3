"""The Docker build context: .dockerignore keeps out everything the Dockerfile does not copy (the virtual
environment and var/ would make `docker build` send several GB) and keeps in everything it does.

There is no Docker engine where the tests run; this reads .dockerignore with Docker's rules (patterns
relative to the context, `*` within a path segment, `**` across segments, `!` re-includes, the last
matching line wins, a pattern matching a directory covers what is beneath it)."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTEXT_MAX_BYTES = 100 * 1024 * 1024
WILDCARDS = {"**": ".*", "*": "[^/]*", "?": "[^/]"}


@cache
def _rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = "".join(
            ".*"
            if token == "**"
            else "[^/]*"
            if token == "*"
            else "[^/]"
            if token == "?"
            else re.escape(token)
            for token in re.split(r"(\*\*|\*|\?)", pattern)
        )
        rules.append((negated, re.compile(regex.replace(".*/", "(?:.*/)?"))))
    return rules


def sent(path: str) -> bool:
    """Whether ``docker build`` sends ``path`` (relative to the repository) in its context."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negated, regex in _rules():
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            included = negated
    return included


def _copied_sources() -> list[str]:
    """The context paths the Dockerfile's COPY lines read (not those copied between stages)."""
    sources = []
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from") for word in words):
            sources += [word for word in words[1:-1] if not word.startswith("--")]
    return sources


def _repository_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [path for path in listed.stdout.splitlines() if (ROOT / path).is_file()]


def test_what_the_dockerfile_copies_is_sent() -> None:
    sources = _copied_sources()
    assert sources == ["pyproject.toml", "README.md", "eta", "data"]
    files = _repository_files()
    for source in sources:
        under = [path for path in files if path == source or path.startswith(f"{source}/")]
        assert under, f"the Dockerfile copies {source}, which is not in the repository"
        missing = [path for path in under if not sent(path)]
        assert missing == [], f"{source}: not in the build context: {missing[:5]}"


def test_the_rest_stays_behind() -> None:
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        ".venv-ci/lib/python3.11/site-packages/xgboost/lib/libxgboost.so",
        "var/eta.sqlite3",
        "var/demo-quick/eta.sqlite3",
        "bench/.cache/store.sqlite3",
        "tests/test_demo.py",
        "eta/__pycache__/cli.cpython-311.pyc",
        "eta/demo/__pycache__/days.cpython-311.pyc",
    ):
        assert not sent(path), path


def test_the_context_is_small() -> None:
    size = sum((ROOT / path).stat().st_size for path in _repository_files() if sent(path))
    assert size < CONTEXT_MAX_BYTES, f"the build context would be {size / 2**20:.0f} MiB"
