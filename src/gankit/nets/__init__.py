"""Networks, chosen by name (``model``) and built from the config and the data's shape.

``mlp`` takes vectors, shape (d,), and is class-conditional (the class one-hot beside z and
beside x) when given classes; ``dcgan`` and ``resnet`` take images, shape (C, H, W), and
are class-conditional (conditional batch norm in G, a projection D) when given classes;
``tabular`` takes encoded table rows, shape (width,), with G's output heads given by the table
transformer's ``spans``. ``auto`` is ``mlp`` for vectors, ``dcgan`` for images and ``tabular``
for tables (the data layer says which: :func:`gankit.config.model_for`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from gankit.config import Config
from gankit.errors import ConfigError
from gankit.nets import dcgan, resnet
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.nets.layers import check_resolution
from gankit.nets.mlp import MLPDiscriminator, MLPGenerator
from gankit.nets.pack import PackedDiscriminator
from gankit.nets.resnet import ResNetDiscriminator, ResNetGenerator
from gankit.nets.tabular import TabularDiscriminator, TabularGenerator

Shape = tuple[int, ...]

Spans = Sequence[tuple[int, str]]
"""A table row's output heads: (size, "tanh" or "softmax") each."""

GENERATORS: dict[str, Callable[[Config, Shape, int, Spans], nn.Module]] = {
    "mlp": lambda config, shape, classes, spans: MLPGenerator(
        config.noise.dim,
        shape[0],
        config.generator.hidden,
        config.generator.activation,
        config.generator.batch_norm,
        classes,
    ),
    "dcgan": lambda config, shape, classes, spans: DCGANGenerator(
        config.noise.dim,
        check_resolution("dcgan", shape, dcgan.SIZES),
        config.generator.width,
        classes,
    ),
    "resnet": lambda config, shape, classes, spans: ResNetGenerator(
        config.noise.dim,
        check_resolution("resnet", shape, resnet.SIZES),
        config.generator.width,
        classes,
    ),
    "tabular": lambda config, shape, classes, spans: TabularGenerator(
        config.noise.dim, spans, config.generator.hidden, classes
    ),
}

DISCRIMINATORS: dict[str, Callable[[Config, Shape, int, Spans], nn.Module]] = {
    "mlp": lambda config, shape, classes, spans: MLPDiscriminator(
        (shape[0] + classes) * config.pack,
        config.discriminator.hidden,
        config.discriminator.activation,
        config.discriminator.batch_norm,
    ),
    "dcgan": lambda config, shape, classes, spans: DCGANDiscriminator(
        check_resolution("dcgan", shape, dcgan.SIZES),
        config.discriminator.width,
        classes,
        config.discriminator.spectral_norm,
    ),
    "resnet": lambda config, shape, classes, spans: ResNetDiscriminator(
        check_resolution("resnet", shape, resnet.SIZES), config.discriminator.width, classes
    ),
    "tabular": lambda config, shape, classes, spans: TabularDiscriminator(
        shape[0], config.discriminator.hidden, classes, config.pack
    ),
}


def resolve_model(config: Config, shape: int | Sequence[int], spans: Spans | None = None) -> str:
    """The model for data of ``shape``: ``config.model``, checked against the data's kind."""
    images = not isinstance(shape, int) and len(shape) == 3
    if spans is not None:  # a table
        if config.model not in ("auto", "tabular"):
            raise ConfigError(f"model={config.model} does not take tables; use model=tabular")
        return "tabular"
    if config.model == "tabular":
        raise ConfigError("model=tabular takes tables (.csv, .tsv, .parquet); use mlp or auto")
    model = config.model if config.model != "auto" else ("dcgan" if images else "mlp")
    if images and model == "mlp":
        raise ConfigError("model=mlp takes vectors; for image data use model=dcgan or resnet")
    if not images and model != "mlp":
        raise ConfigError(f"model={model} makes images; for vector data use model=mlp (or auto)")
    if images and config.pack > 1:
        raise ConfigError("pack > 1 works with model=mlp only; set pack=1 for image data")
    return model


def build_generator(
    config: Config, shape: int | Sequence[int], num_classes: int = 0, spans: Spans | None = None
) -> nn.Module:
    """G for data of ``shape`` (d, or (C, H, W)), conditioned on ``num_classes`` classes if > 0;
    ``spans`` for a table."""
    model = resolve_model(config, shape, spans)
    return GENERATORS[model](config, _as_tuple(shape), num_classes, spans or ())


def build_discriminator(
    config: Config, shape: int | Sequence[int], num_classes: int = 0, spans: Spans | None = None
) -> nn.Module:
    """D, returning logits; packed (PacGAN) when ``config.pack`` > 1 (vectors and tables)."""
    model = resolve_model(config, shape, spans)
    discriminator = DISCRIMINATORS[model](config, _as_tuple(shape), num_classes, spans or ())
    if model == "mlp" and (config.pack > 1 or num_classes):
        return PackedDiscriminator(discriminator, config.pack, num_classes)
    return discriminator


def _as_tuple(shape: int | Sequence[int]) -> Shape:
    return (shape,) if isinstance(shape, int) else tuple(shape)


__all__ = [
    "DISCRIMINATORS",
    "GENERATORS",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "PackedDiscriminator",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "TabularDiscriminator",
    "TabularGenerator",
    "build_discriminator",
    "build_generator",
    "resolve_model",
]
