"""Interactive API documentation that works offline: Swagger UI at ``/docs`` and ReDoc at ``/redoc``,
their scripts and styles served by eta itself from the ``fastapi-offline`` package (a maintained copy of
the upstream builds), never from a CDN. No inline script, so a strict Content-Security-Policy
(``script-src 'self'``) does not break them."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

router = APIRouter(include_in_schema=False)

ASSETS = "/docs/assets"
_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
_CACHE = "public, max-age=86400"

_SWAGGER_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
});
"""

_SWAGGER_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>eta — API documentation</title>
<link rel="icon" type="image/png" href="{ASSETS}/favicon.png">
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{ASSETS}/swagger-init.js"></script>
</body>
</html>
"""

_REDOC_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>eta — API reference</title>
<link rel="icon" type="image/png" href="{ASSETS}/favicon.png">
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="{ASSETS}/redoc.standalone.js"></script>
</body>
</html>
"""


def _static() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return HTMLResponse(_SWAGGER_PAGE)


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    return HTMLResponse(_REDOC_PAGE)


@router.get(f"{ASSETS}/swagger-init.js")
async def swagger_init() -> Response:
    return Response(_SWAGGER_INIT, media_type="text/javascript", headers={"Cache-Control": _CACHE})


@router.get(ASSETS + "/{name}")
async def asset(name: str) -> Response:
    media_type = _FILES.get(name)
    if media_type is None:  # only the files named above: never a path into the package
        return Response(status_code=404)
    return FileResponse(_static() / name, media_type=media_type, headers={"Cache-Control": _CACHE})
