"""An offline feature extractor for CI and the ``cpu`` profile.

The published FID needs the 96 MB Inception weights and 299×299 inputs: too slow for
a CPU chapter and impossible offline. For teaching and for tracking a model during
training we use the penultimate features (128-d) of the book's small digit
classifier, :func:`ganlib.classifier.pretrained_classifier`, trained once on the
bundled digits and cached. Everything about FID/KID/IS carries over; **the numbers
are not comparable with published FIDs** (different network, data and dimension):
compare them only with numbers from the same extractor, image size and N.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["OfflineFeatureExtractor", "offline_extractor"]


class OfflineFeatureExtractor(nn.Module):
    """Images ``(N, 1, S, S)`` in [-1, 1] -> classifier features ``(N, 128)``; ``.logits`` -> ``(N, 10)``.

    Labelled ``comparable_to_published = False``: a digit-classifier FID is a different
    number from the Inception FID of papers.
    """

    comparable_to_published = False

    def __init__(self, classifier: nn.Module, name: str):
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)
        self.name = name
        self.image_size = getattr(classifier, "image_size", None)
        self.num_features = getattr(classifier, "num_features", None)

    def train(self, mode: bool = True):  # a metric network never trains (dropout stays off)
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(images)

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(images)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, NOT comparable with published FIDs"


def offline_extractor(
    image_size: int = 16, dataset: str = "digits", device=None, **classifier_kwargs
) -> OfflineFeatureExtractor:
    """The offline FID feature extractor at ``image_size`` (8, 16 or 32 px), built on
    ``ganlib.classifier.pretrained_classifier(dataset, image_size)`` (trained once, cached).

    Not comparable with published FIDs: report such numbers as e.g. "FID (digit-classifier
    features, 16 px, N=360)".
    """
    from ..classifier import pretrained_classifier

    clf = pretrained_classifier(dataset=dataset, image_size=image_size, device=device, **classifier_kwargs)
    ext = OfflineFeatureExtractor(clf, name=f"{dataset}-classifier-{image_size}px")
    ext.test_accuracy = getattr(clf, "test_accuracy", None)
    return ext
