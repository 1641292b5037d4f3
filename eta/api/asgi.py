"""The ASGI app built from the environment's settings, for ``eta serve`` (each worker) and any ASGI server."""

from __future__ import annotations

from eta.api.app import create_app
from eta.config import get_settings
from eta.logging import configure_logging

configure_logging(get_settings())
app = create_app(get_settings(), freeze_gc=True)
