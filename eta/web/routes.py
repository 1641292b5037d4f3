"""The traveller's page: ``/`` (search), ``/trip/…``, ``/board/…``, ``/pickup/…``, and its static files.

The server writes only the page's frame in the reader's language; everything about trips comes from the
public JSON API, fetched by the page's script, so that the page proves the API is enough for an app.
Scripts and styles are same-origin files (no inline code), so a strict Content-Security-Policy holds.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from eta.store.ids import LOCATION_CODE, SERVICE_NUMBER
from eta.web import i18n

HERE = Path(__file__).parent
STATIC = HERE / "static"
LANG_COOKIE = "eta_lang"
CODE = r"^[A-Za-z0-9]{1,16}$"
SHARE_ID = r"^shr_[A-Za-z0-9_-]{1,40}$"
# The policy the page is written for; the app's own header (where set) takes precedence.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}

router = APIRouter(include_in_schema=False)
_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), auto_reload=False
)


@lru_cache(maxsize=64)
def _static_version(name: str) -> str:
    """A short content hash, so that a changed file gets a new URL (the files are cached for a year)."""
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"/static/web/{name}?v={_static_version(name)}"


def _messages_json(lang: str) -> str:
    # in a <script type="application/json"> data block: never executed, and "<" cannot end the element
    return json.dumps(i18n.MESSAGES[lang], ensure_ascii=False).replace("<", "\\u003c")


def _page(request: Request, template: str, page: str, **context: Any) -> HTMLResponse:
    asked = request.query_params.get("lang")
    lang = i18n.choose(asked, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    words = i18n.MESSAGES[lang]
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    body = _templates.get_template(template).render(
        lang=lang,
        t=words,
        page=page,
        languages=[(code, i18n.NAMES[code]) for code in i18n.LANGUAGES],
        path=request.url.path,
        query=query,
        messages_json=_messages_json(lang),
        static=static_url,
        **context,
    )
    response = HTMLResponse(body)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers["Cache-Control"] = "no-cache"
    if asked in i18n.LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86_400, samesite="lax", path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """Find a trip by its number and date, or a station's or airport's arrivals."""
    today = request.app.state.eta.clock().date()  # the service's day (a replay's, in the demo)
    return _page(request, "home.html", "home", today=today.isoformat())


@router.get("/trip/{mode}/{operator}/{number}/{service_date}", response_class=HTMLResponse)
def trip_page(
    request: Request,
    mode: Annotated[str, PathParam(pattern=r"^(flight|train)$")],
    operator: Annotated[str, PathParam(pattern=CODE)],
    number: Annotated[str, PathParam(pattern=SERVICE_NUMBER)],
    service_date: date,
    leg: Annotated[str | None, Query(pattern=CODE)] = None,
    stop: Annotated[str | None, Query(pattern=LOCATION_CODE)] = None,
) -> HTMLResponse:
    """One trip: the chosen stop's arrival, its platform, where to park, alerts and a share link."""
    trip = {
        "mode": mode,
        "operator": operator,
        "number": number,
        "service_date": service_date.isoformat(),
        "leg": leg or "",
        "stop": stop or "",
    }
    # the answer the script will ask for, fetched while the script loads (one round trip less)
    api_path = f"/api/v1/trips/{mode}/{operator}/{number}/{service_date.isoformat()}"
    if leg:
        api_path += f"?leg={leg}"
    return _page(request, "trip.html", "trip", trip=trip, heading=f"{operator} {number}", api_path=api_path)


@router.get("/board/{code}", response_class=HTMLResponse)
def board_page(request: Request, code: Annotated[str, PathParam(pattern=LOCATION_CODE)]) -> HTMLResponse:
    """A station's or airport's arrivals over the next two hours."""
    return _page(request, "board.html", "board", code=code)


@router.get("/pickup/{share_id}", response_class=HTMLResponse)
def pickup_page(request: Request, share_id: Annotated[str, PathParam(pattern=SHARE_ID)]) -> HTMLResponse:
    """The read-only page of whoever picks the traveller up (the link's key is in its fragment)."""
    return _page(request, "pickup.html", "pickup", share_id=share_id)


@router.get("/manifest.webmanifest")
def manifest(request: Request) -> Response:
    lang = i18n.choose(None, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    words = i18n.MESSAGES[lang]
    body = {
        "name": "eta",
        "short_name": "eta",
        "description": words["tagline"],
        "lang": lang,
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b5394",
        "icons": [
            {"src": static_url("icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static_url("icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": static_url("icon.svg"), "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
        ],
    }
    return Response(
        json.dumps(body, ensure_ascii=False),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache", "Vary": "Accept-Language, Cookie"},
    )


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker, at the root so that its scope is the whole page; it lists the current assets."""
    assets = [static_url(name) for name in ("app.js", "app.css", "icon.svg", "icon-192.png")]
    head = f"const ASSETS = {json.dumps(assets)};\n"
    return Response(
        head + (STATIC / "sw.js").read_text(encoding="utf-8"),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/static/web/{name}")
def static_file(name: Annotated[str, PathParam(pattern=r"^[a-z0-9-]+\.(js|css|png|svg|txt)$")]) -> Response:
    path = STATIC / name
    if not path.is_file():
        return Response(status_code=404)
    return Response(
        path.read_bytes(),
        media_type=TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )
