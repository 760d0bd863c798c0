"""Building blocks of SAGAN and BigGAN (chapter 6): spectral norm, self-attention,
conditional batch norm, orthogonal regularisation, the EMA of G and its standing statistics,
truncated noise."""

from .attention import SelfAttention
from .conditional_norm import ConditionalBatchNorm2d
from .ema import EMA
from .regularizers import ortho_weights, orthogonal_penalty, orthogonal_regularization
from .spectral_norm import SpectralNorm, apply_spectral_norm, largest_singular_value, spectral_norm, top_singular_values
from .standing_stats import standing_statistics
from .truncation import clip_and_rescale_noise, truncated_noise

__all__ = [
    "SelfAttention",
    "ConditionalBatchNorm2d",
    "EMA",
    "orthogonal_penalty",
    "orthogonal_regularization",
    "ortho_weights",
    "SpectralNorm",
    "apply_spectral_norm",
    "largest_singular_value",
    "spectral_norm",
    "top_singular_values",
    "standing_statistics",
    "clip_and_rescale_noise",
    "truncated_noise",
]
