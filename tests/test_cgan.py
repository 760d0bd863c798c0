"""Tests of the conditional GAN (Mirza & Osindero 2014) and the projection discriminator."""

import math
import time

import pytest
import torch
from torch import nn

import ganlib
from ganlib.classifier import conditional_accuracy, intra_class_diversity, pretrained_classifier
from ganlib.data import TensorBatches, load_digits
from ganlib.models.cgan import (
    ConvConditionalDiscriminator,
    ConvConditionalGenerator,
    LabelEncoder,
    MLPConditionalDiscriminator,
    MLPConditionalGenerator,
    ProjectionDiscriminator,
    ProjectionHead,
    cgan_d_loss,
    cgan_g_loss,
    cgan_step,
    generate_per_class,
)
from ganlib.train import fit


def test_projection_head_exact():
    head = ProjectionHead(num_features=2, num_classes=3)
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor([[1.0, -1.0]]))
        head.linear.bias.fill_(0.5)
        head.embed.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]]))
    h = torch.tensor([[2.0, 3.0], [2.0, 3.0], [1.0, 1.0]])
    y = torch.tensor([0, 1, 2])
    # psi = h1 - h2 + 0.5 -> -0.5, -0.5, 0.5 ; <embed(y), h> -> 2, 6, -2
    assert torch.allclose(head(h, y), torch.tensor([1.5, 5.5, -1.5]))
    assert head(h, y).shape == (3,)


def test_projection_head_errors_and_spectral_norm():
    head = ProjectionHead(4, 3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\].*num_classes=3"):
        head(torch.zeros(2, 4), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"features h must be \(N, 4\)"):
        head(torch.zeros(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="one label per sample"):
        head(torch.zeros(2, 4), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="not one-hot"):
        head(torch.zeros(2, 4), torch.eye(3)[:2].long())
    sn = ProjectionHead(4, 3, spectral_norm=True)
    assert sn(torch.ones(2, 4), torch.tensor([0, 2])).shape == (2,)


def test_losses_exact():
    zero = torch.zeros(5)
    assert cgan_d_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert cgan_g_loss(zero).item() == pytest.approx(math.log(2))
    # D(x)=log 3 -> sigma = 3/4 ; D(G(z)) = -log 3 -> 1 - sigma = 3/4
    d = cgan_d_loss(torch.tensor([math.log(3)]), torch.tensor([-math.log(3)]))
    assert d.item() == pytest.approx(-2 * math.log(0.75))
    # far from the decision boundary the logits form stays finite and keeps its gradient
    logit = torch.tensor([-200.0], requires_grad=True)
    loss = cgan_g_loss(logit)
    loss.backward()
    assert loss.item() == pytest.approx(200.0) and logit.grad.item() == pytest.approx(-1.0)


def test_label_encoder():
    assert torch.equal(LabelEncoder(4)(torch.tensor([2, 0])), torch.tensor([[0.0, 0, 1, 0], [1, 0, 0, 0]]))
    assert LabelEncoder(4, "embedding", 7)(torch.tensor([1])).shape == (1, 7)
    with pytest.raises(ValueError, match="'onehot' or 'embedding'"):
        LabelEncoder(4, "film")


@pytest.mark.parametrize("size", [8, 16, 32])
def test_shapes(size):
    y = torch.tensor([0, 3, 9])
    for G in (
        MLPConditionalGenerator(image_size=size),
        ConvConditionalGenerator(image_size=size),
        ConvConditionalGenerator(image_size=size, channels=3, label_mode="onehot"),
    ):
        x = G(torch.randn(3, G.z_dim), y)
        assert x.shape == (3, G.channels, size, size) and x.abs().max() <= 1
        for D in (
            MLPConditionalDiscriminator(image_size=size, channels=G.channels),
            ConvConditionalDiscriminator(image_size=size, channels=G.channels),
            ProjectionDiscriminator(image_size=size, channels=G.channels),
        ):
            assert D(x, y).shape == (3,)


def test_models_use_the_label():
    torch.manual_seed(0)
    z, x = torch.randn(2, 64).repeat(2, 1), torch.randn(2, 1, 16, 16).repeat(2, 1, 1, 1)
    y = torch.tensor([0, 1, 2, 3])
    for G in (MLPConditionalGenerator().eval(), ConvConditionalGenerator().eval()):
        out = G(z, y)
        assert not torch.allclose(out[0], out[2]), f"{type(G).__name__} ignores y"
    for D in (MLPConditionalDiscriminator(), ConvConditionalDiscriminator(), ProjectionDiscriminator()):
        out = D(x, y)
        assert not torch.allclose(out[0], out[2]), f"{type(D).__name__} ignores y"


def test_projection_discriminator_is_projection_head_on_features():
    D = ProjectionDiscriminator(spectral_norm=False)
    x, y = torch.randn(4, 1, 16, 16), torch.tensor([1, 2, 3, 4])
    h = D.body(x).sum(dim=(2, 3))
    expected = D.head.linear(h).squeeze(1) + (D.head.embed(y) * h).sum(1)
    assert torch.allclose(D(x, y), expected, atol=1e-5)


def test_clear_errors():
    G, D = MLPConditionalGenerator(num_classes=10), MLPConditionalDiscriminator(num_classes=10)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        G(torch.randn(2, 64), torch.tensor([3, 10]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        D(torch.zeros(2, 1, 16, 16), torch.tensor([-1, 0]))
    with pytest.raises(ValueError, match=r"images must be \(N, 1, 16, 16\)"):
        D(torch.zeros(2, 3, 16, 16), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="power of two"):
        ConvConditionalGenerator(image_size=28)
    opt = lambda m: torch.optim.Adam(m.parameters())  # noqa: E731
    G5 = MLPConditionalGenerator(num_classes=5)
    with pytest.raises(ValueError, match="G has 5 classes but D has 10"):
        cgan_step(G5, D, opt(G5), opt(D), torch.zeros(4, 1, 16, 16), torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        cgan_step(G, D, opt(G), opt(D), torch.zeros(2, 1, 16, 16), torch.tensor([0, 12]))


class _RecordingD(nn.Module):
    """Wraps a D and records the (batch, labels) of each call."""

    def __init__(self, D):
        super().__init__()
        self.D, self.num_classes, self.calls = D, D.num_classes, []

    def forward(self, x, y):
        self.calls.append((x.detach().clone(), y.clone()))
        return self.D(x, y)


def test_cgan_step_feeds_d_the_right_labels():
    torch.manual_seed(0)
    G, D = MLPConditionalGenerator(hidden=32), _RecordingD(MLPConditionalDiscriminator(hidden=32))
    og, od = torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters())
    real, labels = torch.rand(8, 1, 16, 16) * 2 - 1, torch.arange(8)
    before = [p.clone() for p in G.parameters()] + [p.clone() for p in D.parameters()]
    out = cgan_step(G, D, og, od, real, labels)
    assert set(out) == {"d_loss", "g_loss"}
    (x0, y0), (x1, y1), (x2, y2) = D.calls
    assert torch.equal(x0, real) and torch.equal(y0, labels)  # reals with their own labels
    assert not torch.equal(x1, real) and y1.shape == (8,)  # fakes with the labels G was given
    assert all(not torch.equal(a, b) for a, b in zip(before, list(G.parameters()) + list(D.parameters())))


def _train_mlp_cgan(steps, seed=0):
    ganlib.seed_everything(seed)
    x, y = load_digits(16, "train")
    G, D = MLPConditionalGenerator(), MLPConditionalDiscriminator()
    og = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    batches = TensorBatches(x, y, batch_size=64, seed=seed)
    fit(lambda b: cgan_step(G, D, og, od, *b), batches, steps, modules={"G": G, "D": D}, progress=False)
    return G


@pytest.mark.learning
def test_cgan_learns_conditional_digits(tmp_path):
    """2,000 seeded steps: conditional accuracy >= 70 % (an untrained G: about 10 %)."""
    clf = pretrained_classifier(image_size=16, cache_dir=tmp_path)
    ganlib.seed_everything(0)
    untrained = generate_per_class(MLPConditionalGenerator(), 100)
    base = conditional_accuracy(clf, *untrained)
    start = time.process_time()
    G = _train_mlp_cgan(steps=2000)
    took = time.process_time() - start
    images, labels = generate_per_class(G, 100)
    acc = conditional_accuracy(clf, images, labels)
    assert base < 0.3, f"an untrained generator should be near chance, got {base:.2f}"
    assert acc >= 0.7, f"conditional accuracy {acc:.2f} < 0.70 after {took:.0f}s of training"
    x, y = load_digits(16, "test")
    assert intra_class_diversity(clf, images, labels) > 0.5 * intra_class_diversity(clf, x, y), (
        "the generator collapsed within classes"
    )


def test_conv_generator_default_is_the_one_hot_label():
    assert ConvConditionalGenerator().label.mode == "onehot"
    assert ConvConditionalGenerator(label_mode="embedding").label.dim == 64  # as large as z


def test_concat_and_projection_discriminators_share_their_body():
    """With pooling="sum" the concat D and the projection D differ only in where y enters."""
    from ganlib.models.cgan import MLPProjectionDiscriminator

    concat = ConvConditionalDiscriminator(ndf=8, spectral_norm=True, pooling="sum").eval()  # eval: no power
    proj = ProjectionDiscriminator(ndf=8, spectral_norm=True).eval()  # iteration per call
    assert [type(m) for m in concat.body] == [type(m) for m in proj.body]
    assert concat.out.in_features == proj.num_features
    x, y = torch.randn(4, 1, 16, 16), torch.tensor([0, 1, 2, 3])
    assert concat(x, y).shape == (4,)
    # the sum-pooled concat D is a linear layer on the spatially summed body features
    h = concat.body(torch.cat([x, nn.functional.one_hot(y, 10).float()[:, :, None, None].expand(-1, -1, 16, 16)], 1))
    assert torch.allclose(concat(x, y), concat.out(h.sum(dim=(2, 3))).squeeze(1), atol=1e-5)
    with pytest.raises(ValueError, match="pooling must be"):
        ConvConditionalDiscriminator(pooling="max")
    mlp = MLPProjectionDiscriminator(hidden=16)
    out = mlp(x, y)
    assert out.shape == (4,) and not torch.allclose(out, mlp(x, (y + 1) % 10))
    h = mlp.body(x.flatten(1))
    assert torch.allclose(out, mlp.head.linear(h).squeeze(1) + (mlp.head.embed(y) * h).sum(1), atol=1e-6)
