"""The user's guide stays a guide: short, its commands the ones CI runs, its links alive, the settings
table generated from the code."""

from __future__ import annotations

import re
from pathlib import Path

from eta.collectors.registry import KINDS, kinds_table
from eta.config import settings_table

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_MAX_LINES = 210


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


def test_every_example_of_what_to_look_at_answers_on_the_demo_as_printed(tmp_path: Path) -> None:
    """The README's curl examples against the demo's quick store, each server on its own day's clock at
    17:30 as `eta demo` starts them: every one answers 200, the boards and trips with something in them."""
    from urllib.parse import urlsplit

    from fastapi.testclient import TestClient

    from eta.api.apikeys import create_key
    from eta.api.app import create_app
    from eta.clock import ManualClock
    from eta.config import Settings
    from eta.demo import prepare_quick
    from eta.demo.progress import Stages

    section = _readme().split("## What to look at", 1)[1].split("\n## ", 1)[0]
    examples = re.findall(r"^curl .*?'?(http://127\.0\.0\.1:(\d+)[^'\s]*)'?", section, flags=re.M)
    assert len(examples) >= 4
    store = prepare_quick(Settings(data_dir=tmp_path / "var"), Stages(lambda _: None))
    key, _ = create_key(store.engine, "readme")
    servers = {}
    for port, day in (("8000", store.trains), ("8001", store.flights)):
        app = create_app(
            store.settings.model_copy(
                update={"api": store.settings.api.model_copy(update={"accuracy_stale_s": 0})}
            ),
            engine=store.engine,
            clock=ManualClock(day.serve_from),
        )
        servers[port] = TestClient(app).__enter__()
    try:
        for address, port in examples:
            url = urlsplit(address)
            headers = (
                {"X-API-Key": key} if "X-API-Key" in section.split(address)[0].rsplit("\n", 1)[-1] else {}
            )
            answer = servers[port].get(f"{url.path}?{url.query}" if url.query else url.path, headers=headers)
            assert answer.status_code == 200, f"{address}: {answer.status_code} {answer.text[:300]}"
            body = answer.json()
            if "/operator/" in address:  # at 17:30 no train served since 17:15 has arrived yet: rows come
                assert isinstance(body["rows"], list)  # as the clock goes on, or from the full store
                continue
            assert body.get("arrivals") or body.get("calls"), f"{address} answered empty"
    finally:
        for client in servers.values():
            client.__exit__(None, None, None)
        store.engine.dispose()
