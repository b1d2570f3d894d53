"""What a check hands back: a table of measured rows, its figures, and how to print it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Column:
    """One column of a table: the row key, its header and a format spec for its numbers."""

    key: str
    header: str
    spec: str = ""


@dataclass
class CheckResult:
    """The result of one check: rows of measured numbers, the figures drawn, and notes."""

    check: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    figures: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        """The rows as a plain-text table under the title, followed by the notes."""
        cells = [[c.header for c in self.columns]]
        cells += [[_format(row[c.key], c.spec) for c in self.columns] for row in self.rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(self.columns))]
        # Text columns align left, numbers right.
        left = [isinstance(self.rows[0][c.key], str) if self.rows else False for c in self.columns]
        lines = [
            "  ".join(
                cell.ljust(width) if is_text else cell.rjust(width)
                for cell, width, is_text in zip(line, widths, left, strict=True)
            ).rstrip()
            for line in cells
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join([f"{self.check}: {self.title}", *lines, *self.notes])

    def to_json(self) -> dict[str, Any]:
        """The rows, figures and notes as plain JSON values."""
        return {
            "title": self.title,
            "rows": self.rows,
            "figures": [str(path) for path in self.figures],
            "notes": self.notes,
        }


def _format(value: Any, spec: str) -> str:
    if isinstance(value, float) and spec:
        return format(value, spec)
    return str(value)
