"""A small classifier trained on real data: the judge of conditional generators.

A class-conditional generator is asked for a "7"; did it draw a 7? We train a
small CNN on the real training images, check it on held-out real images, and
then measure on generated samples

- **conditional accuracy**: the fraction of samples that the classifier assigns
  to the label they were generated for (an untrained generator scores about
  1/K, a perfect one about the classifier's own accuracy);
- **intra-class diversity**: the mean pairwise L2 distance between samples of
  one class in the classifier's penultimate feature space, averaged over the
  classes. Compare it with the same number on real data: a generator that draws
  one prototype per class (mode collapse within a class) scores far below it.

Chapters 1 and 2 build these numbers; later chapters reuse them.
"""

from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from . import utils
from .utils import batched, eval_mode, torch_threads

__all__ = [
    "DigitClassifier",
    "train_classifier",
    "pretrained_classifier",
    "evaluate_accuracy",
    "conditional_accuracy",
    "intra_class_diversity",
    "CLASSIFIER_VERSION",
]

#: Part of the cache key: bump it whenever the architecture or the training recipe changes.
CLASSIFIER_VERSION = "v2"

SUPPORTED_SIZES = (8, 16, 32)


class DigitClassifier(nn.Module):
    """A small CNN: ``(N, C, S, S)`` images in [-1, 1] -> ``(N, K)`` logits.

    conv3x3(C->32, stride 2 at 32 px) -> ReLU -> [maxpool] -> conv3x3(32->64) -> ReLU -> maxpool
    -> adaptive average pool to 2x2 -> linear(256 -> 128) -> ReLU   (the features, ``F = 128``)
    -> dropout -> linear(128 -> K)                                  (the logits)

    The first max-pool is skipped at 8 px, so 8, 16 and 32 px all work.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 16,
        width: int = 32,
        num_features: int = 128,
        dropout: float = 0.3,
    ):
        super().__init__()
        if image_size not in SUPPORTED_SIZES:
            raise ValueError(f"DigitClassifier supports image sizes {SUPPORTED_SIZES}, got {image_size}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes, self.in_channels, self.image_size = num_classes, in_channels, image_size
        self.num_features = num_features
        pool1 = nn.MaxPool2d(2) if image_size >= 16 else nn.Identity()
        stride = 2 if image_size >= 32 else 1  # 32 px: the first conv halves the map (4x less compute)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=stride, padding=1),
            nn.ReLU(),
            pool1,
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * 4, num_features),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(num_features, num_classes))

    def _check(self, x: torch.Tensor) -> None:
        want = (self.in_channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(
                f"the classifier expects images of shape (N, {want[0]}, {want[1]}, {want[2]}) "
                f"in [-1, 1], got {tuple(x.shape)}; resize the images or use a classifier "
                f"built for this size (pretrained_classifier(image_size=...))"
            )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``(N, F)`` (after the ReLU), used for intra-class diversity."""
        self._check(x)
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, K)`` (no softmax)."""
        return self.head(self.features(x))


def _check_labelled(images: torch.Tensor, labels: torch.Tensor, num_classes: int, what: str) -> None:
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1:
        raise ValueError(
            f"{what}: labels must be a 1-d tensor of class indices, got "
            f"{type(labels).__name__} of shape {tuple(getattr(labels, 'shape', ()))}"
        )
    if labels.dtype in (torch.float16, torch.float32, torch.float64, torch.bfloat16, torch.bool):
        raise ValueError(
            f"{what}: labels must be integer class indices (dtype long), got {labels.dtype}; "
            "pass labels.long() (not one-hot vectors)"
        )
    if len(images) != len(labels):
        raise ValueError(f"{what}: {len(images)} images but {len(labels)} labels; pass one label per image")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"{what}: labels must lie in [0, {num_classes - 1}] for a {num_classes}-class "
            f"classifier, got min {int(labels.min())}, max {int(labels.max())}"
        )


def _random_shift(x: torch.Tensor, generator: torch.Generator, max_shift: int = 1) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels (one shift per batch; padding = background -1)."""
    if max_shift <= 0:
        return x
    dx, dy = (torch.randint(-max_shift, max_shift + 1, (2,), generator=generator)).tolist()
    p = max_shift
    padded = F.pad(x, (p, p, p, p), value=-1.0)
    h, w = x.shape[-2:]
    return padded[..., p + dy : p + dy + h, p + dx : p + dx + w]


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int = 10,
    steps: int = 600,
    seed: int = 0,
    batch_size: int = 64,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    max_shift: int = 1,
    device: Optional[Union[str, torch.device]] = None,
) -> DigitClassifier:
    """Train a :class:`DigitClassifier` with Adam and cross-entropy; return it in eval mode.

    ``images``: ``(N, C, S, S)`` in [-1, 1]; ``labels``: ``(N,)`` long in ``[0, num_classes)``.
    Deterministic for a ``seed`` (own generators; the global RNG state is left as it was).
    Small random shifts (``max_shift`` px) make the judge robust to the slightly misplaced
    strokes that generators draw.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    _check_labelled(images, labels, num_classes, "train_classifier")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    device = torch.device(device) if device is not None else images.device
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]), torch.enable_grad():  # also when called under no_grad
        torch.manual_seed(seed)
        model = DigitClassifier(num_classes, images.shape[1], images.shape[-1]).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        model.train()
        n = len(images)
        for _ in range(steps):
            idx = torch.randint(0, n, (min(batch_size, n),), generator=gen)
            x = _random_shift(images[idx], gen, max_shift).to(device)
            y = labels[idx].to(device)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


@torch.no_grad()
def _predict(classifier: nn.Module, images: torch.Tensor, fn: str = "forward", batch_size: int = 1024) -> torch.Tensor:
    with eval_mode(classifier):
        return batched(
            getattr(classifier, fn), images, batch_size=batch_size, device=next(classifier.parameters()).device
        )


def _num_classes(classifier: nn.Module) -> int:
    k = getattr(classifier, "num_classes", None)
    if k is None:
        raise TypeError("the classifier needs a num_classes attribute (use DigitClassifier)")
    return int(k)


def evaluate_accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` whose predicted class equals ``labels``."""
    _check_labelled(images, labels, _num_classes(classifier), "evaluate_accuracy")
    if len(labels) == 0:
        raise ValueError("evaluate_accuracy: no images given")
    pred = _predict(classifier, images).argmax(1)
    return float((pred == labels.cpu()).float().mean())


def conditional_accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    r"""Fraction of generated ``images`` that the classifier assigns to the label they were made for.

    .. math:: \mathrm{acc} = \frac{1}{N}\sum_i [\arg\max_k C(G(z_i, y_i))_k = y_i]

    ``images``: ``(N, C, S, S)`` in [-1, 1]; ``labels``: ``(N,)`` long, the intended classes.
    """
    return evaluate_accuracy(classifier, images, labels)


def intra_class_diversity(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    r"""Mean over classes of the mean pairwise L2 distance of that class's samples in feature space.

    .. math:: \mathrm{div} = \frac{1}{|K'|}\sum_{k\in K'} \frac{2}{n_k(n_k-1)}\sum_{i<j,\ y_i=y_j=k}
              \lVert f(x_i) - f(x_j)\rVert_2

    ``f`` is ``classifier.features``; ``K'`` are the classes with at least two samples.
    Compare with the same number on real images of the same classes.
    """
    _check_labelled(images, labels, _num_classes(classifier), "intra_class_diversity")
    feats = _predict(classifier, images, fn="features").double()
    labels = labels.cpu()
    per_class = []
    for k in labels.unique().tolist():
        f = feats[labels == k]
        if len(f) >= 2:
            per_class.append(torch.pdist(f).mean())
    if not per_class:
        raise ValueError(
            "intra_class_diversity needs at least two samples of some class; generate several samples per class"
        )
    return float(torch.stack(per_class).mean())


def pretrained_classifier(
    dataset: str = "digits",
    image_size: int = 16,
    cache_dir=None,
    steps: Optional[int] = None,
    device=None,
    verbose: bool = False,
) -> DigitClassifier:
    """The judge classifier for ``dataset``, trained once on its training split and cached.

    The weights are a ``state_dict`` in ``cache_dir`` (else ``$GANLIB_CACHE``, else
    ``~/.cache/ganlib``), written atomically, loaded with ``weights_only=True``; the key
    holds the data set, the image size and :data:`CLASSIFIER_VERSION`. The held-out accuracy
    on the test split is recomputed on every call and stored as ``.test_accuracy``.
    On the digits it trains in a few seconds on a CPU core and reaches about 98 %.
    """
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(f"pretrained_classifier supports image sizes {SUPPORTED_SIZES}, got {image_size}")
    from .data import registry  # the bundled digits, or a real data set (downloaded on first use)
    from .train import atomic_save

    if steps is None:
        steps = 600 if dataset == "digits" else 3000
    path = utils.cache_dir(cache_dir) / f"classifier_{dataset}_{image_size}px_{steps}steps_{CLASSIFIER_VERSION}.pt"
    x_test, y_test = registry.load_labelled(dataset, train=False, size=image_size)
    num_classes = 10
    model = None
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model = DigitClassifier(num_classes, x_test.shape[1], image_size)
            model.load_state_dict(state)
            model.eval()
        except Exception as err:  # a broken or foreign file: retrain and overwrite it
            if verbose:
                print(f"ignoring the cached classifier {path} ({err}); training a new one")
            model = None
    if model is None:
        x, y = registry.load_labelled(dataset, train=True, size=image_size)
        # the digits judge trains on one CPU thread whoever asks first (a test at 1 thread, a
        # notebook at 2): float sums split over threads round differently, and every measured
        # number of the book goes through this judge
        with torch_threads(1 if dataset == "digits" else torch.get_num_threads()):
            model = train_classifier(x, y, num_classes, steps=steps, seed=0).cpu()
        atomic_save(model.state_dict(), path)
    if device is not None:
        model = model.to(device)
    model.test_accuracy = evaluate_accuracy(model, x_test, y_test)
    if verbose:
        print(f"classifier for {dataset} at {image_size}px: held-out accuracy {model.test_accuracy:.1%} ({path})")
    return model
