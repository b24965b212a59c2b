"""Turning uploaded CV files into text: upload checks and sandboxed extraction."""
