"""One seeded protocol for chapters 1 and 2: train a conditional GAN, measure it, return numbers.

Chapter 1 (cGAN, projection D) and chapter 2 (AC-GAN) compare discriminators that use the
label in different ways. Both chapters call :func:`train_and_measure` (through
``ganlib.runs``), so the same row with the same seed gives the same numbers in both.
A run differs from another only in what its :class:`ConditionalRunConfig` says.

``discriminator``:

- ``"concat"``: the label joined to D's input (Mirza & Osindero 2014; chapter 1);
- ``"projection"``: the label projected onto D's features (Miyato & Koyama 2018);
- ``"acgan"``: no label input, a source head and a class head (Odena et al. 2017; chapter 2);
- ``"acgan_no_real_class"``: AC-GAN without the class loss on real images (chapter 2's pitfall).

``arch`` "mlp" uses the MLP G and D of chapter 1 (the D's body is the same for every
``discriminator``); "conv" uses ``ConvConditionalGenerator`` with spectrally normalised
strided-conv Ds ending in global sum pooling (concat: one-hot maps as extra input channels).
``data`` "digits" are scikit-learn's 8x8 digits (train split) at ``image_size``;
"overlap2d" is :mod:`ganlib.data.overlap2d`, two classes whose supports overlap.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

import torch
from torch import nn

__all__ = ["ConditionalRunConfig", "train_conditional", "measure_digits", "measure_real_digits"]

DISCRIMINATORS = ("concat", "projection", "acgan", "acgan_no_real_class")


@dataclasses.dataclass(frozen=True)
class ConditionalRunConfig:
    discriminator: str = "concat"
    arch: str = "mlp"  # "mlp" or "conv"
    data: str = "digits"  # "digits" or "overlap2d"
    image_size: int = 16
    z_dim: int = 64
    hidden: int = 256  # MLP width
    ndf: int = 32  # conv width (G's ngf too)
    steps: int = 6000
    batch_size: int = 64
    lr: float = 2e-4  # Adam(2e-4, betas=(0.5, 0.999)), as in DCGAN
    n_eval: int = 100  # generated samples per class measured
    g_batch_norm: bool = True  # batch norm in the MLP G (off for the 2-D toy, as in chapter 0)


def build(
    config: ConditionalRunConfig, num_classes: int, image_size: int, channels: int
) -> Tuple[nn.Module, nn.Module]:
    """``(G, D)`` for ``config``; G is the same for every ``discriminator``."""
    from .models import acgan, cgan

    if config.discriminator not in DISCRIMINATORS:
        raise ValueError(f"discriminator must be one of {DISCRIMINATORS}, got {config.discriminator!r}")
    if config.arch == "mlp":
        G = cgan.MLPConditionalGenerator(
            config.z_dim, num_classes, image_size, channels, config.hidden, batch_norm=config.g_batch_norm
        )
        D = {
            "concat": cgan.MLPConditionalDiscriminator,
            "projection": cgan.MLPProjectionDiscriminator,
            "acgan": acgan.MLPACGANDiscriminator,
            "acgan_no_real_class": acgan.MLPACGANDiscriminator,
        }[config.discriminator](num_classes, image_size, channels, config.hidden)
    elif config.arch == "conv":
        G = cgan.ConvConditionalGenerator(
            config.z_dim, num_classes, image_size, channels, ngf=config.ndf, label_mode="onehot"
        )
        if config.discriminator == "concat":
            D = cgan.ConvConditionalDiscriminator(
                num_classes, image_size, channels, config.ndf, spectral_norm=True, pooling="sum"
            )
        elif config.discriminator == "projection":
            D = cgan.ProjectionDiscriminator(num_classes, image_size, channels, config.ndf, spectral_norm=True)
        else:
            D = acgan.ConvACGANDiscriminator(num_classes, image_size, channels, config.ndf, spectral_norm=True)
    else:
        raise ValueError(f"arch must be 'mlp' or 'conv', got {config.arch!r}")
    return G, D


def load_data(config: ConditionalRunConfig, seed: int = 0):
    """``(images, labels)`` to train on: the digits' train split, or the overlapping toy (drawn with ``seed``)."""
    if config.data == "digits":
        from .data.digits import load_digits

        return load_digits(config.image_size, "train")
    if config.data == "overlap2d":
        from .data.overlap2d import overlapping_classes

        return overlapping_classes(20000, seed=seed)
    raise ValueError(f"data must be 'digits' or 'overlap2d', got {config.data!r}")


def train_conditional(config: ConditionalRunConfig, seed: int) -> nn.Module:
    """Train G and D from ``seed`` (weights, data order, noise); return G."""
    from .data import TensorBatches
    from .models import acgan, cgan
    from .train import GANTrainer, fit
    from .utils import seed_everything

    images, labels = load_data(config, seed)
    seed_everything(seed)
    num_classes, channels, size = int(labels.max()) + 1, images.shape[1], images.shape[-1]
    G, D = build(config, num_classes, size, channels)
    opt_g = torch.optim.Adam(G.parameters(), config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), config.lr, betas=(0.5, 0.999))
    if config.discriminator in ("concat", "projection"):
        trainer = GANTrainer(G, D, opt_g, opt_d, cgan.cgan_step)
    else:
        trainer = GANTrainer(G, D, opt_g, opt_d, acgan.acgan_step, real_class_loss=config.discriminator == "acgan")
    fit(trainer, TensorBatches(images, labels, batch_size=config.batch_size, seed=seed), config.steps, progress=False)
    return G.eval()


def _pairwise_within_class(x: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over classes of the mean pairwise L2 distance of that class's rows."""
    return float(
        torch.stack(
            [torch.pdist(x[labels == k].double()).mean() for k in labels.unique().tolist() if (labels == k).sum() >= 2]
        ).mean()
    )


def _knn_precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> Tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): k-NN balls around each set."""

    def radii(x):
        return torch.cdist(x, x).kthvalue(k + 1, dim=1).values

    d = torch.cdist(fake, real)  # (n_fake, n_real)
    precision = (d <= radii(real)[None, :]).any(1).double().mean()
    recall = (d <= radii(fake)[:, None]).any(0).double().mean()
    return float(precision), float(recall)


@torch.no_grad()
def measure_images(images: torch.Tensor, labels: torch.Tensor, image_size: int = 16) -> Dict[str, float]:
    """The conditional numbers of chapters 1 and 2 for labelled digit images ``(N, 1, S, S)``.

    - ``accuracy``: the judge's conditional accuracy; ``confidence``: its mean probability of
      the intended class; ``easy``: the fraction it gives that class with p > 0.99;
    - ``diversity_judge``: mean within-class pairwise distance in the judge's features (which
      are trained to discard within-class variation) and ``diversity_pixels``: the same in
      pixel space, which sees every stroke;
    - ``precision`` and ``recall``: k-NN (k = 3) precision and recall against the training
      images of the same class in the judge's features, averaged over classes (do the samples
      fall where real ones do; do they reach every kind of real image);
    - ``nearest_train``: mean pixel distance from each image to its nearest training image
      (a generator that copies its training set scores about 0).
    """
    from .classifier import conditional_accuracy, intra_class_diversity, pretrained_classifier
    from .data.digits import load_digits

    judge = pretrained_classifier("digits", image_size=image_size)
    train_x, train_y = load_digits(image_size, "train")
    p = judge(images).softmax(1)[torch.arange(len(labels)), labels]
    feats, train_feats = judge.features(images), judge.features(train_x)
    pr = [_knn_precision_recall(train_feats[train_y == k], feats[labels == k]) for k in labels.unique().tolist()]
    return {
        "accuracy": conditional_accuracy(judge, images, labels),
        "confidence": float(p.mean()),
        "easy": float((p > 0.99).float().mean()),
        "diversity_judge": intra_class_diversity(judge, images, labels),
        "diversity_pixels": _pairwise_within_class(images.flatten(1), labels),
        "precision": sum(a for a, _ in pr) / len(pr),
        "recall": sum(b for _, b in pr) / len(pr),
        "nearest_train": float(torch.cdist(images.flatten(1), train_x.flatten(1)).min(1).values.mean()),
    }


def measure_real_digits(image_size: int = 16) -> Dict[str, float]:
    """:func:`measure_images` on the held-out real test images: the reference row."""
    from .data.digits import load_digits

    return measure_images(*load_digits(image_size, "test"), image_size=image_size)


def measure_digits(G: nn.Module, config: ConditionalRunConfig, seed: int = 0) -> Dict[str, float]:
    """:func:`measure_images` on ``config.n_eval`` samples per class of ``G`` (noise drawn with ``seed``)."""
    from .models.cgan import generate_per_class

    return measure_images(*generate_per_class(G, config.n_eval, seed=seed), image_size=config.image_size)


@torch.no_grad()
def measure_overlap(G: nn.Module, config: ConditionalRunConfig, seed: int = 0) -> Dict[str, float]:
    """:func:`ganlib.data.overlap2d.boundary_measures` on ``config.n_eval`` samples per class."""
    from .data.overlap2d import boundary_measures
    from .models.cgan import generate_per_class

    return boundary_measures(*generate_per_class(G, config.n_eval, seed=seed))


def train_and_measure(config: ConditionalRunConfig, seed: int) -> Dict[str, float]:
    """``ganlib.runs`` entry point: train from ``seed``, measure; a dict of floats."""
    G = train_conditional(config, seed)
    if config.data == "overlap2d":
        return measure_overlap(G, config, seed)
    return measure_digits(G, config, seed)
