"""A convolutional variational autoencoder (Kingma & Welling 2014): the likelihood-based
baseline that GAN samples are compared with.

Shaped like the DCGAN of :mod:`gankit.nets.dcgan`. The encoder q(z | x, y) is D's stack of
strided convolutions, fed the image and, for a conditional VAE, its class as K one-hot
channels; a linear layer gives the mean and log-variance of a diagonal Gaussian over z. The
decoder p(x | z, y) is G itself, fed z and the one-hot class and conditioned by class batch
norm: its tanh output is the mean of a Gaussian over the pixels, whose standard deviation
sigma is one learnt scalar. Training minimises the negative ELBO per image,

    -ELBO(x, y) = E_q[-log p(x | z, y)] + KL(q(z | x, y) || N(0, I)),

the expectation estimated at one z = mu + sigma_q * eps (the reparameterisation trick).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save
from torch import Tensor, nn

from gankit.data.images import ImageData
from gankit.errors import DataError, GankitError
from gankit.files import write_atomically
from gankit.nets.dcgan import SIZES, DCGANGenerator, pyramid_channels
from gankit.nets.layers import base_side, halvings
from gankit.supervised import fit
from gankit.threads import torch_threads

WEIGHTS_FILE = "vae.safetensors"
FORMAT = "gankit-vae"


def gaussian_kl(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, diag(exp(logvar))) || N(0, I)) per row, in closed form (nats)."""
    # 1/2 sum_j (mu_j^2 + s_j^2 - log s_j^2 - 1)
    return 0.5 * (mean.square() + logvar.exp() - logvar - 1).sum(1)


def gaussian_nll(images: Tensor, mean: Tensor, log_sigma: Tensor) -> Tensor:
    """-log N(images; mean, sigma^2 I) per image (nats), with one scalar log sigma."""
    pixels = images[0].numel()
    squared_error = (images - mean).square().flatten(1).sum(1)
    # sum_i (x_i - m_i)^2 / (2 sigma^2) + D log sigma + D/2 log(2 pi)
    return (
        squared_error / (2 * torch.exp(2 * log_sigma))
        + pixels * log_sigma
        + pixels * 0.5 * math.log(2 * math.pi)
    )


class Encoder(nn.Module):
    """q(z | x, y): strided convolutions (as DCGAN's D) to the mean and log-variance of z."""

    def __init__(
        self, latent_dim: int, shape: tuple[int, int, int], width: int, num_classes: int
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        channels = pyramid_channels(width, halvings(shape[1]))
        layers: list[nn.Module] = [
            nn.Conv2d(shape[0] + num_classes, channels[0], 3, padding=1),
            nn.LeakyReLU(0.2),
        ]
        for c_in, c_out in itertools.pairwise(channels):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.posterior = nn.Linear(channels[-1] * base_side(shape[1]) ** 2, 2 * latent_dim)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.num_classes:
            one_hot = F.one_hot(labels, self.num_classes).to(images.dtype)
            planes = one_hot[:, :, None, None].expand(-1, -1, *images.shape[2:])
            images = torch.cat([images, planes], 1)
        mean, logvar = self.posterior(self.features(images)).chunk(2, dim=1)
        return mean, logvar


class VAE(nn.Module):
    """A (class-conditional when ``num_classes`` > 0) convolutional VAE for square images of
    8 to 64 px in [-1, 1]; ``width`` is the channel count at full resolution, as in DCGAN."""

    def __init__(
        self,
        shape: tuple[int, int, int],
        num_classes: int = 0,
        latent_dim: int = 16,
        width: int = 32,
    ) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.num_classes = num_classes
        self.latent_dim = latent_dim
        self.width = width
        self.encoder = Encoder(latent_dim, self.shape, width, num_classes)
        self.decoder = DCGANGenerator(latent_dim + num_classes, self.shape, width, num_classes)
        # One learnt sigma for all pixels (the sigma-VAE of Rybkin et al. 2021), not a fixed
        # one: its optimum is the RMS reconstruction error, so it weighs reconstruction
        # against KL without tuning per data set. Starting at 1 and lowered by Adam about lr
        # per step, it also weighs KL heavily at first (a warm-up, as Bowman et al. 2016),
        # which keeps the class out of z. Digits, 3000 steps, Frechet / class accuracy of
        # samples: learnt (ends near 0.11) 11 / 0.99; fixed 0.2: 41 / 0.94; fixed 0.1:
        # 139 / 0.53; the per-minibatch optimum sqrt(MSE): 70 / 0.80.
        self.log_sigma = nn.Parameter(torch.zeros(()))

    @property
    def settings(self) -> dict[str, Any]:
        """The constructor's arguments: what :func:`load_vae` rebuilds the network from."""
        return {
            "shape": list(self.shape),
            "num_classes": self.num_classes,
            "latent_dim": self.latent_dim,
            "width": self.width,
        }

    def _labels(self, labels: Tensor | None) -> Tensor | None:
        return labels if self.num_classes else None

    def negative_elbo(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """-ELBO per image (nats), at one reparameterised sample z ~ q(z | x, y)."""
        labels = self._labels(labels)
        mean, logvar = self.encoder(images, labels)
        # z = mu + sigma_q * eps, eps ~ N(0, I): a sample whose gradient reaches mu and sigma_q
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        decoded = self.decode(z, labels)
        reconstruction = gaussian_nll(images, decoded, self.log_sigma)
        return reconstruction + gaussian_kl(mean, logvar)

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """The mean of p(x | z, y): images (n, C, H, W) in [-1, 1]."""
        if self.num_classes:
            # The class as input too, not only through conditional batch norm: with batch norm
            # alone the encoder put the class into z, so samples from N(0, I) came out of
            # other classes (digits, class accuracy 0.95 with the learnt sigma, 0.24 with a
            # fixed 0.2, against 0.99 and 0.94 so).
            z = torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], 1)
        return self.decoder(z, labels)

    @torch.no_grad()
    def reconstruct(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """The decoded posterior means E_q[z | x, y]: images (n, C, H, W) in [-1, 1]."""
        with _evaluating(self):
            labels = self._labels(labels)
            mean, _ = self.encoder(images, labels)
            return self.decode(mean, labels)

    @torch.no_grad()
    def generate(self, n: int, seed: int = 0) -> tuple[Tensor, Tensor | None]:
        """n images decoded from z ~ N(0, I) (the same seed, the same images), (n, C, H, W) in
        [-1, 1], and for a conditional VAE the classes asked for: 0, 1, ..., K-1, 0, ...;
        else None."""
        if n < 1:
            raise GankitError(f"the number of samples must be at least 1; got {n}")
        device = self.log_sigma.device
        z = torch.randn(
            n, self.latent_dim, generator=torch.Generator(device).manual_seed(seed), device=device
        )
        labels = torch.arange(n, device=device) % self.num_classes if self.num_classes else None
        with _evaluating(self):
            return self.decode(z, labels), labels


@contextlib.contextmanager
def _evaluating(module: nn.Module) -> Iterator[None]:
    """Eval mode (batch norm's running statistics) inside the block, the previous mode after."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def train_vae(
    data: ImageData,
    *,
    steps: int,
    batch_size: int = 64,
    seed: int = 0,
    conditional: bool = True,
    latent_dim: int = 16,
    width: int = 32,
    lr: float = 1e-3,
    threads: int = 1,
) -> tuple[VAE, list[float]]:
    """A VAE trained on ``data`` by Adam on the mean -ELBO of minibatches, and that loss (nats
    per image) at every step. On the CPU the same seed gives the same weights, bit for bit.
    Runs on ``threads`` torch threads, one by default as the GAN trainer (fastest for small
    images); give a GAN's ``threads`` to train it on the same."""
    _check_arguments(data, steps, batch_size, conditional, latent_dim, width, lr)
    num_classes = data.num_classes if conditional else 0
    with torch.random.fork_rng():  # seed the initial weights, leave the caller's stream alone
        torch.manual_seed(seed)
        vae = VAE(data.shape, num_classes, latent_dim, width)
    vae.to(data.images.device)
    rng = torch.Generator(data.images.device).manual_seed(seed)
    batches = (data.sample_labelled(batch_size, rng) for _ in range(steps))
    with torch_threads(threads), torch.random.fork_rng():
        torch.manual_seed(seed + 1)  # eps of the reparameterisation
        losses = fit(
            vae, lambda batch: vae.negative_elbo(*batch).mean(), batches, lr=lr, name="VAE"
        )
    return vae, losses


def _check_arguments(
    data: ImageData,
    steps: int,
    batch_size: int,
    conditional: bool,
    latent_dim: int,
    width: int,
    lr: float,
) -> None:
    if not isinstance(data, ImageData):
        raise DataError(
            f"a VAE trains on images, and {getattr(data, 'name', data)!r} is not image data; "
            "use data=digits or a folder or .npz of images"
        )
    for name, value in (
        ("steps", steps),
        ("batch_size", batch_size),
        ("latent_dim", latent_dim),
        ("width", width),
    ):
        if value < 1:
            raise GankitError(f"{name} must be at least 1; got {value}")
    if not lr > 0:
        raise GankitError(f"lr must be positive; got {lr}")
    _, height, width_px = data.shape
    if height != width_px or height not in SIZES:
        listed = ", ".join(map(str, SIZES))
        raise DataError(
            f"the VAE makes square images of {listed} pixels; {data.name!r} is "
            f"{width_px}x{height}, so set image.resolution to one of {listed}"
        )
    if conditional and data.num_classes == 0:
        raise DataError(
            f"a conditional VAE needs labelled images, and {data.name!r} has no labels; "
            "pass conditional=False, or use labelled data (one subfolder per class)"
        )


def save_vae(vae: VAE, directory: str | Path) -> None:
    """Write ``vae``'s weights and settings to ``directory``/vae.safetensors (no pickle).

    Atomically: a crash while saving leaves the previous file whole, never half of the new one.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in vae.state_dict().items()}
    metadata = {"format": FORMAT, "settings": json.dumps(vae.settings)}
    write_atomically(directory / WEIGHTS_FILE, save(tensors, metadata=metadata))


def load_vae(directory: str | Path) -> VAE:
    """The VAE that :func:`save_vae` wrote to ``directory``, in eval mode on the CPU."""
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise GankitError(
            f"{str(path)!r} not found; give the folder that gankit.vae.save_vae wrote"
        )
    try:
        tensors = load_file(path)
        with safe_open(path, framework="pt") as file:
            metadata = file.metadata() or {}
        if metadata.get("format") != FORMAT:
            raise ValueError("no gankit VAE settings in its metadata")
        settings = json.loads(metadata["settings"])
        vae = VAE(
            tuple(settings["shape"]),
            settings["num_classes"],
            settings["latent_dim"],
            settings["width"],
        )
        vae.load_state_dict(tensors)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GankitError(
            f"{str(path)!r} is not a VAE that gankit.vae.save_vae wrote ({reason}); "
            "retrain or restore it"
        ) from None
    return vae.eval()
