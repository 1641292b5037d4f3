"""The user's guide stays a guide: short, its commands the ones CI runs, its links alive, the settings
table generated from the code."""

from __future__ import annotations

import re
from pathlib import Path

from eta.collectors.registry import KINDS, kinds_table
from eta.config import settings_table

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_MAX_LINES = 220


def _readme() -> str:
    return README.read_text(encoding="utf-8")


def test_the_configuration_table_is_generated_from_the_settings() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    between = page.split("<!-- settings:start -->")[1].split("<!-- settings:end -->")[0]
    hint = "run `eta config --markdown` and paste it into docs/configuration.md"
    assert between.strip() == settings_table().strip(), hint


def test_the_collector_kinds_tables_are_generated_from_their_settings() -> None:
    """Each kind's settings live beside its code; their tables in docs/configuration.md come from there."""
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    between = page.split("<!-- collectors:start -->")[1].split("<!-- collectors:end -->")[0]
    hint = "run `eta config --markdown` and paste its collectors part into docs/configuration.md"
    assert between.strip() == kinds_table().strip(), hint
    for kind in KINDS:
        assert f"### `{kind}`" in between


def test_the_readme_is_a_short_guide() -> None:
    lines = _readme().splitlines()
    hint = "model notes go to docs/models.md, settings to docs/configuration.md"
    assert len(lines) <= README_MAX_LINES, hint
    assert "settings:start" not in _readme()


def test_the_readme_points_to_nothing_users_do_not_have() -> None:
    text = _readme()
    assert "../shared" not in text and "/work/" not in text
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text) + re.findall(r'src="([^"]+)"', text)
    for target in links:
        if target.startswith(("http://", "https://")):
            continue
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"


def test_the_readme_commands_are_the_ones_ci_runs() -> None:
    """The first two commands of the README set up the demo and the tests; .ci/run runs the same install
    and the same pytest command, so the README's test command is exercised by CI."""
    blocks = re.findall(r"```sh\n(.*?)```", _readme(), flags=re.S)
    demo, tests = blocks[0].strip(), blocks[1].strip()
    assert demo == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/eta demo"
    install = '.venv/bin/pip install -e ".[test,dev,dask]"'
    assert tests == f"python3 -m venv .venv && {install} && .venv/bin/python -m pytest -q"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m venv .venv" in ci
    assert 'pip install --quiet -e ".[test,dev,dask]"' in ci
    assert re.search(r"^python -m pytest -q$", ci, flags=re.M)
