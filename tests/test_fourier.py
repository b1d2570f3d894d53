"""The Fourier-feature D that refine-d trains for vectors: it resolves a density ratio that
changes within a mode's width, which an MLP on the coordinates does not."""

import math

import torch

from gankit.nets.fourier import FourierDiscriminator
from gankit.nets.mlp import MLPDiscriminator
from gankit.objectives import discriminator_loss
from gankit.supervised import fit

REAL_STD, FAKE_STD = 0.02, 0.008  # p_data's modes, and a G's that piles its samples at them


def draw(n: int, std: float, rng: torch.Generator) -> torch.Tensor:
    """Two modes at -1 and +1 (the spread of standardised data), each ``std`` wide."""
    centres = torch.randint(0, 2, (n, 1), generator=rng) * 2.0 - 1
    return centres + std * torch.randn(n, 1, generator=rng)


def optimal_logit(offset: float) -> float:
    """l*(x) = log p_data(x) / p_g(x) at ``offset`` from a mode's centre (the other mode's share
    is nil there)."""
    return math.log(FAKE_STD / REAL_STD) + offset**2 / 2 * (FAKE_STD**-2 - REAL_STD**-2)


def trained(discriminator: torch.nn.Module, steps: int = 600) -> torch.Tensor:
    """D trained on L_D against the narrow fakes; its logits at offsets 0 and +/-0.025."""
    rng = torch.Generator().manual_seed(0)
    batches = ((draw(256, REAL_STD, rng), draw(256, FAKE_STD, rng)) for _ in range(steps))

    def loss(batch):
        real, fake = batch
        return discriminator_loss(discriminator(real), discriminator(fake))

    fit(discriminator, loss, batches, lr=1e-3, lr_factor=lambda step: 1 - step / steps)
    with torch.no_grad():
        return discriminator(torch.tensor([[1.0], [1.025], [0.975]]))


def test_a_fourier_d_draws_the_ratio_within_a_mode_and_an_mlp_does_not() -> None:
    torch.manual_seed(0)
    fourier = trained(FourierDiscriminator(1, [64, 64], levels=8))
    torch.manual_seed(0)
    mlp = trained(MLPDiscriminator(1, [64, 64]))
    rise = optimal_logit(0.025) - optimal_logit(0)  # 4.1: D* climbs steeply off the centre
    assert abs(float(fourier[0]) - optimal_logit(0)) < 0.3
    assert float(fourier[1:].mean() - fourier[0]) > 0.7 * rise
    assert abs(float(mlp[1:].mean() - mlp[0])) < 0.1 * rise


def test_a_conditional_fourier_d_takes_the_class_beside_the_features() -> None:
    torch.manual_seed(0)
    discriminator = FourierDiscriminator(2, [16], levels=3, num_classes=4)
    x, labels = torch.randn(5, 2), torch.tensor([0, 1, 2, 3, 0])
    assert discriminator(x, labels).shape == (5,)
    assert discriminator.net[0].in_features == 2 * (1 + 2 * 3) + 4
    assert not torch.equal(discriminator(x, labels), discriminator(x, (labels + 1) % 4))
