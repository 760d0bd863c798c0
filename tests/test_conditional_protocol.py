"""The seeded protocol shared by chapters 1 and 2, and the overlapping-class toy of chapter 2."""

import dataclasses
import math

import pytest
import torch

from ganlib import conditional_protocol as protocol
from ganlib.data.overlap2d import boundary_measures, other_side_fraction, overlapping_classes, true_posterior


def test_overlapping_classes_exact():
    x, y = overlapping_classes(40000, seed=0)
    assert x.shape == (40000, 2, 1, 1) and y.shape == (40000,) and int(y.sum()) == 20000
    m = boundary_measures(x, y)
    assert m["other_side"] == pytest.approx(other_side_fraction(), abs=0.01)
    assert other_side_fraction() == pytest.approx(0.5 * math.erfc(1 / math.sqrt(2)))  # Phi(-1) = 0.1587
    assert m["spread_x1"] == pytest.approx(0.25, abs=0.005) and m["spread_x2"] == pytest.approx(0.25, abs=0.005)
    assert true_posterior(torch.zeros(1, 2)).item() == pytest.approx(0.5)
    # samples pushed away from the boundary: nothing on the other side, low posterior entropy
    far = torch.tensor([[-1.0, 0.0], [1.0, 0.0]]).repeat(50, 1)
    labels = torch.tensor([0, 1]).repeat(50)
    pushed = boundary_measures(far.view(-1, 2, 1, 1), labels)
    assert pushed["other_side"] == 0.0 and pushed["posterior_entropy"] < 0.01 < m["posterior_entropy"]


def test_knn_precision_recall_exact_cases():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0], [4.0]])
    assert protocol._knn_precision_recall(real, real.clone(), k=1) == (1.0, 1.0)
    # fakes far away: no precision, no recall
    far = torch.tensor([[100.0], [101.0], [102.0]])
    assert protocol._knn_precision_recall(real, far, k=1) == (0.0, 0.0)
    # two fakes by the real point 2 (their balls: radius 0.2), two far away (radius 0.5):
    # precision 2/4; recall: only the real point 2 lies in a fake ball, 1/5
    half = torch.tensor([[2.0], [2.2], [50.0], [50.5]])
    p, r = protocol._knn_precision_recall(real, half, k=1)
    assert p == pytest.approx(1 / 2) and r == pytest.approx(1 / 5)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("kind", protocol.DISCRIMINATORS)
def test_build_same_generator_for_every_discriminator(arch, kind):
    cfg = protocol.ConditionalRunConfig(discriminator=kind, arch=arch, ndf=8, hidden=16)
    torch.manual_seed(0)
    G, D = protocol.build(cfg, 10, 16, 1)
    torch.manual_seed(0)
    G_ref, _ = protocol.build(dataclasses.replace(cfg, discriminator="concat"), 10, 16, 1)
    assert all(torch.equal(a, b) for a, b in zip(G.parameters(), G_ref.parameters()))
    x, y = torch.randn(3, 1, 16, 16), torch.tensor([0, 4, 9])
    out = D(x) if kind.startswith("acgan") else D(x, y)
    assert (out[0] if isinstance(out, tuple) else out).shape == (3,)


def test_build_rejects_unknown_settings():
    with pytest.raises(ValueError, match="discriminator must be one of"):
        protocol.build(protocol.ConditionalRunConfig(discriminator="film"), 10, 16, 1)
    with pytest.raises(ValueError, match="arch must be"):
        protocol.build(protocol.ConditionalRunConfig(arch="resnet"), 10, 16, 1)


def test_measures_of_real_and_copied_images():
    from ganlib.data import load_digits

    real = protocol.measure_real_digits(16)
    assert real["accuracy"] > 0.9 and real["nearest_train"] > 1.0
    assert 0.5 < real["precision"] <= 1.0 and 0.3 < real["recall"] <= 1.0
    x, y = load_digits(16, "train")
    copies = protocol.measure_images(x[:300], y[:300])
    assert copies["nearest_train"] == 0.0 and copies["precision"] == 1.0
    one = x[y == 3][:1].repeat(20, 1, 1, 1)
    collapsed = protocol.measure_images(one, torch.full((20,), 3))
    assert collapsed["diversity_pixels"] == 0.0 and collapsed["recall"] < 0.1


def test_train_and_measure_is_seeded():
    cfg = protocol.ConditionalRunConfig(steps=3, hidden=16, n_eval=5, batch_size=16)
    a = protocol.train_and_measure(cfg, 1)
    assert a == protocol.train_and_measure(cfg, 1)
    assert set(a) == {
        "accuracy",
        "confidence",
        "easy",
        "diversity_judge",
        "diversity_pixels",
        "precision",
        "recall",
        "nearest_train",
    }
    toy = protocol.train_and_measure(dataclasses.replace(cfg, data="overlap2d", discriminator="acgan", z_dim=4), 0)
    assert set(toy) == {"other_side", "posterior_entropy", "spread_x1", "spread_x2"}
