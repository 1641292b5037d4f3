"""Collectors: one module per source, each a pure ``parse`` plus a ``fetch`` driven by a shared runner."""
