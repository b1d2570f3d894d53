"""Image data: digits, the user's folders and .npz files, the fixed split, clear errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import load_config
from gankit.data import ImageData, load_data
from gankit.data.split import holdout_split, scarce_subset
from gankit.errors import DataError


def images_of(*overrides: str) -> ImageData:
    return load_data(load_config(overrides=list(overrides)))


def test_digits_are_8x8_grey_in_minus_one_to_one_with_a_stratified_holdout() -> None:
    data = images_of("data=digits")
    assert data.shape == (1, 8, 8)
    assert data.classes == [str(d) for d in range(10)]
    assert data.images.min() == -1 and data.images.max() == 1
    assert len(data.images) + len(data.heldout_images) == 1797
    assert len(data.heldout_images) == 359  # 20% of each class, rounded
    per_class = torch.bincount(data.heldout_labels, minlength=10)
    assert per_class.min() >= 35 and per_class.max() <= 37
    assert data.standardizer.inverse(data.images).max() == 16  # digits' own 0..16


def test_the_split_is_fixed_whatever_the_run_seed_and_scarce_runs_nest() -> None:
    full = images_of("data=digits", "seed=0")
    other_seed = images_of("data=digits", "seed=5")
    assert full.heldout_images.equal(other_seed.heldout_images)
    scarce = images_of("data=digits", "image.train_fraction=0.1")
    assert scarce.heldout_images.equal(full.heldout_images)
    assert len(scarce.images) == 143  # 10% of each class of the 1,438, rounded
    assert torch.bincount(scarce.labels).min() >= 14
    full_rows = {tuple(image.flatten().tolist()) for image in full.images}
    assert all(tuple(image.flatten().tolist()) in full_rows for image in scarce.images)
    few = images_of("data=digits", "image.per_class=5")
    assert torch.bincount(few.labels).tolist() == [5] * 10
    assert few.split_images.equal(full.split_images)  # the feature network's data


def test_split_functions_are_stratified_and_deterministic() -> None:
    labels = np.repeat(np.arange(3), [10, 20, 2])
    train, test = holdout_split(labels, 0.25)
    assert np.bincount(labels[test]).tolist() == [2, 5, 1]
    assert set(train).isdisjoint(test) and len(train) + len(test) == 32
    assert np.array_equal(holdout_split(labels, 0.25)[1], test)
    assert np.bincount(labels[scarce_subset(labels, 0.5)]).tolist() == [5, 10, 1]
    assert np.bincount(labels[scarce_subset(labels, per_class=3)]).tolist() == [3, 3, 2]


def test_a_subset_seed_draws_another_nested_subset_of_the_same_size() -> None:
    labels = np.repeat(np.arange(3), [40, 40, 40])
    first, other = scarce_subset(labels, 0.25), scarce_subset(labels, 0.25, seed=1)
    assert np.array_equal(first, scarce_subset(labels, 0.25, seed=0))
    assert len(first) == len(other) == 30 and not np.array_equal(first, other)
    assert set(scarce_subset(labels, 0.1, seed=1)) <= set(other)  # nested within a seed
    data = images_of("data=digits", "image.train_fraction=0.1", "image.subset_seed=2")
    assert (
        torch.bincount(data.labels).tolist()
        == torch.bincount(images_of("data=digits", "image.train_fraction=0.1").labels).tolist()
    )


def test_digits_resize_and_convert_to_rgb() -> None:
    data = images_of("data=digits", "image.resolution=16", "image.channels=3")
    assert data.shape == (3, 16, 16)
    assert data.images[:, 0].equal(data.images[:, 2])
    assert data.images.min() >= -1 and data.images.max() <= 1


def write_png(path, size=(12, 12), colour=True, value=0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((size[1], size[0], 3) if colour else (size[1], size[0]), value, np.uint8)
    Image.fromarray(pixels).save(path)


def test_a_folder_with_a_subfolder_per_class(tmp_path) -> None:
    for index in range(6):
        write_png(tmp_path / "cats" / f"{index}.png", value=200)
        write_png(tmp_path / "dogs" / f"{index}.jpg", value=10)
    data = images_of(f"data={tmp_path}", "image.holdout=0.5")
    assert data.classes == ["cats", "dogs"]
    assert data.shape == (3, 12, 12)
    assert len(data.images) == 6 and len(data.heldout_images) == 6
    cats = data.images[data.labels == 0]
    assert torch.allclose(cats, torch.full_like(cats, 200 / 127.5 - 1))


def test_an_unlabelled_folder_of_mixed_sizes_needs_a_resolution(tmp_path) -> None:
    write_png(tmp_path / "a.png", size=(20, 10), colour=False)
    write_png(tmp_path / "b.png", size=(16, 16), colour=False)
    write_png(tmp_path / "c.png", size=(16, 16), colour=False)
    with pytest.raises(DataError, match=r"different sizes .*set image\.resolution=N"):
        images_of(f"data={tmp_path}")
    data = images_of(f"data={tmp_path}", "image.resolution=8")
    assert data.shape == (1, 8, 8) and data.classes == []


def test_an_npz_of_images_and_labels(tmp_path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 16, 16, 3), dtype=np.uint8)
    path = tmp_path / "faces.npz"
    np.savez(path, images=images, labels=np.repeat(["a", "b"], 20))
    data = images_of(f"data={path}")
    assert data.name == "faces" and data.classes == ["a", "b"]
    assert data.shape == (3, 16, 16)
    assert len(data.heldout_images) == 8


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "has no PNG or JPEG images"),
        (lambda p: (p / "cat").mkdir(parents=True), "class folder .*cat' has no PNG or JPEG"),
        (
            lambda p: (write_png(p / "x.png"), write_png(p / "cat" / "y.png")),
            "has both images and subfolders",
        ),
        (
            lambda p: (write_png(p / "ok.png"), (p / "broken.png").write_bytes(b"not a png")),
            "cannot read image .*broken.png",
        ),
        (
            lambda p: (write_png(p / "a" / "1.png"), write_png(p / "b" / "1.png")),
            "class 'a' of .* has 1 image",
        ),
    ],
)
def test_bad_folders_get_one_clear_line(tmp_path, make, message) -> None:
    folder = tmp_path / "images"
    make(folder)
    with pytest.raises(DataError, match=message) as error:
        images_of(f"data={folder}")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"images": np.zeros((10, 8, 8)), "labels": np.zeros(9)}, "has shape \\(9,\\) for 10"),
        ({"images": np.zeros((10, 8, 8, 2))}, "images need shape"),
        ({"images": np.full((10, 8, 8), 3.0)}, "float pixels in \\[3, 3\\]"),
        ({"images": np.full((10, 8, 8), np.nan)}, "NaN or Inf"),
        ({"images": np.full((10, 8, 8), 300)}, "outside 0..255"),
    ],
)
def test_bad_image_archives_get_one_clear_line(tmp_path, arrays, message) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message) as error:
        images_of(f"data={path}")
    assert "\n" not in str(error.value)


def test_labels_are_needed_for_per_class_and_conditional(tmp_path) -> None:
    for index in range(4):
        write_png(tmp_path / f"{index}.png")
    with pytest.raises(DataError, match=r"image\.per_class needs labelled images"):
        images_of(f"data={tmp_path}", "image.per_class=2")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["image.channels=2"], "'image.channels' must be 1 (grey), 3 (RGB) or 0"),
        (["image.per_class=5", "image.train_fraction=0.5"], "not both"),
        (["image.holdout=1"], "'image.holdout' must be < 1"),
        (["augment.policy=color,blur"], "must be one of color, translation, cutout; got 'blur'"),
        (["model=vit"], "'model' must be one of auto, mlp, dcgan, resnet"),
    ],
)
def test_bad_image_settings_name_the_key(overrides, message) -> None:
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        load_config(overrides=overrides)
    assert message in str(error.value)
