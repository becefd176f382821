"""E-K2's unsupervised families: a denoising autoencoder and a small GAN, each with a number that checks it.

The autoencoder trains with the shared engine (it is supervised by clean images). The GAN
has two networks and two optimizers taking turns, which the single-model engine does not
do, so its loop is written here (the standard DCGAN recipe: Adam 2e-4, beta1 0.5).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from cpath_repro import seeds
from cpath_repro.train.engine import seed_everything


class DenoisingAutoencoder(nn.Module):
    """Encoder (two stride-2 convolutions) to a bottleneck, decoder (two transposed convolutions) back; no skips."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, width, 3, 2, 1), nn.ReLU(),
                                     nn.Conv2d(width, 2 * width, 3, 2, 1), nn.ReLU())
        self.decoder = nn.Sequential(nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),
                                     nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class Generator(nn.Module):
    """DCGAN generator: a latent vector to a ``1 x 32 x 32`` crop in [0, 1]."""

    def __init__(self, latent: int = 16, width: int = 16) -> None:
        super().__init__()
        self.latent = latent
        self.net = nn.Sequential(
            nn.Unflatten(1, (latent, 1, 1)),
            nn.ConvTranspose2d(latent, 4 * width, 4, 1, 0), nn.BatchNorm2d(4 * width), nn.ReLU(),  # 4 x 4
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.ReLU(),  # 8 x 8
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),  # 16 x 16
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Sigmoid(),  # 32 x 32
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def sample(self, n: int, seed: int) -> torch.Tensor:
        self.eval()
        with torch.no_grad():
            return self(torch.randn(n, self.latent, generator=torch.Generator().manual_seed(seed)))


def discriminator(width: int = 16) -> nn.Module:
    """DCGAN discriminator: a ``1 x 32 x 32`` crop to one real/fake logit."""
    return nn.Sequential(
        nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.BatchNorm2d(4 * width), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(4 * width * 16, 1),
    )


def train_gan(real: torch.Tensor, epochs: int, seed: int, batch_size: int = 64,
              latent: int = 16) -> tuple[Generator, list[dict[str, float]]]:
    """Adversarial training on ``real`` crops ``(n, 1, 32, 32)``; the losses of each epoch."""
    seed_everything(seed)
    gen, disc = Generator(latent), discriminator()
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    history = []
    for epoch in range(epochs):
        gen.train()
        disc.train()
        order = torch.randperm(len(real), generator=torch.Generator().manual_seed(seeds.derive(seed, "batch order", epoch)))
        d_total = g_total = 0.0
        for start in range(0, len(real), batch_size):
            batch = real[order[start:start + batch_size]]
            fake = gen(torch.randn(len(batch), latent))
            opt_d.zero_grad()
            d_loss = bce(disc(batch), torch.ones(len(batch), 1)) + bce(disc(fake.detach()), torch.zeros(len(batch), 1))
            d_loss.backward()
            opt_d.step()
            opt_g.zero_grad()
            g_loss = bce(disc(fake), torch.ones(len(batch), 1))  # non-saturating generator loss
            g_loss.backward()
            opt_g.step()
            d_total += float(d_loss.detach()) * len(batch)
            g_total += float(g_loss.detach()) * len(batch)
        history.append({"epoch": epoch + 1, "discriminator_loss": d_total / len(real),
                        "generator_loss": g_total / len(real)})
    return gen, history


def two_sample_accuracy(a: np.ndarray, b: np.ndarray, seed: int, folds: int = 5) -> float:
    """Classifier two-sample test: cross-validated accuracy of telling rows of ``a`` from rows of ``b``.

    0.5 means the two samples cannot be told apart; 1.0 means they always can (Lopez-Paz & Oquab, 2017).
    """
    x = np.concatenate([a, b])
    y = np.r_[np.zeros(len(a)), np.ones(len(b))]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return float(cross_val_score(model, x, y, cv=splits, scoring="accuracy").mean())
