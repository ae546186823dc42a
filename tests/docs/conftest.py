"""tests/docs: the documentation's commands, run against a real server (see
test_doc_commands.py). Its helper module sits next to it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
