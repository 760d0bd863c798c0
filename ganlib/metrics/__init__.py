"""Sample-quality metrics: FID (Heusel et al., 2017), IS (Salimans et al., 2016), KID (Bińkowski et al., 2018),
precision / recall (Kynkäänniemi et al., 2019), density / coverage (Naeem et al., 2020).

- :func:`feature_statistics`, :func:`frechet_distance`, :func:`fid_from_features`, :func:`fid`
- :func:`inception_score`
- :func:`kernel_inception_distance`
- :func:`precision_recall`, :func:`density_coverage`
- :class:`FIDInceptionV3` / :func:`fid_inception_extractor`: the published FID network
- :func:`offline_extractor`: the CPU/offline stand-in (not comparable with published FIDs)
"""

from .fid import extract_features, feature_statistics, fid, fid_from_features, frechet_distance, trace_sqrt_product
from .inception import (
    FID_WEIGHTS_SHA256,
    FID_WEIGHTS_URL,
    FIDInceptionExtractor,
    FIDInceptionV3,
    fid_inception_extractor,
    load_fid_inception,
    preprocess_for_inception,
)
from .inception_score import inception_score, inception_score_per_split
from .kid import kernel_inception_distance, mmd2_unbiased, polynomial_kernel
from .offline import OfflineFeatureExtractor, offline_extractor
from .precision_recall import density_coverage, nearest_neighbour_radii, precision_recall

__all__ = [
    "feature_statistics",
    "frechet_distance",
    "trace_sqrt_product",
    "fid_from_features",
    "fid",
    "extract_features",
    "inception_score",
    "inception_score_per_split",
    "kernel_inception_distance",
    "polynomial_kernel",
    "mmd2_unbiased",
    "precision_recall",
    "density_coverage",
    "nearest_neighbour_radii",
    "FIDInceptionV3",
    "FIDInceptionExtractor",
    "fid_inception_extractor",
    "load_fid_inception",
    "preprocess_for_inception",
    "FID_WEIGHTS_URL",
    "FID_WEIGHTS_SHA256",
    "OfflineFeatureExtractor",
    "offline_extractor",
]
