"""Cross-site request forgery: a state-changing request that a browser sends with the operator's cookie
must come from one of eta's own pages. Browsers say where a request comes from in ``Origin`` (and, where
they leave it out, ``Referer``); a request naming another origin, or none, is refused.

The server's own origin is the scheme the client used (through trusted proxies, :mod:`eta.api.proxies`)
and the ``Host`` it asked for: a reverse proxy must pass ``Host`` on unchanged.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def same_origin(request: Request) -> bool:
    own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.strip().lower() == own
