"""Malformed settings, config files and data files get exit status 2 and one line, never a crash."""

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from pyarrow import ArrowException
from test_tables_data import random_columns

from gankit.cli import main
from gankit.config import Config

# Placed after the random arguments, so that they win: every run that is valid stays tiny.
SMALL = [
    "steps=2",
    "batch_size=8",
    "pack=1",
    "eval_samples=20",
    "generator.hidden=4",
    "discriminator.hidden=4",
    "noise.dim=2",
    "progress=false",
    "tensorboard=false",
]
KEYS = [*Config().to_dict(), "generator.lr", "generator.betas", "noise.prior", "mixture.means"]
VALUES = ["", "nan", "inf", "-1", "0", "1e-3", "true", "[1,2]", "[]", "normal", "ring8", "none"]
CPU_ONLY = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
EXAMPLES = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def run_cli(args: list[str]) -> tuple[int, str]:
    """Exit status and stderr of ``gankit train ARGS`` in a fresh folder, in this process."""
    stderr = io.StringIO()
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stderr(stderr):
        try:
            status = main(["train", "--out", str(Path(folder) / "run"), *args])
        except SystemExit as exit:  # argparse's --help
            status = exit.code
    return status, stderr.getvalue()


def check(status: int, err: str) -> None:
    assert status in (0, 2), err
    assert "Traceback" not in err
    if status == 2:
        assert err.startswith("gankit: error: ") and err.count("\n") == 1, err


# Short values: a valid width or sample count stays small enough to train in a moment.
override = st.builds(
    "{}={}".format,
    st.sampled_from(KEYS) | st.text(max_size=12),
    st.sampled_from(VALUES) | st.text(max_size=4),
)


@EXAMPLES
@given(st.lists(override | st.text(max_size=12), max_size=3))
def test_random_overrides(overrides) -> None:
    check(*run_cli([*overrides, *SMALL]))


yaml_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@EXAMPLES
@given(yaml_values.map(yaml.safe_dump) | st.text(max_size=60) | st.binary(max_size=60))
def test_random_config_files(content) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        check(*run_cli(["--config", str(path), *SMALL]))


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64)
data_arrays = arrays(
    np.float64, array_shapes(min_dims=1, max_dims=3, max_side=6), elements=finite_or_not
)


@EXAMPLES
@given(
    st.sampled_from([".npy", ".npz", ".csv"]),
    data_arrays.map(lambda a: ("array", a)) | st.binary(max_size=80).map(lambda b: ("bytes", b)),
)
def test_random_data_files(suffix, content) -> None:
    kind, value = content
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        if kind == "bytes":
            path.write_bytes(value)
        elif suffix == ".npy":
            np.save(path, value)
        elif suffix == ".npz":
            np.savez(path, x=value)
        else:
            np.savetxt(path, value.reshape(len(value), -1), delimiter=",")
        check(*run_cli([f"data={path}", *SMALL]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["device=cuda"], "PyTorch sees no CUDA device", marks=CPU_ONLY),
        pytest.param(["--device", "cuda"], "PyTorch sees no CUDA device", marks=CPU_ONLY),
        (["precision=bf16", "device=cpu"], "precision=bf16 needs a CUDA device"),
        (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["keep_checkpoints=0"], "config key 'keep_checkpoints' must be >= 1"),
        (["checkpoint_every=-5"], "config key 'checkpoint_every' must be >= 1"),
        (["on_divergence=ignore"], "config key 'on_divergence' must be one of stop, restore"),
        (["divergence_lr_factor=1"], "config key 'divergence_lr_factor' must be < 1"),
        (["tensorboard=sometimes"], "config key 'tensorboard' expects true or false"),
    ],
)
def test_new_settings_are_checked(args, message) -> None:
    status, err = run_cli([*args, *SMALL])
    assert status == 2
    assert message in err
    check(status, err)


def test_bad_settings_leave_no_run_folder_behind(tmp_path) -> None:
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "precision=bf16", "device=cpu", *SMALL]) == 2
    assert not out.exists()


def test_an_out_path_under_a_file_is_refused(tmp_path, capsys) -> None:
    (tmp_path / "file").write_text("not a folder")
    assert main(["train", "--out", str(tmp_path / "file" / "run"), *SMALL]) == 2
    assert "cannot write the run folder" in capsys.readouterr().err


@st.composite
def messy_tables(draw) -> pd.DataFrame:
    """Tables as users' files hold them: columns of one kind, with gaps (see test_tables_data),
    or a column of no values, of numbers mixed with text, or of infinities; names may repeat."""
    rows = draw(st.integers(0, 12))
    columns = []
    for _ in range(draw(st.integers(1, 3))):
        messy = draw(st.sampled_from(["none", "all-missing", "mixed", "infinite"]))
        if messy == "none":
            columns.append(draw(random_columns(rows)))
        elif messy == "all-missing":
            columns.append(np.full(rows, np.nan))
        elif messy == "mixed":
            values = st.integers(0, 3) | st.sampled_from(["x", "y"])
            columns.append(np.array(draw(st.lists(values, min_size=rows, max_size=rows)), object))
        else:
            values = st.sampled_from([1.0, 2.0, np.inf, -np.inf])
            columns.append(np.array(draw(st.lists(values, min_size=rows, max_size=rows))))
    names = draw(
        st.lists(
            st.sampled_from(["a", "b", "c", "d"]), min_size=len(columns), max_size=len(columns)
        )
    )
    frame = pd.DataFrame(dict(enumerate(columns)))
    frame.columns = names
    return frame


@EXAMPLES
@given(
    messy_tables(),
    st.sampled_from([".csv", ".tsv", ".parquet"]),
    st.lists(
        st.sampled_from(
            [
                "table.target=a",
                "table.target=z",
                "table.categorical=[b]",
                "table.ignore=[a]",
                "table.max_categories=2",
            ]
        ),
        max_size=2,
    ),
)
def test_random_table_files(frame, suffix, settings) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"table{suffix}"
        try:
            if suffix == ".parquet":
                frame.to_parquet(path)
            else:
                frame.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
        except (ValueError, TypeError, ArrowException):  # parquet holds neither mixes nor twins
            return
        check(*run_cli([f"data={path}", *settings, *SMALL]))


population_override = st.one_of(
    st.builds("population.seeds={}".format, st.sampled_from(["0", "1", "3", "-1", "2.5", "x", ""])),
    st.builds("population.draws={}".format, st.sampled_from(["auto", "own", "shared", "both"])),
    st.builds(
        "population.sweep.{}={}".format,
        st.sampled_from(
            ["generator.lr", "ema", "r1", "seed", "steps", "generator.hidden", "noise.dim", "nope"]
        ),
        st.sampled_from(["[1e-4,2e-4]", "[0.5]", "[]", "[a,b]", "3", "[[8],[16]]", "[0,1,2]"]),
    ),
)


@EXAMPLES
@given(st.lists(population_override, min_size=1, max_size=3))
def test_random_population_settings(overrides) -> None:
    check(*run_cli([*overrides, *SMALL]))
