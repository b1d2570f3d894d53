"""``gankit report``: one self-contained HTML page of a run or study folder."""

import base64
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import tiny
from PIL import Image

import gankit
from gankit.cli import main
from gankit.output.figures import plot_metrics
from gankit.output.html_report import write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EMBEDDED = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "ring"
    gankit.train(tiny(tensorboard=False), out=out)
    return out


def _picture(path: Path, colour: str, size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def _study(folder: Path, **changes: object) -> Path:
    """A study folder as `gankit augment` will write it: study.json and pictures in subfolders."""
    _picture(folder / "f0.05" / "seed0" / "gan" / "nearest.png", "navy")
    _picture(folder / "curves.png", "olive", (60, 20))
    study = {
        "title": "Augmentation & small data",
        "description": "Does DiffAugment help at 5% of the data?",
        "settings": {"data": "digits", "steps": 200, "fractions": [0.05, 1.0]},
        "tables": [
            {
                "title": "FID by fraction",
                "columns": ["fraction", "policy", "frechet"],
                "rows": [[0.05, "none", 1234.5678], [0.05, "color,translation", 987.25]],
                "note": "lower is better",
            },
            {"title": "Odd cells", "columns": ["cell"], "rows": [["<script>alert(1)</script>"]]},
        ],
        "pictures": [
            {"title": "Nearest", "path": "f0.05/seed0/gan/nearest.png", "caption": "5%, seed 0"},
            {"title": "Curves", "path": "curves.png"},
        ],
        **changes,
    }
    (folder / "study.json").write_text(json.dumps(study))
    return folder


def _embedded(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in EMBEDDED.findall(page)]


def test_a_run_report_holds_its_metrics_curves_and_pictures(run_dir, tmp_path) -> None:
    page = write_report(run_dir, tmp_path / "run.html").read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("frechet", "modes", "loss_d"):
        value = summary[key]
        assert f"<td>{key}</td>" in page
        assert (f"{value:.5g}" if isinstance(value, float) else str(value)) in page
    assert "<td>generator.hidden</td>" in page and "[32, 32]" in page  # the config, flattened
    pictures = _embedded(page)
    # losses.png, the metrics drawn from metrics.jsonl (2 evaluations), samples.png
    assert len(pictures) == page.count("<img ") == 3
    assert all(picture.startswith(PNG_SIGNATURE) for picture in pictures)
    assert pictures[0] == (run_dir / "losses.png").read_bytes()
    assert not re.search(r"(src|href)=\"(?!data:)|<link|@import|url\(|<script", page)


def test_a_run_without_losses_png_has_its_curves_drawn_from_metrics_jsonl(run_dir, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder, ignore=shutil.ignore_patterns("*.png", "checkpoints"))
    page = write_report(folder).read_text()
    assert (folder / "report.html").is_file()
    assert "Losses and mean discriminator outputs" in page
    assert len(_embedded(page)) == 2  # losses and metrics, both drawn in memory
    assert not list(folder.glob("*.png"))  # nothing but the report is written


def test_a_study_report_renders_every_table_row_and_picture_in_order(tmp_path) -> None:
    folder = _study(tmp_path / "study")
    page = write_report(folder).read_text()
    assert "<h1>Augmentation &amp; small data</h1>" in page
    headings = ["Settings", "FID by fraction", "Odd cells", "Nearest", "Curves"]
    positions = [page.index(f"<h2>{heading}</h2>") for heading in headings]
    assert positions == sorted(positions)
    # numbers to 5 significant digits, right-aligned
    assert '<td class="num">0.05</td><td>none</td><td class="num">1234.6</td>' in page
    assert '<td class="num">0.05</td><td>color,translation</td><td class="num">987.25</td>' in page
    assert page.count("<tbody><tr>") == 3 and "lower is better" in page
    assert "<td>fractions</td><td>[0.05, 1]</td>" in page
    pictures = _embedded(page)
    assert pictures == [
        (folder / "f0.05/seed0/gan/nearest.png").read_bytes(),
        (folder / "curves.png").read_bytes(),
    ]
    assert "<figcaption>5%, seed 0</figcaption>" in page


def test_text_is_escaped(tmp_path) -> None:
    page = write_report(_study(tmp_path / "study")).read_text()
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page
    assert "<script" not in page


def test_a_folder_that_is_run_and_study_shows_both_and_no_picture_twice(run_dir, tmp_path):
    folder = tmp_path / "both"
    shutil.copytree(run_dir, folder, ignore=shutil.ignore_patterns("checkpoints"))
    pictures = [{"title": "G's samples", "path": "samples.png"}]
    page = write_report(_study(folder, pictures=pictures)).read_text()
    assert "<h2>FID by fraction</h2>" in page and "<h2>Summary</h2>" in page
    assert _embedded(page).count((folder / "samples.png").read_bytes()) == 1
    # samples.png once, then losses.png, the metrics and curves.png, which the study left out
    assert len(_embedded(page)) == 4


def test_the_cli_prints_the_path_it_wrote(tmp_path, capsys) -> None:
    folder = _study(tmp_path / "study")
    assert main(["report", str(folder), "-o", str(tmp_path / "out" / "r.html")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "r.html")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "curves.png").unlink(), "'curves.png', which is missing"),
        (lambda f: (f / "curves.png").write_bytes(b"GIF89a"), "is not a PNG picture"),
        (lambda f: (f / "study.json").write_text("{"), "cannot read"),
        (lambda f: _study(f, tables=[{"columns": ["a"], "rows": [[1, 2]]}]), "1 cells"),
        (lambda f: _study(f, pictures=[{"path": "../x.png"}]), "inside the study folder"),
        (lambda f: _study(f, title=None), '"title" must be a string'),
    ],
)
def test_a_bad_study_is_one_line_and_the_earlier_report_stays(
    tmp_path, capsys, damage, message
) -> None:
    folder = _study(tmp_path / "study")
    assert main(["report", str(folder)]) == 0
    before = (folder / "report.html").read_bytes()
    capsys.readouterr()
    damage(folder)
    assert main(["report", str(folder)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("gankit: error: ") and error.count("\n") == 1 and message in error
    assert (folder / "report.html").read_bytes() == before
    assert [path.name for path in folder.glob(".*")] == []  # no temporary file left behind


@pytest.mark.parametrize(
    ("name", "message"), [("missing", "not found"), ("empty", "neither config.yaml")]
)
def test_a_folder_that_is_no_run_or_study_is_refused(tmp_path, capsys, name, message) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / name)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("gankit: error: ") and error.count("\n") == 1 and message in error


def test_an_unreadable_summary_is_refused(run_dir, tmp_path, capsys) -> None:
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder, ignore=shutil.ignore_patterns("checkpoints"))
    (folder / "summary.json").write_text("[1, 2]")
    assert main(["report", str(folder)]) == 2
    assert "summary.json' is not a JSON object" in capsys.readouterr().err
    assert not (folder / "report.html").exists()


# The browser check: the test (never the report) adds this script; on load it records
# whether every picture decoded and how many body rows each table has.
CHECK = """<pre id="check"></pre><script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const broken = images.filter((image) => !(image.complete && image.naturalWidth > 0));
  const rows = Array.from(document.querySelectorAll("table"),
                          (table) => table.querySelectorAll("tbody tr").length);
  document.getElementById("check").textContent = JSON.stringify(
    {images: images.length, broken: broken.map((image) => image.alt), rows: rows});
});
</script>"""


def _browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    pytest.skip("headless Chromium not found: install Debian's chromium package (.ci/run does)")


def _render(browser: str, report: Path, scratch: Path) -> dict:
    """What CHECK found in ``report`` once headless Chromium has loaded it."""
    page = report.read_text()
    assert page.count("</body>") == 1
    checked = scratch / "checked.html"
    checked.write_text(page.replace("</body>", CHECK + "</body>"))
    command = [
        browser,
        *("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"),
        *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
        f"--user-data-dir={scratch / 'profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        checked.as_uri(),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"Chromium did not finish in 90 s; stderr ends:\n{str(error.stderr)[-3000:]}")
    found = re.search(r'<pre id="check">(.+?)</pre>', done.stdout, re.S)
    if done.returncode != 0 or found is None:
        pytest.fail(
            f"Chromium exited {done.returncode} without the check; stderr ends:\n"
            + done.stderr[-3000:]  # after the harmless D-Bus complaints of a headless machine
        )
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.parametrize("kind", ["run", "study"])
def test_a_browser_shows_every_picture_and_table(run_dir, tmp_path, kind) -> None:
    browser = _browser()
    folder = run_dir if kind == "run" else _study(tmp_path / "study")
    check = _render(browser, write_report(folder, tmp_path / "report.html"), tmp_path)
    assert check["images"] == (3 if kind == "run" else 2)
    assert check["broken"] == []
    assert check["rows"] and min(check["rows"]) >= 1, check["rows"]


def test_the_metric_curves_leave_out_what_never_changed() -> None:
    records = [
        {"step": step, "loss_d": 1.0, "frechet": 9.0 / step, "heldout_dcr": 2.0, "acc/3": step}
        for step in (1, 2, 3)
    ]
    picture = io.BytesIO()
    assert plot_metrics(records, picture) and picture.getvalue().startswith(PNG_SIGNATURE)
    constant = [{**record, "frechet": 1.0} for record in records]
    assert not plot_metrics(constant, io.BytesIO())  # nothing moved: no figure
