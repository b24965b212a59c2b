"""Pure domain core: no I/O, no async, no web framework, no SQL."""
