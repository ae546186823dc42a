"""End-to-end stories: a real ``openbss serve`` and ``openbss`` CLI subprocesses, driven
through the public HTTP API and the command line only (no openbss import)."""
