import numpy as np
import pytest
import torch

from gankit.config import load_config
from gankit.data import load_data
from gankit.data.arrays import load_vectors
from gankit.errors import DataError


def test_builtin_mixtures_are_standardised_with_their_exact_moments() -> None:
    data = load_data(load_config(overrides=["data=grid25"]))
    batch = data.sample(20_000, torch.Generator().manual_seed(0))
    assert batch.mean(0).abs().max() < 0.05
    assert (batch.std(0) - 1).abs().max() < 0.05
    assert torch.allclose(
        data.standardizer.inverse(data.standardizer.forward(batch)), batch, atol=1e-5
    )


def test_mixture1d_takes_its_settings_from_the_config() -> None:
    config = load_config(
        overrides=[
            "data=mixture1d",
            "mixture.means=[0,10]",
            "mixture.stds=[1,1]",
            "mixture.weights=[1,3]",
        ]
    )
    data = load_data(config)
    assert data.dim == 1
    assert data.density.weights.tolist() == [0.25, 0.75]


def test_a_mixture_in_any_dimension_takes_its_centres_in_turn() -> None:
    settings = ["mixture.means=[0,0,0,3,0,0,0,3,1]", "mixture.stds=[0.1,0.2,0.3]"]
    config = load_config(
        overrides=["data=mixture", "mixture.dim=3", *settings, "mixture.weights=[2,1,1]"]
    )
    data = load_data(config)
    assert data.dim == 3
    assert data.density.means.tolist() == [[0, 0, 0], [3, 0, 0], [0, 3, 1]]
    assert data.density.stds[:, 0].tolist() == pytest.approx([0.1, 0.2, 0.3])
    real = data.real_samples(4000, torch.Generator().manual_seed(0)).double()
    nearest = (real[:, None] - data.density.means).norm(dim=-1).argmin(1)
    assert (nearest == 0).double().mean() == pytest.approx(0.5, abs=0.03)


def test_mixture1d_is_the_one_dimensional_case() -> None:
    means = ["mixture.means=[0,0,1,1]", "mixture.stds=[1,1]", "mixture.weights=[1,1]"]
    with pytest.raises(DataError, match=r"for mixture\.dim=2 use data=mixture"):
        load_data(load_config(overrides=["data=mixture1d", "mixture.dim=2", *means]))


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_user_vectors_load_from_every_format(tmp_path, suffix) -> None:
    array = np.random.default_rng(0).normal(5.0, 3.0, size=(200, 3)).astype(np.float32)
    path = tmp_path / f"data{suffix}"
    if suffix == ".npy":
        np.save(path, array)
    elif suffix == ".npz":
        np.savez(path, x=array, ids=np.arange(200))  # "x" is the vectors beside other arrays
    data = load_data(load_config(overrides=[f"data={path}"]))
    assert data.dim == 3
    assert np.allclose(data.points.numpy(), array, atol=1e-5)
    standardised = data.sample(5000, torch.Generator().manual_seed(0))
    assert standardised.mean(0).abs().max() < 0.1
    assert np.allclose(data.standardizer.mean.numpy(), array.mean(0), atol=1e-4)


def test_one_column_becomes_one_feature(tmp_path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.arange(10.0))
    assert load_vectors(path).shape == (10, 1)


@pytest.mark.parametrize(
    ("writer", "message"),
    [
        (
            lambda p: np.save(p.with_suffix(".npy"), np.array([[1.0, np.nan], [2.0, 3.0]])),
            "NaN or Inf (first in row 0)",
        ),
        (lambda p: np.save(p.with_suffix(".npy"), np.zeros((0, 3))), "at least 2 rows"),
        (
            lambda p: np.save(p.with_suffix(".npy"), np.array([1.0, 2.0, -1e39])),
            "beyond float32's range, about 3.4e38 (first in row 2)",
        ),
        (
            lambda p: np.save(p.with_suffix(".npy"), np.zeros((4, 2, 2))),
            "vectors need shape (n, d)",
        ),
        (lambda p: np.save(p.with_suffix(".npy"), np.array(["a", "b"])), "not numeric"),
        (lambda p: p.with_suffix(".csv").write_text("a,b\n1,2\n3,x\n"), "row 2 has a non-numeric"),
        (lambda p: p.with_suffix(".csv").write_text("1,2\n3\n"), "row 2 has 1 columns"),
        (lambda p: p.with_suffix(".npy").write_bytes(b"not an array"), "cannot read data file"),
        (
            lambda p: np.savez(p.with_suffix(".npz"), a=np.zeros(3), b=np.zeros(3)),
            "holds arrays ['a', 'b']",
        ),
    ],
)
def test_bad_data_files_get_one_clear_line(tmp_path, writer, message) -> None:
    writer(tmp_path / "data")
    path = next(tmp_path.iterdir())
    with pytest.raises(DataError) as error:
        load_vectors(path)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_names_and_missing_files(tmp_path) -> None:
    with pytest.raises(DataError, match="unknown data 'ring9'; use one of ring8"):
        load_data(load_config(overrides=["data=ring9"]))
    with pytest.raises(DataError, match="not found"):
        load_data(load_config(overrides=[f"data={tmp_path / 'missing.csv'}"]))
