"""``/dashboard``: the operator page (API key by header, or the session its login form opens).

The login and logout forms must come from eta's own pages (:mod:`eta.api.origin`); failed logins are
throttled per client IP; the cookie is a server-side session (:mod:`eta.api.sessions`), HttpOnly,
SameSite=Strict, and Secure over https (``ETA_API__SECURE_COOKIES``).
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from eta._time import utcnow
from eta.api import accuracy, sessions, status
from eta.api.accuracy_view import accuracy_frame
from eta.api.apikeys import KeyInfo, verify_key
from eta.api.dashboard import plots
from eta.api.deps import API_KEY_HEADER, Now, State, client_ip
from eta.api.origin import same_origin

router = APIRouter(prefix="/dashboard", include_in_schema=False)
CSS = (Path(__file__).parent / "dashboard.css").read_text(encoding="utf-8")
FOREIGN_FORM = "This form must be sent from eta's own sign-in page."


def _key_from(request: Request, state: Any) -> KeyInfo | None:
    key = request.headers.get(API_KEY_HEADER)
    if key:
        return verify_key(state.engine, key)
    session = request.cookies.get(sessions.COOKIE)
    return sessions.session_key(state.engine, session, utcnow()) if session else None


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{CSS}</style></head>"
        f"<body>{body}</body></html>"
    )


def _login_page(message: str = "") -> str:
    note = f"<p class='bad' role='alert'>{html.escape(message)}</p>" if message else ""
    return _page(
        "eta — operator login",
        "<form class='login' method='post' action='/dashboard/login'><h1>eta operator dashboard</h1>"
        f"{note}<label for='api_key'>API key</label>"
        "<input id='api_key' name='api_key' type='password' autocomplete='off' required>"
        "<button type='submit'>Sign in</button>"
        "<p class='muted'>Create a key with <code>eta apikey create --name NAME</code>.</p></form>",
    )


DEFAULT_DAYS = 7


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request, state: State, now: Now, days: Annotated[int, Query(ge=1, le=400)] = DEFAULT_DAYS
) -> HTMLResponse:
    key = _key_from(request, state)
    if key is None:
        return HTMLResponse(_login_page(), status_code=401)
    return HTMLResponse(render(state, now, days, key))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, state: State) -> Response:
    if not same_origin(request):
        return HTMLResponse(_login_page(FOREIGN_FORM), status_code=403)
    client = client_ip(request)
    wait = state.login_failures.peek(client)
    if wait > 0:
        retry = state.login_failures.retry_after_s(wait)
        return HTMLResponse(
            _login_page(f"Too many failed sign-ins from this address; try again in {retry // 60 + 1} min."),
            status_code=429,
            headers={"Retry-After": str(retry)},
        )
    body = (await request.body()).decode("utf-8", errors="replace")
    key = (parse_qs(body).get("api_key") or [""])[0].strip()
    found = verify_key(state.engine, key) if key else None
    if found is None:
        state.login_failures.take(client)
        return HTMLResponse(_login_page("This API key is unknown or revoked."), status_code=401)
    settings = state.settings.api
    token = sessions.open_session(state.engine, found, utcnow(), settings.session_ttl_s)
    response = RedirectResponse("/dashboard", status_code=303)
    secure = settings.secure_cookies
    response.set_cookie(
        sessions.COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" if secure is None else secure,
        max_age=settings.session_ttl_s,
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, state: State) -> Response:
    if not same_origin(request):
        return HTMLResponse(_login_page(FOREIGN_FORM), status_code=403)
    token = request.cookies.get(sessions.COOKIE)
    if token:
        sessions.revoke_session(state.engine, token, utcnow())
    response = RedirectResponse("/dashboard", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


def predraw(state: Any, now: datetime, days: int = DEFAULT_DAYS) -> None:
    """Draw the accuracy plots of the default window (the view calls it once a join is kept, in its
    background thread), so that the next dashboard page finds them drawn."""
    start = now - timedelta(days=days)
    frame = accuracy_frame(state, start, now, now)
    rolled = accuracy.rolled_up(state.engine, start, now)
    plots.error_by_horizon(accuracy.summarise(frame, "horizon", rolled))
    plots.predicted_vs_actual(frame)
    plots.platform_calibration(accuracy.platform_calibration(frame))


def render(state: Any, now: datetime, days: int, key: KeyInfo) -> str:
    start = now - timedelta(days=days)
    frame = accuracy_frame(state, start, now, now)
    rolled = accuracy.rolled_up(state.engine, start, now)  # days past the predictions' retention
    by_horizon = accuracy.summarise(frame, "horizon", rolled)
    overall = accuracy.summarise(frame, "overall", rolled)
    calibration = accuracy.platform_calibration(frame)
    collectors = status.collector_status(state.engine, now, state.settings.collectors.enabled)
    champions = [m for m in status.models(state.engine, now) if m["role"] == "champion"]
    ready = state.readiness.snapshot
    readiness = (
        "<span class='ok'>ready</span>"
        if ready.ready
        else "<span class='bad'>not ready</span>: " + html.escape("; ".join(ready.reasons))
    )
    sections = [
        _section(
            "Accuracy of served predictions",
            "accuracy",
            _overall_text(overall, days)
            + _versions(frame)
            + plots.error_by_horizon(by_horizon)
            + _accuracy_table(by_horizon),
        ),
        _section("Predicted against actual", "predicted-vs-actual", plots.predicted_vs_actual(frame)),
        _section(
            "Platform calibration",
            "platform-calibration",
            plots.platform_calibration(calibration) + _calibration_text(calibration),
        ),
        _section(
            "Collectors: data freshness and errors",
            "collectors",
            plots.collector_freshness(collectors) + _collector_table(collectors),
        ),
        _section("Champion models", "models", _models_table(champions)),
    ]
    header = (
        "<header><h1>eta operator dashboard</h1><div>"
        f"<span id='readiness'>{readiness}</span> · as of {html.escape(now.isoformat(timespec='seconds'))}"
        f" · key {html.escape(key.name)}"
        "<form class='logout' method='post' action='/dashboard/logout'>"
        "<button type='submit'>Sign out</button></form></div></header>"
    )
    return _page("eta — operator dashboard", header + "<main>" + "".join(sections) + "</main>")


def _section(title: str, anchor: str, content: str) -> str:
    return f"<section id='{anchor}'><h2>{html.escape(title)}</h2>{content}</section>"


def _overall_text(overall: list[dict[str, Any]], days: int) -> str:
    if not overall:
        return f"<p class='muted'>No served predictions with a known arrival in the last {days} days.</p>"
    row = overall[0]
    parts = [
        f"<strong id='n-predictions'>{row['n']:,}</strong> served predictions over the last {days} days",
        f"eta {_minutes(row['model_mae_s'])}",
        f"timetable {_minutes(row['timetable_mae_s'])}",
    ]
    if row["operator_mae_s"] is not None:
        parts.append(f"operator estimate {_minutes(row['operator_mae_s'])}")
    coverage = f"; P10–P90 holds {row['p10_p90_coverage']:.0%} of arrivals (ideal 80%)"
    return "<p>" + parts[0] + " — mean absolute error: " + ", ".join(parts[1:]) + coverage + ".</p>"


def _versions(frame: Any) -> str:
    if frame.empty:
        return ""
    versions = ", ".join(sorted(str(v) for v in frame["model_version"].unique()))
    return f"<p class='muted' id='model-versions'>Served by: {html.escape(versions)}</p>"


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def _accuracy_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    head = (
        "<tr><th>horizon</th><th>n</th><th>eta</th><th>timetable</th><th>operator</th>"
        "<th>P10–P90 coverage</th></tr>"
    )
    body = "".join(
        f"<tr><td>{html.escape(str(r['group']))}</td><td>{r['n']:,}</td><td>{_minutes(r['model_mae_s'])}</td>"
        f"<td>{_minutes(r['timetable_mae_s'])}</td><td>{_minutes(r['operator_mae_s'])}</td>"
        f"<td>{r['p10_p90_coverage']:.0%}</td></tr>"
        for r in rows
    )
    return f"<table id='accuracy-by-horizon'>{head}{body}</table>"


def _calibration_text(points: list[dict[str, Any]]) -> str:
    n = sum(int(p["n"]) for p in points)
    return f"<p class='muted'>{n:,} platform predictions with a known platform.</p>" if n else ""


def _collector_table(collectors: list[dict[str, Any]]) -> str:
    if not collectors:
        return ""
    head = (
        "<tr><th>collector</th><th>enabled</th><th>data age</th><th>runs 24 h</th><th>failed</th>"
        "<th>errors by kind</th><th>last success</th></tr>"
    )
    rows = []
    for c in collectors:
        age = "–" if c["data_age_s"] is None else plots.age_text(max(c["data_age_s"], 0) / 60)
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(c["errors_24h"].items())) or "none"
        last = c["last_success_at"].isoformat(timespec="minutes") if c["last_success_at"] else "never"
        css = "bad" if c["consecutive_failures"] else "ok"
        rows.append(
            f"<tr><td>{html.escape(c['collector'])}</td><td>{'yes' if c['enabled'] else 'no'}</td>"
            f"<td>{age}</td>"
            f"<td>{c['runs_24h']}</td><td class='{css}'>{c['failures_24h']}</td>"
            f"<td>{html.escape(errors)}</td>"
            f"<td>{html.escape(last)}</td></tr>"
        )
    return f"<table id='collector-table'>{head}{''.join(rows)}</table>"


def _models_table(champions: list[dict[str, Any]]) -> str:
    if not champions:
        return "<p class='bad'>No champion model is registered.</p>"
    head = (
        "<tr><th>version</th><th>mode</th><th>task</th><th>trained on</th><th>metrics</th>"
        "<th>served interval</th></tr>"
    )
    rows = []
    for m in champions:
        metrics = metrics_text(m["metrics"])
        window = f"{m['train_from']:%Y-%m-%d} → {m['train_until']:%Y-%m-%d} ({m['n_train']:,})"
        rows.append(
            f"<tr><td>{html.escape(m['version'])}</td><td>{html.escape(m['mode'])}</td>"
            f"<td>{html.escape(m['task'])}</td><td>{html.escape(window)}</td><td>{html.escape(metrics)}</td>"
            f"<td>{html.escape(_served_interval(m))}</td></tr>"
        )
    return f"<table id='models-table'>{head}{''.join(rows)}</table>"


def _served_interval(model: dict[str, Any]) -> str:
    if model["task"] != "arrival":
        return "–"
    fitted = model.get("served_calibration")
    if fitted is None:
        return "the model's own (not re-calibrated yet)"
    return (
        f"re-calibrated {fitted['computed_at']:%Y-%m-%d %H:%M} UTC on {fitted['n']:,} served predictions "
        f"(the model's own P10–P90 covered {100 * fitted['model_coverage_p10_p90']:.0f} %)"
    )


# What each metric a model's training writes means, in words an operator reads at a glance.
_METRIC_WORDS: dict[str, Any] = {
    "mae_s": lambda v: f"P50 off by {_minutes(v)} on average",
    "coverage_p10_p90": lambda v: f"P10–P90 holds {100 * v:.1f} %",
    "top1": lambda v: f"top platform right {100 * v:.2f} %",
    "log_loss": lambda v: f"log loss {v:.4f}",
    "n": lambda v: f"on {int(v):,} held-out rows",
    "nan_predictions": lambda v: f"{int(v):,} predictions missing (NaN)" if v else "",
}


def metrics_text(metrics: dict[str, Any]) -> str:
    """A model's calibration metrics as a sentence ("P50 off by 1.2 min on average, P10–P90 holds 80.0 %
    on 33,122 held-out rows"); metrics without words are shown as name: value."""
    said = [
        _METRIC_WORDS[key](metrics[key])
        for key in _METRIC_WORDS
        if key != "n" and isinstance(metrics.get(key), int | float)
    ]
    said = [part for part in said if part]
    said += [f"{key}: {_fmt(value)}" for key, value in sorted(metrics.items()) if key not in _METRIC_WORDS]
    text = ", ".join(said)
    if text and isinstance(metrics.get("n"), int | float):
        text += " " + _METRIC_WORDS["n"](metrics["n"])
    return text or "–"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict | list):
        return json.dumps(value)[:80]
    return str(value)
