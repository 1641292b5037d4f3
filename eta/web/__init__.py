"""The traveller's web page: server-rendered frame, static script and styles, service worker."""
