"""The sources, one package per provider: each holds its kinds' adapters, parsers and settings, and
declares its kinds in ``KINDS`` (see :class:`eta.collectors.kind.Kind`)."""
