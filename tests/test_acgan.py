"""Tests of AC-GAN (Odena, Olah & Shlens 2017): the two-headed discriminator, its losses, its step."""

import math
import time

import pytest
import torch
from torch import nn

import ganlib
from ganlib.classifier import conditional_accuracy, pretrained_classifier
from ganlib.data import TensorBatches, load_digits
from ganlib.losses import d_loss_bce, g_loss_nonsaturating
from ganlib.models.acgan import (
    AuxiliaryHeads,
    ConvACGANDiscriminator,
    MLPACGANDiscriminator,
    acgan_class_loss,
    acgan_d_loss,
    acgan_g_loss,
    acgan_step,
)
from ganlib.models.cgan import MLPConditionalGenerator, generate_per_class
from ganlib.train import fit


def test_losses_exact_at_zero_logits():
    k = 4
    s, c, y = torch.zeros(3), torch.zeros(3, k), torch.tensor([0, 1, 3])
    assert acgan_class_loss(c, y).item() == pytest.approx(math.log(k))
    assert acgan_d_loss(s, s, c, y, c, y).item() == pytest.approx(2 * math.log(2) + 2 * math.log(k))
    assert acgan_g_loss(s, c, y).item() == pytest.approx(math.log(2) + math.log(k))


def test_losses_exact_hand_computed():
    # class logits (log 3, 0): P(class 0) = 3/4 ; source logit log 3: sigma = 3/4
    c = torch.tensor([[math.log(3), 0.0]])
    assert acgan_class_loss(c, torch.tensor([0])).item() == pytest.approx(-math.log(0.75))
    assert acgan_class_loss(c, torch.tensor([1])).item() == pytest.approx(-math.log(0.25))
    s_real, s_fake = torch.tensor([math.log(3)]), torch.tensor([-math.log(3)])
    d = acgan_d_loss(s_real, s_fake, c, torch.tensor([0]), c, torch.tensor([1]))
    # L_S: -log 3/4 - log 3/4 ; L_C: -log 3/4 (real, class 0) - log 1/4 (fake, made as class 1)
    assert d.item() == pytest.approx(-3 * math.log(0.75) - math.log(0.25))
    g = acgan_g_loss(s_fake, c, torch.tensor([1]))
    assert g.item() == pytest.approx(-math.log(0.25) - math.log(0.25))
    assert g.item() == pytest.approx((g_loss_nonsaturating(s_fake) + 2 * math.log(2)).item())
    assert torch.allclose(d, d_loss_bce(s_real, s_fake) - math.log(0.75) - math.log(0.25))


def test_class_loss_takes_logits_not_probabilities():
    """A softmax before cross_entropy (double softmax) gives a different, flatter loss."""
    c, y = torch.tensor([[4.0, 0.0, 0.0]]), torch.tensor([0])
    right = acgan_class_loss(c, y).item()
    double = acgan_class_loss(c.softmax(1), y).item()
    assert right == pytest.approx(-math.log(math.exp(4) / (math.exp(4) + 2)), rel=1e-5)
    assert double > 2 * right


def test_heads_and_discriminator_shapes():
    h = AuxiliaryHeads(5, 3)
    s, c = h(torch.zeros(2, 5))
    assert s.shape == (2,) and c.shape == (2, 3)
    for size in (8, 16, 32):
        for D in (
            MLPACGANDiscriminator(image_size=size),
            ConvACGANDiscriminator(image_size=size),
            ConvACGANDiscriminator(image_size=size, channels=3, spectral_norm=True),
        ):
            s, c = D(torch.zeros(4, D.channels, size, size))
            assert s.shape == (4,) and c.shape == (4, 10)


def test_clear_errors():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        acgan_class_loss(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="one label per sample"):
        acgan_class_loss(torch.zeros(2, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"images must be \(N, 1, 16, 16\)"):
        MLPACGANDiscriminator()(torch.zeros(2, 1, 8, 8))
    G, D = MLPConditionalGenerator(num_classes=5), MLPACGANDiscriminator(num_classes=10)
    opt = lambda m: torch.optim.Adam(m.parameters())  # noqa: E731
    with pytest.raises(ValueError, match="G has 5 classes but D has 10"):
        acgan_step(G, D, opt(G), opt(D), torch.zeros(2, 1, 16, 16), torch.tensor([0, 1]))


class _RecordingD(nn.Module):
    def __init__(self, D):
        super().__init__()
        self.D, self.num_classes, self.calls = D, D.num_classes, []

    def forward(self, x):
        self.calls.append(x.detach().clone())
        return self.D(x)


def test_acgan_step_uses_generated_labels_for_fakes(monkeypatch):
    """D's class loss on fakes uses the labels G was given, not the real batch's labels."""
    import ganlib.models.acgan as mod

    seen = []
    real_loss = mod.acgan_d_loss

    def spy(rs, fs, rc, rl, fc, fl):
        seen.append((rl.clone(), fl.clone()))
        return real_loss(rs, fs, rc, rl, fc, fl)

    monkeypatch.setattr(mod, "acgan_d_loss", spy)
    torch.manual_seed(0)
    G, D = MLPConditionalGenerator(hidden=32), _RecordingD(MLPACGANDiscriminator(hidden=32))
    og, od = torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters())
    real, labels = torch.zeros(16, 1, 16, 16), torch.zeros(16, dtype=torch.long)
    torch.manual_seed(1)
    out = acgan_step(G, D, og, od, real, labels)
    torch.manual_seed(1)
    expected_fake_labels = torch.randint(0, 10, (16,))
    ((rl, fl),) = seen
    assert torch.equal(rl, labels)
    assert torch.equal(fl, expected_fake_labels), "fakes must be classified against the labels G was given"
    assert set(out) == {"d_loss", "g_loss", "d_class_real"} and len(D.calls) == 3


@pytest.mark.learning
def test_acgan_learns_conditional_digits(tmp_path):
    """Within 60 s of CPU training: conditional accuracy >= 70 % (an untrained G: about 10 %)."""
    clf = pretrained_classifier(image_size=16, cache_dir=tmp_path)
    ganlib.seed_everything(0)
    base = conditional_accuracy(clf, *generate_per_class(MLPConditionalGenerator(), 100))
    x, y = load_digits(16, "train")
    G, D = MLPConditionalGenerator(), MLPACGANDiscriminator()
    og = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    start = time.process_time()
    fit(
        lambda b: acgan_step(G, D, og, od, *b),
        TensorBatches(x, y, batch_size=64, seed=0),
        1500,
        modules={"G": G, "D": D},
        progress=False,
    )
    took = time.process_time() - start
    acc = conditional_accuracy(clf, *generate_per_class(G, 100))
    assert base < 0.3, f"an untrained generator should be near chance, got {base:.2f}"
    assert acc >= 0.7, f"conditional accuracy {acc:.2f} < 0.70 after {took:.0f}s of training"


def test_acgan_step_without_the_real_class_loss(monkeypatch):
    """real_class_loss=False (chapter 2's pitfall 3): D's loss is BCE + CE on fakes only."""
    torch.manual_seed(0)
    G, D = MLPConditionalGenerator(hidden=16), MLPACGANDiscriminator(hidden=16)
    og, od = torch.optim.SGD(G.parameters(), lr=0.0), torch.optim.SGD(D.parameters(), lr=0.0)
    real, labels = torch.rand(6, 1, 16, 16) * 2 - 1, torch.arange(6)
    torch.manual_seed(1)
    full = acgan_step(G, D, og, od, real, labels)
    torch.manual_seed(1)
    partial = acgan_step(G, D, og, od, real, labels, real_class_loss=False)
    real_s, real_c = D(real)
    assert torch.allclose(full["d_loss"] - partial["d_loss"], acgan_class_loss(real_c, labels), atol=1e-5)
