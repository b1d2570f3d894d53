"""End-to-end: the default settings solve the mixture benchmarks (about 1.5 minutes each)."""

import json

import pytest

from gankit.cli import main


def test_default_settings_capture_every_mode_of_ring8(tmp_path) -> None:
    """The issue's bar: `gankit train data=ring8 seed=0` captures 8/8 modes, >= 90% high quality."""
    out = tmp_path / "ring8"
    assert main(["train", "--out", str(out), "data=ring8", "seed=0", "progress=false"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["modes"] == 8
    assert summary["high_quality"] >= 0.90
    assert summary["reverse_kl"] < 0.05


@pytest.mark.slow
def test_default_settings_capture_most_modes_of_grid25(tmp_path) -> None:
    out = tmp_path / "grid25"
    assert main(["train", "--out", str(out), "data=grid25", "seed=0", "progress=false"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["modes"] >= 20
