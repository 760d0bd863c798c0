"""The image disturbances of Heusel et al. (2017, appendix), to check that FID measures what it claims.

Each function takes images ``(N, C, H, W)`` in [-1, 1] and a strength ``alpha``
(``alpha = 0`` returns the images unchanged) and returns disturbed images in
[-1, 1]; random ones take a ``seed`` and never touch the global RNG. The paper's
strengths (for 64×64 CelebA) are noise and rectangles alpha in {0, .25, .5, .75},
blur sigma and swirl strength in {0, 1, 2, 4}, salt-and-pepper fraction in
{0, .1, .2, .3}; FID should rise with each. The sixth disturbance, :func:`mix_in` (ImageNet
images mixed into CelebA in the paper, fraction in {0, .25, .5, .75}), needs a second image set,
so it is not in :data:`DISTURBANCES`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "gaussian_noise",
    "gaussian_blur",
    "black_rectangles",
    "swirl",
    "salt_and_pepper",
    "mix_in",
    "DISTURBANCES",
    "MIX_IN_FRACTIONS",
]


def _check(images: torch.Tensor, alpha: float, name: str, upper: float = math.inf) -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(
            f"{name}: images must be a (N, C, H, W) tensor in [-1, 1], got "
            f"{type(images).__name__} of shape {tuple(getattr(images, 'shape', ()))}"
        )
    if not (0 <= alpha <= upper):
        raise ValueError(f"{name}: alpha must lie in [0, {upper}], got {alpha}")


def gaussian_noise(images: torch.Tensor, alpha: float, seed: int = 0) -> torch.Tensor:
    r"""Mix with noise: :math:`(1-\alpha)\,x + \alpha\,n`, ``n`` Gaussian noise clipped to the image range."""
    _check(images, alpha, "gaussian_noise", 1.0)
    g = torch.Generator().manual_seed(seed)
    noise = (torch.randn(images.shape, generator=g) * 0.5).clamp(-1, 1).to(images)
    return (1 - alpha) * images + alpha * noise


def gaussian_blur(images: torch.Tensor, alpha: float) -> torch.Tensor:
    """Convolve with a Gaussian of standard deviation ``alpha`` pixels (reflect padding, kernel ±3 sigma)."""
    _check(images, alpha, "gaussian_blur")
    if alpha == 0:
        return images.clone()
    radius = max(1, int(math.ceil(3 * alpha)))
    t = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    k = torch.exp(-(t**2) / (2 * alpha**2))
    k = k / k.sum()
    c = images.shape[1]
    pad = min(radius, images.shape[-1] - 1, images.shape[-2] - 1)
    x = images
    # separable: blur rows, then columns; reflect padding where the image is large enough, replicate beyond
    x = F.pad(x, (radius, radius, 0, 0), mode="reflect" if pad == radius else "replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.pad(x, (0, 0, radius, radius), mode="reflect" if pad == radius else "replicate")
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def black_rectangles(images: torch.Tensor, alpha: float, count: int = 5, seed: int = 0) -> torch.Tensor:
    """Paint ``count`` black squares of side ``alpha * image size`` at random places in each image."""
    _check(images, alpha, "black_rectangles", 1.0)
    out = images.clone()
    n, _, h, w = images.shape
    side_h, side_w = int(round(alpha * h)), int(round(alpha * w))
    if side_h == 0 or side_w == 0:
        return out
    rng = np.random.default_rng(seed)
    for i in range(n):
        for _ in range(count):
            top, left = rng.integers(0, h - side_h + 1), rng.integers(0, w - side_w + 1)
            out[i, :, top : top + side_h, left : left + side_w] = -1.0
    return out


def swirl(images: torch.Tensor, alpha: float, radius_fraction: float = 0.75) -> torch.Tensor:
    """``skimage.transform.swirl`` of strength ``alpha`` around the centre, radius ``radius_fraction * size``."""
    _check(images, alpha, "swirl")
    if alpha == 0:
        return images.clone()
    from skimage.transform import swirl as _swirl

    arr = images.detach().cpu().numpy()
    out = np.empty_like(arr)
    radius = radius_fraction * max(arr.shape[-2:])
    for i in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            out[i, c] = _swirl(arr[i, c], strength=alpha, radius=radius, mode="reflect", order=1, preserve_range=True)
    return torch.from_numpy(out).to(images).clamp(-1, 1)


def salt_and_pepper(images: torch.Tensor, alpha: float, seed: int = 0) -> torch.Tensor:
    """Set a fraction ``alpha`` of the pixels to black or white (each with probability 1/2)."""
    _check(images, alpha, "salt_and_pepper", 1.0)
    g = torch.Generator().manual_seed(seed)
    n, c, h, w = images.shape
    hit = torch.rand((n, 1, h, w), generator=g) < alpha
    white = torch.rand((n, 1, h, w), generator=g) < 0.5
    value = torch.where(white, 1.0, -1.0).to(images)
    return torch.where(hit.to(images.device), value.expand_as(images), images)


def mix_in(images: torch.Tensor, other: torch.Tensor, alpha: float, seed: int = 0) -> torch.Tensor:
    """Replace a fraction ``alpha`` of ``images`` (chosen at random) by images of another data set ``other``.

    Heusel et al.'s sixth disturbance ("ImageNet contamination" of CelebA). The number of
    images stays ``len(images)``, so FIDs at different ``alpha`` use the same N.
    """
    _check(images, alpha, "mix_in", 1.0)
    _check(other, 0.0, "mix_in (other)")
    if other.shape[1:] != images.shape[1:]:
        raise ValueError(
            f"mix_in: other images must have the shape of images, {tuple(images.shape[1:])}, "
            f"got {tuple(other.shape[1:])}"
        )
    k = int(round(alpha * len(images)))
    if k > len(other):
        raise ValueError(
            f"mix_in: alpha={alpha} replaces {k} of {len(images)} images, but other holds only "
            f"{len(other)}; pass more other images or fewer images"
        )
    g = torch.Generator().manual_seed(seed)
    out = images.clone()
    which = torch.randperm(len(images), generator=g)[:k]
    out[which] = other[torch.randperm(len(other), generator=g)[:k]].to(out)
    return out


#: the paper's fractions of the other data set for :func:`mix_in`
MIX_IN_FRACTIONS = (0.0, 0.25, 0.5, 0.75)

#: name -> (function, the paper's strengths)
DISTURBANCES = {
    "gaussian noise": (gaussian_noise, (0.0, 0.25, 0.5, 0.75)),
    "gaussian blur": (gaussian_blur, (0.0, 1.0, 2.0, 4.0)),
    "black rectangles": (black_rectangles, (0.0, 0.25, 0.5, 0.75)),
    "swirl": (swirl, (0.0, 1.0, 2.0, 4.0)),
    "salt and pepper": (salt_and_pepper, (0.0, 0.1, 0.2, 0.3)),
}
