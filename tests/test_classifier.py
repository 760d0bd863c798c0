"""Tests of the judge classifier and the conditional-generation metrics (ganlib.classifier)."""

import pytest
import torch
from torch import nn

from ganlib.classifier import (
    DigitClassifier,
    conditional_accuracy,
    intra_class_diversity,
    pretrained_classifier,
    train_classifier,
)
from ganlib.data import load_digits


@pytest.mark.parametrize("size", [8, 16, 32])
def test_shapes_for_every_size(size):
    c = DigitClassifier(num_classes=10, in_channels=1, image_size=size)
    x = torch.rand(5, 1, size, size) * 2 - 1
    assert c(x).shape == (5, 10)
    assert c.features(x).shape == (5, c.num_features)
    c3 = DigitClassifier(num_classes=7, in_channels=3, image_size=size)
    assert c3(torch.zeros(2, 3, size, size)).shape == (2, 7)


def test_wrong_input_shape_and_size_are_clear_errors():
    c = DigitClassifier(image_size=16)
    with pytest.raises(ValueError, match=r"expects images of shape \(N, 1, 16, 16\)"):
        c(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="supports image sizes"):
        DigitClassifier(image_size=28)


class _Fixed(nn.Module):
    """A mock classifier: logits are the first K pixels, features the first two pixels."""

    num_classes = 3

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x.flatten(1)[:, :3]

    def features(self, x):
        return x.flatten(1)[:, :2]


def test_conditional_accuracy_exact():
    # predicted classes: 0, 1, 2, 2 ; intended 0, 1, 1, 2 -> 3 of 4 right
    x = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]]).view(4, 1, 1, 3)
    y = torch.tensor([0, 1, 1, 2])
    assert conditional_accuracy(_Fixed(), x, y) == 0.75


def test_intra_class_diversity_exact():
    # class 0: features (0,0), (3,4), (0,4): distances 5, 4, 3 -> mean 4
    # class 1: features (1,1), (1,3): distance 2 ; class 2: a single sample, skipped
    f = torch.tensor([[0.0, 0], [3, 4], [0, 4], [1, 1], [1, 3], [9, 9]])
    x = torch.cat([f, torch.zeros(6, 1)], 1).view(6, 1, 1, 3)
    y = torch.tensor([0, 0, 0, 1, 1, 2])
    assert intra_class_diversity(_Fixed(), x, y) == pytest.approx((4 + 2) / 2, abs=1e-12)


def test_metric_errors_are_clear():
    c, x = _Fixed(), torch.zeros(4, 1, 1, 3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        conditional_accuracy(c, x, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        conditional_accuracy(c, x, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="integer class indices"):
        intra_class_diversity(c, x, torch.zeros(4))
    with pytest.raises(ValueError, match="at least two samples"):
        intra_class_diversity(c, x[:3], torch.tensor([0, 1, 2]))


def test_train_classifier_is_deterministic_and_leaves_global_rng_alone():
    x, y = load_digits(8, "train")
    x, y = x[:200], y[:200]
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = train_classifier(x, y, steps=5, seed=3)
    after = torch.rand(1)
    b = train_classifier(x, y, steps=5, seed=3)
    assert torch.equal(after, before), "train_classifier must not consume the global RNG"
    assert not a.training
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    with pytest.raises(ValueError, match="200 images but 199 labels"):
        train_classifier(x, y[:199], steps=1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache folder for the module, so the digits classifier is trained once (a few seconds)."""
    return tmp_path_factory.mktemp("ganlib_cache")


def test_pretrained_classifier_accuracy_and_cache(cache):
    tmp_path = cache
    c = pretrained_classifier("digits", image_size=16, cache_dir=tmp_path)
    assert c.test_accuracy >= 0.95, f"held-out accuracy {c.test_accuracy:.3f} < 0.95"
    files = list(tmp_path.glob("*.pt"))
    assert len(files) == 1 and "16px" in files[0].name
    state = torch.load(files[0], weights_only=True)
    assert set(state) == set(c.state_dict())
    again = pretrained_classifier("digits", image_size=16, cache_dir=tmp_path)  # from the cache
    assert again.test_accuracy == c.test_accuracy
    for k, v in c.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
    # real test images: the intended labels are the true ones
    x, y = load_digits(16, "test")
    assert conditional_accuracy(c, x, y) == pytest.approx(c.test_accuracy)


def test_broken_cache_file_is_replaced(tmp_path):
    first = pretrained_classifier(image_size=8, cache_dir=tmp_path, steps=3)
    (path,) = tmp_path.glob("*.pt")
    path.write_bytes(b"not a checkpoint")
    again = pretrained_classifier(image_size=8, cache_dir=tmp_path, steps=3)
    assert again.test_accuracy == first.test_accuracy
    assert torch.load(path, weights_only=True).keys() == first.state_dict().keys()


def test_diversity_of_real_data_beats_a_collapsed_generator(cache, monkeypatch):
    tmp_path = cache
    monkeypatch.setenv("GANLIB_CACHE", str(tmp_path))
    c = pretrained_classifier(image_size=16)
    assert list(tmp_path.glob("classifier_digits_16px*.pt")), "GANLIB_CACHE must be used"
    x, y = load_digits(16, "test")
    real = intra_class_diversity(c, x, y)
    collapsed = torch.cat([x[y == k][:1].expand(20, -1, -1, -1) for k in range(10)])
    labels = torch.arange(10).repeat_interleave(20)
    assert intra_class_diversity(c, collapsed, labels) == pytest.approx(0.0, abs=1e-6)
    assert real > 1.0
