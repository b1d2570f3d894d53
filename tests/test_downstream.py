"""The downstream classifiers and the classic augmentation they are compared with."""

import numpy as np
import pytest
import torch

from gankit.downstream import CLASSIFIERS, shifted_copies, train_and_score


def _blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes of 6x6 images: a bright square in a class's own corner, plus noise."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = -torch.ones(n, 1, 6, 6) + 0.3 * torch.randn(n, 1, 6, 6, generator=generator)
    for label, (top, left) in enumerate([(0, 0), (0, 3), (3, 0)]):
        images[labels == label, :, top : top + 3, left : left + 3] += 1.5
    return images, labels


@pytest.mark.parametrize("classifier", sorted(CLASSIFIERS))
def test_every_classifier_learns_an_easy_task_and_not_noise(classifier) -> None:
    train, test = _blobs(90, 0), _blobs(90, 1)
    good = train_and_score(classifier, train, test, 3, seed=0)
    assert good["accuracy"] > 0.95 and good["macro_f1"] > 0.95
    shuffled = (train[0], train[1][torch.randperm(90, generator=torch.Generator().manual_seed(2))])
    chance = train_and_score(classifier, shuffled, test, 3, seed=0)
    assert chance["accuracy"] < 0.6


def test_a_classifier_is_deterministic_for_a_seed() -> None:
    train, test = _blobs(60, 0), _blobs(60, 1)
    flipped = (train[0], (train[1] + (torch.arange(60) % 4 == 0)) % 3)  # some label noise
    first = train_and_score("cnn", flipped, test, 3, seed=5)
    assert train_and_score("cnn", flipped, test, 3, seed=5) == first


def test_macro_f1_weighs_every_class_alike() -> None:
    train, test = _blobs(90, 0), _blobs(90, 1)
    never_class_two = (train[0][train[1] != 2], train[1][train[1] != 2])
    score = train_and_score("logistic", never_class_two, test, 3, seed=0)
    assert score["accuracy"] == pytest.approx(2 / 3, abs=0.02)
    assert score["macro_f1"] == pytest.approx(0.8 * 2 / 3, abs=0.03)  # F1 of 0.8, 0.8 and 0


def test_shifted_copies_move_each_image_by_one_pixel_and_keep_its_label() -> None:
    images = -torch.ones(5, 1, 4, 4)
    images[:, 0, 1, 2] = 1.0  # one bright pixel at (1, 2)
    labels = torch.arange(5)
    moved, moved_labels = shifted_copies(images, labels, 200, torch.Generator().manual_seed(0))
    assert moved.shape == (200, 1, 4, 4)
    positions = set()
    for image in moved:
        (row, column), *rest = (image[0] == 1).nonzero().tolist()
        assert not rest and max(abs(row - 1), abs(column - 2)) == 1  # moved, by one pixel
        positions.add((row, column))
    assert len(positions) == 8  # all eight neighbours occur
    assert set(moved_labels.tolist()) <= set(range(5))
    assert (moved == -1).sum(dim=(1, 2, 3)).eq(15).all()  # the border fills with background
    assert np.isin(moved_labels.numpy(), labels.numpy()).all()
