"""The downstream classifiers and the classic augmentation they are compared with."""

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


def test_shifted_copies_move_each_image_by_one_pixel() -> None:
    images = -torch.ones(5, 1, 4, 4)
    images[:, 0, 1, 2] = 1.0  # one bright pixel at (1, 2)
    labels = torch.arange(5)
    moved, _ = shifted_copies(images, labels, 200, torch.Generator().manual_seed(0))
    assert moved.shape == (200, 1, 4, 4)
    positions = set()
    for image in moved:
        (row, column), *rest = (image[0] == 1).nonzero().tolist()
        assert not rest and max(abs(row - 1), abs(column - 2)) == 1  # moved, by one pixel
        positions.add((row, column))
    assert len(positions) == 8  # all eight neighbours occur
    assert (moved == -1).sum(dim=(1, 2, 3)).eq(15).all()  # the border fills with background


def shift(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``image`` (C, H, W) moved dy rows down and dx columns right; the border is -1."""
    height, width = image.shape[1:]
    out = torch.full_like(image, -1.0)
    out[:, max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = image[
        :, max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
    ]
    return out


def test_each_shifted_copy_keeps_the_label_of_the_image_it_came_from() -> None:
    # Nine images of random pixels, so that each copy has one source; three of each class.
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(9, 2, 5, 5, generator=generator) * 1.8 - 0.9  # never the border's -1
    labels = torch.arange(9) % 3
    moved, moved_labels = shifted_copies(images, labels, 60, torch.Generator().manual_seed(1))
    neighbours = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    sources = []
    for copy, label in zip(moved, moved_labels, strict=True):
        matches = [
            index
            for index, image in enumerate(images)
            for dy, dx in neighbours
            if torch.equal(copy, shift(image, dy, dx))
        ]
        assert len(matches) == 1  # a one-pixel shift of exactly one original
        assert label == labels[matches[0]]
        sources.append(matches[0])
    assert len(set(sources)) == 9  # every original, of every class, was copied
