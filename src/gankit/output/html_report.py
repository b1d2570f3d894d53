"""``gankit report``: a run folder or a study folder as one self-contained HTML page.

Every picture is embedded as a base64 ``data:`` URI and the style is inline, so the page
opens offline and can be mailed or archived alone. A run folder (``config.yaml``) shows its
summary metrics, training curves, pictures, its nearest rows (a table run) and config; a study
folder (``study.json``, as ``gankit augment`` writes it) shows its settings, tables and
pictures. A folder can be both.

``study.json``: ``{"title": str, "description": str (optional), "settings": {flat dict},
"tables": [{"title", "columns", "rows", "note" (optional)}], "pictures": [{"title",
"path" (relative to the folder), "caption" (optional)}]}``.
"""

from __future__ import annotations

import base64
import io
import json
import math
import time
from html import escape
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import yaml

from gankit.errors import GankitError
from gankit.files import write_atomically
from gankit.output import run_folder
from gankit.output.figures import plot_losses, plot_metrics
from gankit.output.run_folder import CONFIG as CONFIG_FILE
from gankit.output.run_folder import LOSSES as LOSSES_PICTURE
from gankit.output.run_folder import STUDY as STUDY_FILE

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEY_VALUE_ROWS = 16  # longer lists of settings or metrics are split into side-by-side tables
CAPTIONS = {  # for the pictures of a run folder; other names fall back to their stem
    LOSSES_PICTURE: "Losses and mean discriminator outputs against the step",
    run_folder.SAMPLES: "Samples of G at the end of training",
    run_folder.NEAREST: "Samples of G beside their nearest training images (a memorisation check)",
    "real.png": "Real training data",
}
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       max-width: 980px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; }
.meta { color: #59636e; margin-top: 0; }
.scroll { overflow-x: auto; margin: 1em 0; }
.pairs { display: flex; flex-wrap: wrap; gap: 0 1.5em; align-items: flex-start; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.6em; text-align: left; }
th { background: #eef1f4; } tbody tr:nth-child(even) { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #59636e; font-size: 0.85em; margin-top: 0.3em; }
figure { margin: 1.5em 0; } img { max-width: 100%; height: auto; border: 1px solid #eef1f4; }
figcaption { color: #59636e; font-size: 0.9em; }
"""


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of a run or study ``folder`` to ``out`` (default
    ``<folder>/report.html``) and return its path.

    Everything is read and drawn before the file is written, and the file replaces any earlier
    one in a single step: a failed report raises :class:`GankitError` and leaves no trace.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise GankitError(
            f"report folder {str(folder)!r} not found; give a run folder (`gankit train --out`) "
            "or a study folder (`gankit augment`)"
        )
    is_run, is_study = (folder / CONFIG_FILE).is_file(), (folder / STUDY_FILE).is_file()
    if not (is_run or is_study):
        raise GankitError(
            f"{str(folder)!r} has neither {CONFIG_FILE} nor {STUDY_FILE}; give a run folder "
            "(`gankit train --out`) or a study folder (`gankit augment`)"
        )
    out = folder / run_folder.REPORT if out is None else Path(out)
    if out.is_dir():
        raise GankitError(f"-o {str(out)!r} is a folder; give a file path such as report.html")

    title, meta, description = f"Run {folder.resolve().name}", [], ""
    sections: list[str] = []
    shown: set[Path] = set()  # the study's pictures, not to be shown twice
    if is_study:
        study = _study(folder)
        title, description = study["title"], str(study.get("description") or "")
        sections += _study_sections(folder, study)
        shown = {(folder / picture["path"]).resolve() for picture in study["pictures"]}
    if is_run:
        config = _read_yaml(folder / CONFIG_FILE)
        meta = [f"{key} {config[key]}" for key in ("data", "steps", "loss") if key in config]
        sections += _run_sections(folder, config, shown)
    meta += [str(folder.resolve()), time.strftime("written %Y-%m-%d %H:%M")]
    _write(out, _page(title, " · ".join(meta), description, sections))
    return out


def _run_sections(folder: Path, config: dict[str, Any], shown: set[Path]) -> list[str]:
    """Summary, training curves, the folder's other PNGs (those not ``shown`` already), config."""
    sections = []
    summary = run_folder.read_summary(folder)
    if summary:
        sections.append(_section("Summary", _key_values(summary, "metric")))
    records = run_folder.read_metrics(folder / run_folder.METRICS)
    curves = []
    if (folder / LOSSES_PICTURE).is_file():
        curves.append(_figure(_png(folder / LOSSES_PICTURE), _caption(LOSSES_PICTURE)))
    elif records:  # drawn in memory: the report writes nothing else into the folder
        losses = io.BytesIO()
        plot_losses(records, losses)
        curves.append(_figure(losses.getvalue(), _caption(LOSSES_PICTURE)))
    metrics = io.BytesIO()
    if plot_metrics(records, metrics):
        curves.append(_figure(metrics.getvalue(), "Evaluation metrics against the step"))
    if curves:
        sections.append(_section("Training", "".join(curves)))
    pictures = [
        _figure(_png(path), _caption(path.name))
        for path in sorted(folder.glob("*.png"))
        if path.is_file() and path.name != LOSSES_PICTURE and path.resolve() not in shown
    ]
    if pictures:
        sections.append(_section("Pictures", "".join(pictures)))
    if (folder / run_folder.TABLE_NEAREST).is_file():
        sections.append(_section("Nearest rows", _nearest_rows(folder / run_folder.TABLE_NEAREST)))
    sections.append(_section("Config", _key_values(config, "setting")))
    return sections


def _nearest_rows(path: Path) -> str:
    """A table run's ``nearest_rows.csv`` as a table, with what it shows beneath."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as error:  # pandas' parser errors are ValueErrors
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise GankitError(
            f"cannot read {str(path)!r} ({reason}); restore it or remove it"
        ) from None
    cells = frame.astype(object).where(frame.notna(), None)  # a missing value shows as a dash
    note = (
        "The synthetic rows closest to a training row, closest first, each beside that row "
        "(training_row: its row in the table), with their distance in the per-column scaled "
        "space of the memorisation metrics (dcr_*): copies of training rows show here."
    )
    return _table(list(frame.columns), cells.values.tolist()) + f'<p class="note">{note}</p>'


def _study_sections(folder: Path, study: dict[str, Any]) -> list[str]:
    sections = []
    if study.get("settings"):
        sections.append(_section("Settings", _key_values(study["settings"], "setting")))
    for index, table in enumerate(study["tables"], 1):
        body = _table(table["columns"], table["rows"])
        if table.get("note"):
            body += f'<p class="note">{escape(str(table["note"]))}</p>'
        sections.append(_section(str(table.get("title") or f"Table {index}"), body))
    for picture in study["pictures"]:
        path = folder / picture["path"]
        if not path.is_file():
            raise GankitError(
                f"{STUDY_FILE} names the picture {picture['path']!r}, which is missing from "
                f"{str(folder)!r}; restore it or run the study again"
            )
        caption = str(picture.get("caption") or picture["path"])
        heading = str(picture.get("title") or picture["path"])
        sections.append(_section(heading, _figure(_png(path), caption)))
    return sections


def _study(folder: Path) -> dict[str, Any]:
    """study.json, checked against the format in this module's docstring."""
    path = folder / STUDY_FILE
    study = run_folder.read_json(path)

    def require(ok: bool, what: str) -> None:
        if not ok:
            raise GankitError(f"{str(path)!r}: {what}; fix the file or run the study again")

    require(isinstance(study, dict), "not a JSON object")
    require(isinstance(study.get("title"), str), '"title" must be a string')
    require(isinstance(study.setdefault("settings", {}), dict), '"settings" must be an object')
    for key in ("tables", "pictures"):
        require(isinstance(study.setdefault(key, []), list), f'"{key}" must be a list')
        require(all(isinstance(item, dict) for item in study[key]), f'"{key}" must hold objects')
    for index, table in enumerate(study["tables"]):
        columns, rows = table.get("columns"), table.get("rows")
        require(isinstance(columns, list), f'tables[{index}] needs a "columns" list')
        require(isinstance(rows, list), f'tables[{index}] needs a "rows" list')
        require(
            all(isinstance(row, list) and len(row) == len(columns) for row in rows),
            f"tables[{index}]: every row needs {len(columns)} cells, one per column",
        )
    for index, picture in enumerate(study["pictures"]):
        relative = picture.get("path")
        require(isinstance(relative, str), f'pictures[{index}] needs a "path" string')
        parts = PurePosixPath(relative).parts
        require(
            not PurePosixPath(relative).is_absolute() and ".." not in parts,
            f"pictures[{index}].path {relative!r} must lie inside the study folder",
        )
    return study


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        reason = str(error).replace("\n", " ")
        raise GankitError(f"cannot read {str(path)!r} ({reason}); restore or rewrite it") from None
    if not isinstance(config, dict):
        raise GankitError(f"{str(path)!r} is not a YAML mapping of settings; restore it")
    return config


def _png(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise GankitError(
            f"cannot read {str(path)!r} ({error.strerror}); restore it or remove it"
        ) from None
    if not data.startswith(PNG_SIGNATURE):
        raise GankitError(f"{str(path)!r} is not a PNG picture; restore it or remove it")
    return data


def _caption(name: str) -> str:
    return CAPTIONS.get(name, Path(name).stem.replace("_", " ").replace("-", " ").capitalize())


def _format(value: Any) -> str:
    """A cell's text: floats to 5 significant digits, lists joined, null as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.5g}" if math.isfinite(value) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_format(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _cell(value: Any) -> str:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    opening = '<td class="num">' if number else "<td>"
    return f"{opening}{escape(_format(value))}</td>"


def _table(columns: list[Any], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(str(column))}</th>" for column in columns)
    body = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in rows)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'  # wide tables scroll, not the page


def _key_values(mapping: dict[str, Any], what: str) -> str:
    """Two-column tables side by side, up to 3 (a config has ~80 settings); nested objects
    become dotted keys (generator.lr)."""
    pairs = [[key, value] for key, value in _flatten(mapping)]
    columns = min(3, math.ceil(len(pairs) / KEY_VALUE_ROWS)) or 1
    rows = math.ceil(len(pairs) / columns) or 1
    tables = [
        _table([what, "value"], pairs[start : start + rows]) for start in range(0, len(pairs), rows)
    ]
    return f'<div class="pairs">{"".join(tables)}</div>'


def _flatten(mapping: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    pairs = []
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            pairs += _flatten(value, f"{prefix}{key}.")
        else:
            pairs.append((f"{prefix}{key}", value))
    return pairs


def _figure(png: bytes, caption: str) -> str:
    source = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    text = escape(caption)
    return f'<figure><img src="{source}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def _section(heading: str, body: str) -> str:
    return f"<section><h2>{escape(heading)}</h2>{body}</section>\n"


def _page(title: str, meta: str, description: str, sections: list[str]) -> str:
    intro = f"<p>{escape(description)}</p>" if description else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>"
        f'<h1>{escape(title)}</h1><p class="meta">{escape(meta)}</p>{intro}\n'
        + "".join(sections)
        + "</body></html>\n"
    )


def _write(path: Path, text: str) -> None:
    """Write the page in one step: a failed write leaves any earlier report as it was."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text)
    except OSError as error:
        raise GankitError(
            f"cannot write {str(path)!r} ({error.strerror}); choose a writable path"
        ) from None
