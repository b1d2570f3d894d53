"""Image data as the trainer sees it: (N, C, H, W) tensors in [-1, 1], labels, a held-out set.

:func:`prepare_images` takes :class:`~gankit.data.image_files.RawImages` to the configured
channels and resolution (centre crop to a square, then antialiased resize), scales the
pixel range to [-1, 1], and splits once, by :mod:`gankit.data.split`: ``image.holdout`` of
each class is held out for evaluation, and the run trains on ``image.train_fraction`` or
``image.per_class`` of the rest.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.config import ImageConfig, RareConfig
from gankit.data.image_files import RawImages
from gankit.data.split import holdout_split, rare_rows, scarce_subset
from gankit.data.vectors import Standardizer
from gankit.errors import DataError


@dataclass
class ImageData:
    """Training images (a scarce subset of the training split), the split itself, and held-out.

    Unlabelled data has ``classes == []`` and every label 0.
    """

    name: str
    standardizer: Standardizer  # pixel units <-> [-1, 1]
    images: Tensor  # (n, C, H, W) in [-1, 1]: what the GAN trains on
    labels: Tensor  # (n,) int64
    split_images: Tensor  # the whole training split: what the feature network learns from
    split_labels: Tensor
    heldout_images: Tensor  # never trained on: what samples are scored against
    heldout_labels: Tensor
    classes: list[str]
    # with rare.validation: images of the split set aside, never trained on
    validation_images: Tensor | None = None
    validation_labels: Tensor | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to(self, device: torch.device) -> ImageData:
        """The same data with the training images and labels on ``device``."""
        if self.images.device == torch.device(device):
            return self
        return dataclasses.replace(
            self,
            standardizer=self.standardizer.to(device),
            images=self.images.to(device),
            labels=self.labels.to(device),
        )

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """A minibatch of n training images, drawn uniformly with replacement."""
        return self.sample_labelled(n, generator)[0]

    def sample_labelled(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """n training images and their labels, drawn uniformly with replacement."""
        rows = torch.randint(len(self.images), (n,), generator=generator, device=self.images.device)
        return self.images[rows], self.labels[rows]

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n labels with the training set's class frequencies (for G's conditioning)."""
        rows = torch.randint(len(self.labels), (n,), generator=generator, device=self.labels.device)
        return self.labels[rows]

    def fingerprint(self) -> str:
        """A hash of the training split: the key of the cached feature network, and the data's
        identity, which a resumed run checks (the config picks the subset trained on)."""
        digest = hashlib.sha256()
        for tensor in (self.split_images, self.split_labels, self.heldout_labels):
            digest.update(tensor.cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def describe(self) -> dict[str, int]:
        """Image counts of the run, for the summary."""
        return {
            "train_images": len(self.images),
            "split_images": len(self.split_images),
            "heldout_images": len(self.heldout_images),
        }


def prepare_images(
    name: str, raw: RawImages, settings: ImageConfig, rare: RareConfig | None = None
) -> ImageData:
    """Resize, scale to [-1, 1] and split ``raw`` (named ``name``: a path or built-in name);
    with ``rare.label``, one class made rare in the training subset."""
    if raw.labels is None and settings.per_class:
        raise DataError(
            f"image.per_class needs labelled images, and {name!r} has none; "
            "use image.train_fraction, or one subfolder per class"
        )
    if raw.labels is not None:
        _check_class_sizes(name, raw)
    images = _to_tensor(name, raw.images, settings)
    low, high = raw.pixel_range
    standardizer = Standardizer(torch.tensor((low + high) / 2), torch.tensor((high - low) / 2))
    images = standardizer.forward(images).clamp(-1, 1)
    labels = np.zeros(len(images), np.int64) if raw.labels is None else raw.labels.astype(np.int64)
    split, heldout = holdout_split(labels, settings.holdout)
    chosen = split[
        scarce_subset(
            labels[split], settings.train_fraction, settings.per_class, settings.subset_seed
        )
    ]
    validation = chosen[:0]
    if rare is not None and rare.label:
        if rare.label not in raw.classes:
            raise DataError(
                f"rare.label={rare.label!r} is not a class of {name!r}; use one of "
                f"{', '.join(raw.classes)}"
            )
        is_rare = labels[chosen] == raw.classes.index(rare.label)
        what = f"class {rare.label!r}"
        kept, held = rare_rows(is_rare, rare.prevalence, rare.seed, rare.validation, what)
        chosen, validation = chosen[kept], chosen[held]
    label_tensor = torch.from_numpy(labels)
    return ImageData(
        name=Path(name).stem,
        standardizer=standardizer,
        images=images[chosen],
        labels=label_tensor[chosen],
        split_images=images[split],
        split_labels=label_tensor[split],
        heldout_images=images[heldout],
        heldout_labels=label_tensor[heldout],
        classes=list(raw.classes),
        validation_images=images[validation],
        validation_labels=label_tensor[validation],
    )


def _check_class_sizes(name: str, raw: RawImages) -> None:
    counts = Counter(raw.labels.tolist())
    if len(counts) < 2:
        raise DataError(f"{name!r} has a single class; give two or more, or no labels at all")
    smallest = min(counts, key=counts.get)
    if counts[smallest] < 2:
        raise DataError(
            f"class {raw.classes[smallest]!r} of {name!r} has 1 image; every class needs at "
            "least 2 (one to train on, one to hold out)"
        )


def _to_tensor(name: str, images: list[np.ndarray], settings: ImageConfig) -> Tensor:
    """(N, C, H, W) float32 in pixel units, at the configured channels and resolution."""
    sizes = Counter(image.shape[:2] for image in images)
    if settings.resolution == 0:
        if len(sizes) > 1:
            (first, _), (second, _) = sizes.most_common(2)
            raise DataError(
                f"images of {name!r} have different sizes ({_size(first)}, {_size(second)}, "
                "...); set image.resolution=N to crop and resize them all to N x N"
            )
        (size,) = sizes
        if size[0] != size[1]:
            raise DataError(
                f"images of {name!r} are {_size(size)}, not square; set image.resolution=N "
                "to crop and resize them to N x N"
            )
    channels = settings.channels or max(image.shape[2] for image in images)
    out = []
    for image in images:
        tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)
        out.append(_resize(_to_channels(tensor, channels), settings.resolution))
    return torch.stack(out)


def _to_channels(image: Tensor, channels: int) -> Tensor:
    """Grey to RGB by repeating; RGB to grey by ITU-R 601 luma (as Pillow's convert('L'))."""
    if image.shape[0] == channels:
        return image
    if channels == 3:
        return image.expand(3, -1, -1)
    weights = torch.tensor([0.299, 0.587, 0.114])[:, None, None]
    return (image * weights).sum(0, keepdim=True)


def _resize(image: Tensor, resolution: int) -> Tensor:
    """Centre crop to a square, then antialiased bilinear resize to resolution x resolution."""
    if resolution == 0:
        return image
    height, width = image.shape[1:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[:, top : top + side, left : left + side]
    if side == resolution:
        return square
    resized = F.interpolate(
        square[None], size=(resolution, resolution), mode="bilinear", antialias=True
    )
    return resized[0]


def _size(size: tuple[int, int]) -> str:
    return f"{size[1]}x{size[0]}"
