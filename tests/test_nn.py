"""Unit tests of ganlib.nn (chapter 6 building blocks), with exact expected values."""

import copy

import numpy as np
import pytest
import scipy.stats
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as torch_spectral_norm

from ganlib import losses
from ganlib.nn import (
    EMA,
    ConditionalBatchNorm2d,
    SelfAttention,
    apply_spectral_norm,
    clip_and_rescale_noise,
    largest_singular_value,
    orthogonal_penalty,
    orthogonal_regularization,
    spectral_norm,
    truncated_noise,
)

# ---------------------------------------------------------------- spectral norm


@pytest.mark.parametrize("layer", [nn.Linear(7, 5), nn.Conv2d(3, 4, 3)])
def test_our_spectral_norm_equals_pytorch(layer):
    torch.manual_seed(0)
    ours, theirs = copy.deepcopy(layer), copy.deepcopy(layer)
    spectral_norm(ours)
    torch_spectral_norm(theirs)
    sn_ours, sn_theirs = ours.parametrizations.weight[0], theirs.parametrizations.weight[0]
    sn_ours._u.copy_(sn_theirs._u)
    sn_ours._v.copy_(sn_theirs._v)
    x = torch.randn(2, *((7,) if isinstance(layer, nn.Linear) else (3, 6, 6)))
    for _ in range(3):  # train mode: one power-iteration step per forward, same state
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(sn_ours._u, sn_theirs._u)
        with torch.no_grad():  # the weights move between steps, as in training
            for a, b in zip(ours.parameters(), theirs.parameters()):
                a.add_(0.01), b.add_(0.01)
    ours.eval(), theirs.eval()
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-6)


def test_spectral_norm_estimate_converges_to_svd():
    torch.manual_seed(1)
    layer = spectral_norm(nn.Linear(20, 10))
    sigma_true = largest_singular_value(layer.parametrizations.weight.original)
    for _ in range(50):  # 15 steps at init + 50 forwards
        w = layer.weight
    sn = layer.parametrizations.weight[0]
    est = float(sn.sigma(layer.parametrizations.weight.original.detach()))
    assert abs(est - sigma_true) / sigma_true < 1e-4
    assert abs(largest_singular_value(w) - 1.0) < 1e-4, "the normalised weight has spectral norm 1"
    assert np.isclose(sigma_true, torch.linalg.svdvals(layer.parametrizations.weight.original.double())[0].item())


def test_apply_spectral_norm_covers_every_layer_once():
    m = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Linear(8, 2), nn.Embedding(3, 8), nn.BatchNorm2d(8))
    apply_spectral_norm(m)
    apply_spectral_norm(m)  # idempotent
    from torch.nn.utils import parametrize

    assert all(parametrize.is_parametrized(m[i], "weight") for i in range(3))
    assert not parametrize.is_parametrized(m[3])
    assert len(m[0].parametrizations.weight) == 1


def test_spectral_norm_rejects_vectors():
    with pytest.raises(ValueError, match="dimensions"):
        spectral_norm(nn.BatchNorm1d(3))


# ---------------------------------------------------------------- self-attention


def test_self_attention_starts_as_identity_and_rows_sum_to_one():
    torch.manual_seed(0)
    att = SelfAttention(16)
    x = torch.randn(2, 16, 4, 4)
    y, beta = att(x, return_attention=True)
    assert torch.equal(y, x), "gamma = 0 at init: the block is the identity"
    assert beta.shape == (2, 16, 16)
    torch.testing.assert_close(beta.sum(-1), torch.ones(2, 16))
    assert att.query.out_channels == 2 and att.key.out_channels == 2, "query/key use C/8 channels"


def test_self_attention_matches_the_equation():
    torch.manual_seed(0)
    att = SelfAttention(8)
    with torch.no_grad():
        att.gamma.fill_(0.5)
    x = torch.randn(1, 8, 2, 3)
    X = x.flatten(2)[0]  # (C, HW)
    f, g = att.query.weight[:, :, 0, 0] @ X, att.key.weight[:, :, 0, 0] @ X
    h = att.value.weight[:, :, 0, 0] @ X
    beta = torch.softmax(f.T @ g, dim=1)  # (HW query, HW key)
    o = att.out.weight[:, :, 0, 0] @ (h @ beta.T)
    expected = (X + 0.5 * o).view(1, 8, 2, 3)
    torch.testing.assert_close(att(x), expected, rtol=1e-5, atol=1e-6)
    assert att(torch.randn(1, 8, 4, 4)).shape == (1, 8, 4, 4)
    assert SelfAttention(8, pool=True)(torch.randn(1, 8, 4, 4)).shape == (1, 8, 4, 4)


def test_self_attention_bad_input():
    with pytest.raises(ValueError, match="divisible by 8"):
        SelfAttention(12)
    with pytest.raises(ValueError, match="expects"):
        SelfAttention(8)(torch.randn(1, 16, 4, 4))


# ---------------------------------------------------------------- conditional batch norm


def test_conditional_batch_norm_exact():
    cbn = ConditionalBatchNorm2d(2, 3)
    with torch.no_grad():
        cbn.gain.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 2.0, 0]]))
        cbn.bias.weight.copy_(torch.tensor([[0, 0, 1.0], [0, 0, -1.0]]))
    x = torch.tensor([[[[1.0]], [[2.0]]], [[[3.0]], [[6.0]]]])  # (2, 2, 1, 1)
    c = torch.tensor([[1.0, 0, 0.5], [0, 1.0, 0]])
    xhat = nn.BatchNorm2d(2, affine=False)(x)  # +-1 (up to eps)
    gain = torch.tensor([[2.0, 1.0], [1.0, 3.0]])  # 1 + W_gamma c
    bias = torch.tensor([[0.5, -0.5], [0.0, 0.0]])  # W_beta c
    torch.testing.assert_close(cbn(x, c), xhat * gain[:, :, None, None] + bias[:, :, None, None])
    with pytest.raises(ValueError, match="conditioning vector"):
        cbn(x, torch.zeros(2, 4))


# ---------------------------------------------------------------- hinge losses (ganlib.losses)


def test_hinge_losses_exact():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 0.5])
    # mean(relu(1 - real)) = (0 + 0.5 + 2) / 3 ; mean(relu(1 + fake)) = (0 + 1 + 1.5) / 3
    assert torch.isclose(losses.d_loss_hinge(real, fake), torch.tensor(5.0 / 3.0))
    assert torch.isclose(losses.g_loss_hinge(fake), torch.tensor(0.5))


# ---------------------------------------------------------------- orthogonal regularisation


def test_orthogonal_regularization_value_and_gradient_convention():
    lin = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    # W W^T = [[5, 11], [11, 25]]: off-diagonal squared sum = 2 * 121 = 242
    assert float(orthogonal_penalty(lin.weight)) == 242.0
    beta = 1e-4
    reg = orthogonal_regularization(lin, beta)
    assert torch.isclose(reg, torch.tensor(0.5 * beta * 242.0))
    reg.backward()
    # BigGAN's code adds 2 beta (W W^T * (1 - I)) W = 2e-4 * [[33, 44], [11, 22]]
    torch.testing.assert_close(lin.weight.grad, 2 * beta * torch.tensor([[33.0, 44.0], [11.0, 22.0]]))


def test_orthogonal_regularization_zero_for_orthogonal_rows_and_skips_shared():
    conv = nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([2.0, 0.0]).view(2, 1, 1, 1))
    assert float(orthogonal_penalty(conv.weight)) == 0.0
    m = nn.Module()
    m.shared = nn.Embedding(3, 2)
    m.lin = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        m.lin.weight.copy_(torch.eye(2))
        m.shared.weight.fill_(1.0)  # rows not orthogonal: would count if it were not skipped
    assert float(orthogonal_regularization(m, 1.0)) == 0.0
    with pytest.raises(ValueError):
        orthogonal_regularization(nn.ReLU(), 1e-4)


# ---------------------------------------------------------------- EMA


def test_ema_update_exact():
    net = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = EMA(net, decay=0.9)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net)
    assert torch.isclose(ema.model.weight, torch.tensor(0.1)).all()
    ema.update(net)
    assert torch.isclose(ema.model.weight, torch.tensor(0.19)).all()
    assert int(ema.num_updates) == 2 and not ema.model.weight.requires_grad


def test_ema_copies_before_start_and_copies_buffers():
    net = nn.Sequential(nn.Linear(1, 2), nn.BatchNorm1d(2))
    ema = EMA(net, decay=0.5, start=1)
    with torch.no_grad():
        net[0].weight.fill_(4.0)
        net[1].running_mean.fill_(3.0)
    ema.update(net)  # before start: a copy
    assert torch.equal(ema.model[0].weight, net[0].weight)
    with torch.no_grad():
        net[0].weight.fill_(0.0)
    ema.update(net)  # 0.5 * 4 + 0.5 * 0
    assert torch.equal(ema.model[0].weight, torch.full((2, 1), 2.0))
    assert torch.equal(ema.model[1].running_mean, torch.full((2,), 3.0))
    ema.train()
    assert not ema.model.training, "the average is always evaluated in eval mode"
    with pytest.raises(ValueError):
        EMA(net, decay=1.0)


# ---------------------------------------------------------------- truncation


@pytest.mark.parametrize("t", [0.5, 1.0, 2.0])
def test_truncated_noise_matches_scipy_truncnorm(t):
    z = truncated_noise(400, 50, t, generator=torch.Generator().manual_seed(0)).flatten().numpy()
    assert z.shape == (20000,)
    assert np.abs(z).max() <= t, "every value inside [-t, t]"
    ks = scipy.stats.kstest(z, scipy.stats.truncnorm(-t, t).cdf)
    assert ks.pvalue > 0.01, f"not a truncated normal at t={t}: KS p={ks.pvalue}"
    assert abs(z.std() - scipy.stats.truncnorm(-t, t).std()) < 0.01


def test_clip_and_rescale_is_a_different_distribution():
    z = clip_and_rescale_noise(400, 50, 1.0, generator=torch.Generator().manual_seed(0)).flatten().numpy()
    assert np.abs(z).max() <= 1.0, "it passes a bounds check..."
    assert abs(z.std() - 0.604) < 0.01 and abs(scipy.stats.truncnorm(-1, 1).std() - 0.5396) < 1e-4
    assert scipy.stats.kstest(z, scipy.stats.truncnorm(-1, 1).cdf).pvalue < 1e-6, "...but not a KS test"


def test_truncated_noise_bad_threshold_and_no_truncation():
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="threshold"):
            truncated_noise(2, 3, bad)
    z = truncated_noise(1000, 10, None, generator=torch.Generator().manual_seed(0))
    assert z.abs().max() > 2.5, "no truncation: a plain standard normal"


# ---------------------------------------------------------------- spectral norm: exclusions, sigma monitoring


def test_apply_spectral_norm_exclude_leaves_a_layer_plain():
    from torch.nn.utils import parametrize

    m = nn.Module()
    m.shared = nn.Embedding(3, 4)
    m.lin = nn.Linear(4, 2)
    apply_spectral_norm(m, exclude=(m.shared,))
    assert not parametrize.is_parametrized(m.shared), "an excluded layer stays plain"
    assert parametrize.is_parametrized(m.lin, "weight")


def test_top_singular_values_read_from_the_sn_buffers_match_svd():
    from ganlib.nn import top_singular_values

    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Linear(8, 4))
    apply_spectral_norm(m)
    for _ in range(30):  # the power iteration converges in train mode
        m[0].weight, m[2].weight
    sig = top_singular_values(m)
    assert set(sig) == {"0", "2"}
    for name in sig:
        exact = largest_singular_value(m.get_submodule(name).parametrizations.weight.original)
        assert abs(sig[name] - exact) < 1e-4 * exact, (name, sig[name], exact)
    with torch.no_grad():  # it reads the RAW weight, which SN does not bound
        m[2].parametrizations.weight.original.mul_(3.0)
    assert abs(top_singular_values(m)["2"] - 3 * sig["2"]) < 1e-4 * sig["2"]
    assert top_singular_values(nn.Linear(2, 2)) == {}


# ---------------------------------------------------------------- standing statistics


def test_standing_statistics_average_the_batch_statistics():
    from ganlib.nn import standing_statistics

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    net[1].running_mean.fill_(7.0)  # stale statistics, e.g. copied from another net
    batches = [torch.randn(8, 3) * (1 + i) + i for i in range(3)]
    it = iter(batches)
    standing_statistics(net, lambda g: (next(it),), batches=3)
    with torch.no_grad():
        h = [net[0](b) for b in batches]
    torch.testing.assert_close(net[1].running_mean, torch.stack([x.mean(0) for x in h]).mean(0))
    torch.testing.assert_close(net[1].running_var, torch.stack([x.var(0, unbiased=True) for x in h]).mean(0))
    assert net[1].momentum == 0.1, "the momentum is restored"
    assert not net.training and not net[2].training, "returned in eval mode; dropout never ran in train mode"
    with pytest.raises(ValueError, match="no batch-norm"):
        standing_statistics(nn.Linear(2, 2), lambda g: (torch.randn(2, 2),))
