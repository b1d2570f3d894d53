"""Tables end to end: train, sample (also on a condition), evaluate, show the nearest rows,
resume, through the CLI and the API."""

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import gankit
from gankit.cli import main

SHORT = [
    "steps=120",
    "batch_size=100",
    "log_every=20",
    "eval_every=120",
    "eval_samples=400",
    "checkpoint_every=60",
    "progress=false",
    "tensorboard=false",
    "generator.hidden=[64,64]",
    "discriminator.hidden=[64,64]",
]


@pytest.fixture(scope="module")
def penguins_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tables") / "penguins"
    assert main(["train", "--out", str(out), "data=penguins", *SHORT]) == 0
    return out


def test_a_table_run_scores_quality_efficacy_and_validity(penguins_run) -> None:
    summary = json.loads((penguins_run / "summary.json").read_text())
    assert 0 < summary["quality"] <= 1
    assert {"column_shapes", "column_pair_trends", "worst_columns"} <= set(summary)
    assert 0 <= summary["efficacy/synthetic/accuracy"] <= 1
    assert summary["efficacy/real/accuracy"] > 0.9  # penguins' species are easy to tell apart
    assert summary["unseen_categories"] == summary["out_of_range"] == 0
    assert summary["non_integers"] == 0
    assert (penguins_run / "columns.png").read_bytes()[:4] == b"\x89PNG"
    assert (penguins_run / "associations.png").read_bytes()[:4] == b"\x89PNG"


def test_a_table_run_shows_its_nearest_rows_beside_their_training_rows(penguins_run, tmp_path):
    nearest = pd.read_csv(penguins_run / "nearest_rows.csv")
    real = gankit.load(penguins_run).data.frame
    beside = [
        f"{source}/{column}" for column in real.columns for source in ("synthetic", "training")
    ]
    assert list(nearest.columns) == ["distance", "training_row", *beside]
    assert len(nearest) == 10
    assert nearest["distance"].is_monotonic_increasing
    summary = json.loads((penguins_run / "summary.json").read_text())
    assert nearest["distance"][0] == pytest.approx(summary["dcr_synthetic_min"])
    shown = nearest[[f"training/{column}" for column in real.columns]]
    shown.columns = real.columns
    pd.testing.assert_frame_equal(
        shown, real.loc[nearest["training_row"]].reset_index(drop=True), check_dtype=False
    )
    report = tmp_path / "report.html"
    assert main(["report", str(penguins_run), "-o", str(report)]) == 0
    page = report.read_text()
    assert "<h2>Nearest rows</h2>" in page and "<th>training/body_mass_g</th>" in page
    body = page.split("<h2>Nearest rows</h2>")[1].split("</tbody>")[0]
    assert body.count("<tr>") == 1 + 10  # the header and a line a pair


def test_samples_keep_the_tables_columns_kinds_and_ranges(penguins_run, tmp_path) -> None:
    out = tmp_path / "rows.csv"
    assert main(["sample", str(penguins_run), "-n", "777", "-o", str(out)]) == 0
    rows = pd.read_csv(out)
    real = gankit.load(penguins_run).data.frame
    assert len(rows) == 777
    assert list(rows.columns) == list(real.columns)
    for column in ("species", "island", "sex"):
        assert set(rows[column].dropna()) <= set(real[column].dropna())
    assert (rows["year"] == rows["year"].round()).all()  # an integer column stays integral
    for column in ("bill_length_mm", "body_mass_g"):
        values = rows[column].dropna()
        assert values.min() >= real[column].min() and values.max() <= real[column].max()
    assert rows["species"].nunique() == 3  # every category can come out, not only the mode


def test_sampling_g_is_the_textbook_g_with_its_categories_drawn_by_gumbel_max(penguins_run):
    # G samples by a fast path (batch norm folded into the linear layers, argmax of logits +
    # Gumbel noise, blocks of rows): it must make the rows of the plain forward pass with
    # gumbel_softmax(hard=True) from the same seed, over more rows than one block.
    from torch.nn.functional import gumbel_softmax

    from gankit.evaluation import evaluation_noise
    from gankit.nets.tabular import GUMBEL_TEMPERATURE, SAMPLE_BLOCK

    run = gankit.load(penguins_run)
    g = run.generator.eval()
    z, labels = evaluation_noise(
        run.config, run.num_classes, 1, SAMPLE_BLOCK + 700, run.conditioning
    )
    with torch.no_grad():
        torch.manual_seed(3)
        fast = g(z, labels)
        torch.manual_seed(3)
        raw, parts, start = g.logits(z, labels), [], 0
        for size, activation in g.spans:
            chunk = raw[:, start : start + size]
            if activation == "tanh":
                parts.append(torch.tanh(chunk))
            else:
                parts.append(gumbel_softmax(chunk, tau=GUMBEL_TEMPERATURE, hard=True))
            start += size
    textbook = torch.cat(parts, dim=1)
    assert torch.allclose(fast, textbook, atol=1e-5)
    categories = [a == "softmax" for size, a in g.spans for _ in range(size)]
    assert torch.equal(fast[:, categories], textbook[:, categories].round())


def test_sampling_draws_each_category_with_its_softmax_probability(penguins_run) -> None:
    # G's last layer set to give every row the same logits: the Gumbel-max draws must come
    # out in the shares softmax(logits), as gumbel_softmax(hard=True) would draw them.
    run = gankit.load(penguins_run)
    g = run.generator.eval()
    logits = torch.randn(g.out.out_features, generator=torch.Generator().manual_seed(0)) * 1.5
    with torch.no_grad():
        g.out.weight.zero_()
        g.out.bias.copy_(logits)
        rows = g(torch.randn(20_000, run.config.noise.dim), torch.zeros(20_000, dtype=torch.long))
    start = 0
    for size, activation in g.spans:
        if activation == "softmax":
            shares = rows[:, start : start + size].mean(dim=0)
            expected = torch.softmax(logits[start : start + size], dim=0)
            assert torch.allclose(shares, expected, atol=0.015), (shares, expected)
        start += size


def test_extrapolated_rows_keep_the_tables_kinds(penguins_run, tmp_path) -> None:
    out = tmp_path / "free.csv"
    argv = ["sample", str(penguins_run), "-n", "2000", "-o", str(out), "--extrapolate"]
    assert main(argv) == 0
    free, clipped = pd.read_csv(out), gankit.load(penguins_run).sample(2000)
    assert list(free.columns) == list(clipped.columns)
    numbers = clipped.select_dtypes("number").columns
    # the same draws: each number clipped to the training range unless extrapolated
    assert (free[numbers].min() <= clipped[numbers].min()).all()
    assert (free[numbers].max() >= clipped[numbers].max()).all()


def test_conditional_sampling_returns_only_the_condition(penguins_run, tmp_path) -> None:
    out = tmp_path / "gentoo.parquet"
    argv = ["sample", str(penguins_run), "-n", "300", "-o", str(out), "--condition"]
    assert main([*argv, "species=Gentoo"]) == 0
    assert set(pd.read_parquet(out)["species"]) == {"Gentoo"}
    rows = gankit.load(penguins_run).sample(
        200, condition={"island": ["Biscoe", "Dream"], "proportions": [0.75, 0.25]}
    )
    assert isinstance(rows, pd.DataFrame) and len(rows) == 200
    assert rows["island"].value_counts().to_dict() == {"Biscoe": 150, "Dream": 50}


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("colour=red", "cannot condition on 'colour'; categorical columns: island, sex, species"),
        ("species=Emperor", "species='Emperor' was never seen in training; species takes Adelie"),
        ("species", "write COLUMN=VALUE"),
    ],
)
def test_a_bad_condition_names_the_valid_ones(penguins_run, tmp_path, condition, message, capsys):
    out = tmp_path / "rows.csv"
    argv = ["sample", str(penguins_run), "-n", "5", "-o", str(out), "--condition", condition]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_a_resumed_table_run_equals_an_uninterrupted_one(penguins_run, tmp_path) -> None:
    resumed = tmp_path / "resumed"
    shutil.copytree(penguins_run, resumed)
    (resumed / "checkpoints" / "step-00000120.safetensors").unlink()  # killed after step 60
    (resumed / "model.safetensors").unlink()
    assert main(["train", "--resume", str(resumed)]) == 0
    assert (resumed / "model.safetensors").read_bytes() != b""
    first = gankit.load(penguins_run).sample(50, seed=3)
    again = gankit.load(resumed).sample(50, seed=3)
    pd.testing.assert_frame_equal(first, again)
    log = "metrics.jsonl"
    assert (resumed / log).read_text() == (penguins_run / log).read_text()


def test_a_users_csv_with_strings_and_missing_values_trains(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": np.arange(300),
            "amount": rng.lognormal(3, 1, 300),
            "kind": rng.choice(["card", "cash", "wire"], 300),
            "flag": rng.random(300) < 0.1,
            "age": pd.array(rng.integers(18, 90, 300), dtype="Int64"),
        }
    )
    frame.loc[::17, "amount"] = np.nan
    frame.loc[::23, "age"] = pd.NA  # written "34", "", ...: whole numbers with gaps
    path = tmp_path / "records.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), f"data={path}", "table.ignore=[id]", "table.target=flag"]
    assert main([*argv, *SHORT]) == 0
    rows = gankit.load(out).sample(500)
    assert list(rows.columns) == ["amount", "kind", "flag", "age"]
    assert rows["amount"].isna().any() and not rows["kind"].isna().any()
    assert rows["age"].dtype == "Int64" and rows["age"].isna().any()  # integers, with gaps


def test_a_table_run_samples_without_its_training_data(tmp_path) -> None:
    """The run folder keeps what sampling draws conditions from (each category's training
    count), so a run samples the same rows once its CSV is gone, on a condition too."""
    from palmerpenguins import load_penguins

    path = tmp_path / "penguins.csv"
    load_penguins().to_csv(path, index=False)
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), f"data={path}", *SHORT]) == 0
    before = gankit.load(out).sample(300, seed=3)
    path.rename(tmp_path / "elsewhere.csv")
    pd.testing.assert_frame_equal(gankit.load(out).sample(300, seed=3), before)
    gentoo = tmp_path / "gentoo.csv"
    argv = ["sample", str(out), "-n", "40", "-o", str(gentoo), "--condition", "species=Gentoo"]
    assert main(argv) == 0
    assert set(pd.read_csv(gentoo)["species"]) == {"Gentoo"}


def test_condition_counts_that_do_not_fit_the_table_are_one_line(penguins_run, tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    run = tmp_path / "run"
    shutil.copytree(penguins_run, run)
    weights = run / "model.safetensors"
    with safe_open(weights, framework="pt") as file:
        metadata = file.metadata()
    metadata["table_condition_counts"] = "[3, 4]"
    save_file(load_file(weights), weights, metadata=metadata)
    assert main(["sample", str(run), "-n", "5", "-o", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert "2 condition counts" in err and err.count("\n") == 1
    assert not (tmp_path / "s.csv").exists()


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(
    n=st.integers(-2, 30),
    suffix=st.sampled_from([".csv", ".tsv", ".parquet", ".npy", ""]),
    condition=st.none()
    | st.text(max_size=12)
    | st.builds(
        "{}={}".format,
        st.sampled_from(["species", "island", "sex", "bill_length_mm", "nope", ""]),
        st.text(alphabet="AdelieGntoBscDrm,", max_size=14),
    ),
    proportions=st.none() | st.text(alphabet="0123456789.,-e", max_size=8),
    extrapolate=st.booleans(),
)
def test_random_sample_options(penguins_run, n, suffix, condition, proportions, extrapolate):
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"rows{suffix}"
        argv = ["sample", str(penguins_run), "-n", str(n), "-o", str(out)]
        argv += [] if condition is None else ["--condition", condition]
        argv += [] if proportions is None else ["--proportions", proportions]
        argv += ["--extrapolate"] if extrapolate else []
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                status = main(argv)
            except SystemExit as exit:  # argparse, e.g. a condition that starts with "-"
                status = exit.code
        err = stderr.getvalue()
        assert status in (0, 2) and "Traceback" not in err, err
        if status == 0:
            if suffix == ".parquet":
                rows = pd.read_parquet(out)
            else:
                rows = pd.read_csv(out, sep="\t" if suffix == ".tsv" else ",")
            assert len(rows) == n
        elif not err.startswith("usage:"):
            assert err.startswith("gankit: error: ") and err.count("\n") == 1, err
            assert not out.exists()
