"""Where a benchmark's numbers go: one JSON file, beside the table it prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_results(path: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` to ``path`` as indented JSON (its folder made if need be); say so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    return path
