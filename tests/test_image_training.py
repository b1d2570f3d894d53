"""GANs on images: a short conditional run on digits end to end, every loss on images, the
ResNet/SN nets, augmentation at the one place D is run, and the errors of bad combinations."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from test_engine import Spy

import gankit
from gankit.cli import main
from gankit.config import load_config
from gankit.data import load_data
from gankit.errors import ConfigError, DataError
from gankit.evaluation import Evaluator
from gankit.nets import build_discriminator, build_generator
from gankit.objectives import OBJECTIVES
from gankit.training.engine import Trainer, build_trainer

TINY_IMAGES = [
    "data=digits",
    "conditional=true",
    "steps=30",
    "batch_size=32",
    "noise.dim=16",
    "generator.width=8",
    "discriminator.width=8",
    "log_every=10",
    "eval_every=15",
    "eval_samples=200",
    "progress=false",
    "augment.policy=color,translation,cutout",
    "augment.adaptive=true",
]

pytestmark = pytest.mark.usefixtures("private_feature_cache")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, private_feature_cache):
    out = tmp_path_factory.mktemp("runs") / "digits"
    assert main(["train", "--out", str(out), *TINY_IMAGES]) == 0
    return out


def test_a_conditional_digits_run_writes_metrics_and_grids(run_dir) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("frechet", "kid", "kid_std", "precision", "recall", "density", "coverage"):
        assert np.isfinite(summary[key]), key
    assert 0 <= summary["class_accuracy"] <= 1
    assert {f"class_accuracy/{digit}" for digit in range(10)} <= set(summary)
    assert summary["feature_accuracy"] > 0.95  # the feature network, on held-out digits
    assert (summary["train_images"], summary["heldout_images"]) == (1438, 359)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert all(0 <= record["augment_p"] <= 1 for record in records)
    grids = sorted(path.name for path in (run_dir / "grids").iterdir())
    assert grids == ["step_000015.png", "step_000030.png"]
    from PIL import Image

    with Image.open(run_dir / "samples.png") as grid:
        assert grid.size == (10 * 50 + 2, 10 * 50 + 2)  # a row per class, 10 columns
    with Image.open(run_dir / "nearest.png") as pairs:
        assert pairs.size == (8 * 50 + 2, 6 * 50 + 2)  # 24 (sample, training image) pairs


def test_the_summary_says_how_close_samples_come_to_the_training_images(run_dir) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert 0 < summary["dcr_heldout_min"] <= summary["dcr_heldout_median"]
    assert summary["dcr_synthetic_min"] <= summary["dcr_synthetic_median"]
    assert summary["dcr_ratio"] == pytest.approx(
        summary["dcr_synthetic_median"] / summary["dcr_heldout_median"]
    )
    assert 0 <= summary["near_copy_share"] <= 1 and summary["exact_copies"] == 0


def test_sample_writes_png_folders_per_class_and_npz(run_dir, tmp_path) -> None:
    folder = tmp_path / "pngs"
    assert main(["sample", str(run_dir), "-n", "25", "-o", str(folder)]) == 0
    counts = {sub.name: len(list(sub.iterdir())) for sub in folder.iterdir()}
    assert counts == {str(d): 3 if d < 5 else 2 for d in range(10)}
    archive = tmp_path / "samples.npz"
    assert main(["sample", str(run_dir), "-n", "20", "-o", str(archive)]) == 0
    with np.load(archive) as saved:
        assert saved["images"].shape == (20, 8, 8)
        assert saved["labels"].tolist() == [d % 10 for d in range(20)]
        assert saved["images"].min() >= 0 and saved["images"].max() <= 16
    assert main(["evaluate", str(run_dir), "--samples", str(archive)]) == 0
    assert main(["evaluate", str(run_dir), "--samples", str(folder)]) == 0


def test_a_loaded_image_run_samples_the_same_images(run_dir) -> None:
    loaded = gankit.load(run_dir)
    images, labels = loaded.sample_labelled(30, seed=3)
    again, _ = gankit.load(run_dir).sample_labelled(30, seed=3)
    assert images.shape == (30, 8, 8) and np.array_equal(images, again)
    assert labels.tolist() == [i % 10 for i in range(30)]
    metrics = loaded.evaluate(images, labels=labels)
    assert {"frechet", "kid", "class_accuracy"} <= set(metrics)


def make_trainer(*overrides: str) -> Trainer:
    config = load_config(overrides=[*TINY_IMAGES, *overrides])
    data = load_data(config)
    classes = data.num_classes if config.conditional else 0
    return Trainer(
        config,
        data,
        build_generator(config, data.shape, classes),
        build_discriminator(config, data.shape, classes),
        OBJECTIVES[config.loss],
    )


# Each objective's L_D and L_G on D's logits, written out here (L_D without WGAN-GP's penalty).
OBJECTIVE_FORMULAS = {
    "hinge": (
        lambda real, fake: (1 - real).clamp(min=0).mean() + (1 + fake).clamp(min=0).mean(),
        lambda fake: -fake.mean(),
    ),
    "wgan-gp": (lambda real, fake: fake.mean() - real.mean(), lambda fake: -fake.mean()),
    "lsgan": (
        lambda real, fake: 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(),
        lambda fake: 0.5 * ((fake - 1) ** 2).mean(),
    ),
    "minimax": (
        lambda real, fake: (
            -torch.log(torch.sigmoid(real)).mean() - torch.log(1 - torch.sigmoid(fake)).mean()
        ),
        lambda fake: torch.log(1 - torch.sigmoid(fake)).mean(),
    ),
}


@pytest.mark.parametrize("loss", sorted(OBJECTIVE_FORMULAS))
def test_every_loss_trains_on_images_with_its_own_formula(loss) -> None:
    trainer = make_trainer(f"loss={loss}", "discriminator.spectral_norm=true")
    spy = Spy(trainer)
    loss_d, _, _ = trainer.discriminator_step()
    # what D gave for the real and the fake batch (WGAN-GP's critic then scores interpolates)
    real, fake = (logits.double() for _, logits in spy.seen[:2])
    d_formula, g_formula = OBJECTIVE_FORMULAS[loss]
    assert loss_d.item() == pytest.approx(d_formula(real, fake).item(), rel=1e-5, abs=1e-6)
    loss_g = trainer.generator_step()
    fake = spy.seen[-1][1].double()
    assert loss_g.item() == pytest.approx(g_formula(fake).item(), rel=1e-5, abs=1e-6)
    stats = torch.stack([trainer.train_step() for _ in range(3)])
    assert torch.isfinite(stats).all()


def test_a_short_conditional_dcgan_run_learns() -> None:
    """Both networks learn in 300 steps (about 4 s, plus two evaluations of 0.5 to 3 s).

    D takes 50 steps alone first: its first loss is about log 4 (it cannot tell real from fake), and
    G's batch norm settles its running statistics, so that the untrained G's samples are
    scored as fairly as the trained G's (with the initial statistics they score ~1,800, not
    ~1,170). Seeds 0-2 then took the Frechet distance from 1,170-1,180 to 570-730 (0.48-0.62
    of it; 0.98-0.99 when G's step is skipped), and D's loss ended at 1.06-1.11: below log 4,
    as D learns, and far above the 0.22-0.28 it falls to when G stops learning. Class accuracy
    is still near chance this early (0.09-0.14 for 10 classes), so it is not the signal here.
    No augmentation and no EMA: both slow a run this short down.
    """
    config = load_config(
        overrides=[
            "data=digits",
            "conditional=true",
            "steps=300",
            "batch_size=32",
            "noise.dim=16",
            "generator.width=16",
            "discriminator.width=16",
            "ema=0",
            "log_every=30",
            "eval_samples=500",
            "progress=false",
        ]
    )
    data = load_data(config)
    trainer = build_trainer(config, data)
    evaluate = Evaluator(config, data, data.num_classes, seed=0)
    first_loss, _, _ = trainer.discriminator_step()
    for _ in range(49):
        trainer.discriminator_step()
    before = evaluate(trainer.sampling_generator)["frechet"]
    records = []
    trainer.fit(config.steps, hooks=[records.append])
    after = evaluate(trainer.sampling_generator)["frechet"]
    assert first_loss.item() == pytest.approx(math.log(4), abs=0.1)  # 1.40-1.45, seeds 0-3
    assert after < 0.8 * before
    assert 0.8 < np.mean([r["loss_d"] for r in records[-3:]]) < math.log(4) - 0.1


def test_resnet_with_spectral_norm_makes_32px_class_conditional_images() -> None:
    config = load_config(overrides=["model=resnet", "noise.dim=8", "generator.width=4"])
    config.discriminator.width = 4
    generator = build_generator(config, (3, 32, 32), num_classes=3)
    discriminator = build_discriminator(config, (3, 32, 32), num_classes=3)
    labels = torch.tensor([0, 1, 2, 1])
    images = generator(torch.randn(4, 8), labels)
    assert images.shape == (4, 3, 32, 32) and images.abs().max() <= 1
    logits = discriminator(images, labels)
    assert logits.shape == (4,)
    logits.sum().backward()
    normed = [m for m in discriminator.modules() if hasattr(m, "parametrizations")]
    assert len(normed) >= 10  # every conv, the linear head and the class embedding
    assert all(p.grad is not None for p in generator.parameters())
    other = discriminator(images.detach(), torch.tensor([1, 2, 0, 0]))
    assert not torch.allclose(logits, other)  # the projection reads the label


def test_discriminator_sees_only_augmented_images(monkeypatch) -> None:
    trainer = make_trainer("augment.adaptive=false")
    seen = []

    class Recording(type(trainer.augment)):
        def __call__(self, x, generator=None):
            seen.append(x.shape)
            return super().__call__(x, generator)

    monkeypatch.setattr(trainer, "augment", Recording(trainer.config.augment, 32))
    trainer.discriminator_step()
    assert len(seen) == 2  # the real batch and the fake batch
    trainer.generator_step()
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (["model=mlp"], ConfigError, "config key 'generator.width' is not used by model=mlp"),
        (["data=ring8"], ConfigError, "config key 'generator.width' is not used by model=mlp"),
        (["image.resolution=18"], ConfigError, "set image.resolution to one of 8, 10, 12, 14,"),
        (["model=resnet"], ConfigError, "model=resnet makes square images of 16, 20, 24, 28,"),
    ],
)
def test_bad_combinations_are_refused(overrides, error, message) -> None:
    with pytest.raises(error, match=message):
        make_trainer(*overrides)


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (["data=digits", "model=mlp"], ConfigError, "model=mlp takes vectors"),
        (["data=ring8", "conditional=true"], DataError, "needs labelled"),
        (["data=ring8", "augment.policy=[color]"], ConfigError, "'augment.policy' is not used"),
    ],
)
def test_data_and_model_that_do_not_fit_are_refused(overrides, error, message) -> None:
    """With nothing else set, so that each check is the first to object."""
    with pytest.raises(error, match=message):
        config = load_config(overrides=[*overrides, "progress=false"])
        build_trainer(config, load_data(config))


def test_inception_features_give_a_clear_error(run_dir, tmp_path, capsys) -> None:
    weights = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    weights.write_bytes(b"")
    assert main(["evaluate", str(run_dir), "--inception", str(weights)]) == 2
    err = capsys.readouterr().err
    assert "InceptionV3 features are not available" in err and err.count("\n") == 1


def train_and_resume_from_step_10(tmp_path, *settings: str) -> tuple[Path, Path]:
    """A 30-step run, and a copy of it resumed from its step-10 checkpoint: (whole, resumed)."""
    settings = (*TINY_IMAGES, *settings, "checkpoint_every=10", "keep_checkpoints=5")
    whole = tmp_path / "whole"
    assert main(["train", "--out", str(whole), *settings]) == 0
    cut = tmp_path / "cut"
    shutil.copytree(whole, cut)
    for name in ("step-00000020.safetensors", "step-00000030.safetensors"):
        (cut / "checkpoints" / name).unlink()
    (cut / "model.safetensors").unlink()
    assert main(["train", "--resume", str(cut)]) == 0
    return whole, cut


def test_an_image_run_with_adaptive_augmentation_resumes_bit_identical(tmp_path) -> None:
    """The augmentation's p, its ADA sums and its random stream are in the checkpoints."""
    from safetensors.torch import load_file

    whole, cut = train_and_resume_from_step_10(tmp_path, "augment.p=0.5", "augment.ada_kimg=0.5")
    expected, actual = load_file(whole / "model.safetensors"), load_file(cut / "model.safetensors")
    assert all(torch.equal(expected[name], actual[name]) for name in expected)
    assert (cut / "metrics.jsonl").read_text() == (whole / "metrics.jsonl").read_text()
    p_values = {json.loads(line)["augment_p"] for line in (whole / "metrics.jsonl").open()}
    assert len(p_values) > 1  # p moved


def test_unlabelled_rgb_images_train_and_score_with_rotation_features(tmp_path) -> None:
    """No labels: the feature network learns the 4 rotations; no class accuracy is scored."""
    rng = np.random.default_rng(0)
    images = np.zeros((48, 20, 12, 3), np.uint8)  # not square: cropped to 12x12, then 16x16
    for image in images:
        row, col = rng.integers(0, 8, size=2)
        image[row : row + 6, col : col + 3] = rng.integers(100, 256, size=3)  # an upright bar
    data = tmp_path / "bars.npz"
    np.savez(data, images=images)
    out = tmp_path / "run"
    settings = [
        f"data={data}",
        "image.resolution=16",
        "model=resnet",
        "loss=hinge",
        "steps=4",
        "batch_size=8",
        "noise.dim=8",
        "generator.width=4",
        "discriminator.width=4",
        "eval_samples=64",
        "progress=false",
    ]
    assert main(["train", "--out", str(out), *settings]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert 0 <= summary["feature_accuracy"] <= 1 and np.isfinite(summary["frechet"])
    assert "class_accuracy" not in summary
    assert gankit.load(out).sample(5).shape == (5, 16, 16, 3)
    folder = tmp_path / "pngs"
    assert main(["sample", str(out), "-n", "6", "-o", str(folder)]) == 0
    assert len(list(folder.glob("*.png"))) == 6  # unconditional: no class subfolders


def test_channels_last_trains_the_same_game_and_resumes_bit_identical(tmp_path) -> None:
    """NHWC convolutions change only the rounding; a checkpoint's contiguous Adam moments go
    back into their weights' memory order (fused Adam reads them in that order)."""
    torch.manual_seed(0)
    nchw = make_trainer("r1=0.1")
    torch.manual_seed(0)
    nhwc = make_trainer("r1=0.1", "channels_last=true")
    conv = nhwc.discriminator.features[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    for _ in range(5):  # the losses and D's outputs, step by step
        torch.testing.assert_close(nhwc.train_step(), nchw.train_step(), rtol=1e-4, atol=1e-5)

    whole, cut = train_and_resume_from_step_10(tmp_path, "channels_last=true")
    assert (cut / "metrics.jsonl").read_text() == (whole / "metrics.jsonl").read_text()
