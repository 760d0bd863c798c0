"""FID, IS and KID: exact values, agreement with pytorch-fid, torch-fidelity and torchmetrics, bad input,
and the disturbance experiment (FID rises with noise and blur) on the offline extractor."""

import warnings

import numpy as np
import pytest
import torch

from ganlib.metrics import (
    feature_statistics,
    fid_from_features,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    trace_sqrt_product,
)

# The references need 3-12 CPU seconds each at d = 2048 (eigvals / sqrtm of a non-symmetric matrix);
# the issue asks for agreement at d = 2048, so these run in CI (benchmarks/fid_speed.py times them).


def _features(n, d, seed, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    return np.maximum(rng.normal(size=(n, d)) @ mixing * scale + shift, 0)


def _references(mu1, s1, mu2, s2, pytorch_fid=True):
    from torch_fidelity.metric_fid import fid_statistics_to_metric
    from torchmetrics.image.fid import _compute_fid

    out = {
        "torch-fidelity": fid_statistics_to_metric({"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, False)[
            "frechet_inception_distance"
        ],
        "torchmetrics": float(_compute_fid(*(torch.from_numpy(a) for a in (mu1, s1, mu2, s2)))),
    }
    if pytorch_fid:
        from pytorch_fid.fid_score import calculate_frechet_distance

        out["pytorch-fid"] = float(calculate_frechet_distance(mu1, s1, mu2, s2))
    return out


# ---------------------------------------------------------------- FID: exact values
def test_frechet_distance_closed_forms():
    # one dimension: (m1 - m2)^2 + (s1 - s2)^2 for standard deviations s1, s2
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4 + 1, rel=1e-12)
    # commuting (diagonal) covariances: sum (sqrt a - sqrt b)^2
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.0])
    want = 1.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(np.zeros(3), np.diag(a), np.array([1.0, 0, 0]), np.diag(b)) == pytest.approx(
        want, rel=1e-12
    )
    # symmetric in its arguments; tensors work too
    rng = np.random.default_rng(0)
    m = rng.normal(size=(5, 5))
    s1, s2 = m @ m.T, np.eye(5) * 2
    d12 = frechet_distance(torch.zeros(5), torch.from_numpy(s1), np.ones(5), s2)
    assert isinstance(d12, float) and d12 == pytest.approx(frechet_distance(np.ones(5), s2, np.zeros(5), s1), rel=1e-10)
    assert trace_sqrt_product(s1, s1) == pytest.approx(np.trace(s1), rel=1e-12)


def test_feature_statistics_match_numpy():
    f = _features(50, 8, 0).astype(np.float32)
    mu, sigma = feature_statistics(f)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, f.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(f.astype(np.float64), rowvar=False), rtol=1e-10, atol=1e-14)
    mu_t, _ = feature_statistics(torch.from_numpy(f))
    np.testing.assert_allclose(mu_t, mu)


# ---------------------------------------------------------------- FID: the reference libraries
@pytest.mark.parametrize("n", [500, 30])  # full rank, and rank deficient (N < d)
def test_fid_matches_references_d64(n):
    stats1 = feature_statistics(_features(n, 64, 1))
    stats2 = feature_statistics(_features(n, 64, 2, shift=0.1, scale=1.2))
    ours = frechet_distance(*stats1, *stats2)
    for name, ref in _references(*stats1, *stats2).items():
        assert abs(ours - ref) / ref <= 1e-6, f"{name}: {ref} vs ganlib {ours}"


def test_fid_identical_inputs_is_zero_never_nan():
    for n in (500, 30):
        mu, sigma = feature_statistics(_features(n, 64, 3))
        value = frechet_distance(mu, sigma, mu, sigma)
        assert isinstance(value, float) and np.isfinite(value)
        assert 0.0 <= value < 1e-9 * np.trace(sigma)
    zero = np.zeros((4, 4))
    assert frechet_distance(np.zeros(4), zero, np.zeros(4), zero) == 0.0  # degenerate: all features equal


def test_fid_matches_torch_fidelity_d2048_rank_deficient():
    """d = 2048 with N < d against torch-fidelity and torchmetrics (pytorch-fid below)."""
    stats1 = feature_statistics(_features(1000, 2048, 4))
    stats2 = feature_statistics(_features(1000, 2048, 5, shift=0.05))
    ours = frechet_distance(*stats1, *stats2)
    refs = _references(*stats1, *stats2, pytorch_fid=False)
    for name, ref in refs.items():
        assert abs(ours - ref) / ref <= 1e-6, f"{name}: {ref} vs ganlib {ours}"
    assert frechet_distance(*stats1, *stats1) < 1e-9 * np.trace(stats1[1])


@pytest.mark.parametrize("n", [5000, 1000])
def test_fid_matches_all_references_d2048(n):
    stats1 = feature_statistics(_features(n, 2048, 6))
    stats2 = feature_statistics(_features(n, 2048, 7, shift=0.05))
    ours = frechet_distance(*stats1, *stats2)
    for name, ref in _references(*stats1, *stats2).items():
        assert abs(ours - ref) / ref <= 1e-6, f"{name}: {ref} vs ganlib {ours}"
    assert frechet_distance(*stats1, *stats1) < 1e-9 * np.trace(stats1[1])


# ---------------------------------------------------------------- IS
def test_inception_score_hand_case_and_reversed_kl():
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    mean, std = inception_score(np.log(p), splits=1)
    assert mean == pytest.approx(1.3170522760, abs=1e-10) and std == 0.0
    marginal = p.mean(0)
    reversed_kl = np.exp(np.mean(np.sum(marginal * (np.log(marginal) - np.log(p)), axis=1)))
    assert reversed_kl == pytest.approx(1.4215100172, abs=1e-10)  # the bug: KL(p(y) || p(y|x))


def test_inception_score_balanced_confident_is_k():
    k = 7
    logits = np.full((70, k), -30.0)
    logits[np.arange(70), np.arange(70) % k] = 30.0
    assert inception_score(logits, splits=10)[0] == pytest.approx(k, rel=1e-9)
    assert inception_score(np.zeros((20, k)), splits=2)[0] == pytest.approx(1.0)  # no confidence: 1


@pytest.mark.parametrize("splits", [10, 3])  # 3 splits of 100: uneven chunks (33, 33, 34)
def test_inception_score_matches_torch_fidelity(splits):
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = torch.from_numpy(np.random.default_rng(0).normal(size=(100, 10)) * 3)
    ref = isc_features_to_metric(logits, splits=splits, shuffle=False)
    mean, std = inception_score(logits, splits=splits)
    assert abs(mean - ref["inception_score_mean"]) / ref["inception_score_mean"] <= 1e-6
    assert abs(std - ref["inception_score_std"]) <= 1e-6 * ref["inception_score_mean"]
    assert inception_score(logits.float(), splits=splits)[0] == pytest.approx(mean, rel=1e-5)


# ---------------------------------------------------------------- KID
def test_kid_matches_torch_fidelity():
    from torch_fidelity.metric_kid import kid_features_to_metric

    # float64 features: torch-fidelity computes the kernels in the features' dtype, ganlib in float64
    f1 = torch.from_numpy(_features(300, 32, 8))
    f2 = torch.from_numpy(_features(250, 32, 9, shift=0.05))
    ref = kid_features_to_metric(f1, f2, kid_subsets=20, kid_subset_size=100, rng_seed=2020, verbose=False)
    mean, std = kernel_inception_distance(f1, f2, subsets=20, subset_size=100, seed=2020)
    assert abs(mean - ref["kernel_inception_distance_mean"]) <= 1e-6 * abs(ref["kernel_inception_distance_mean"])
    assert abs(std - ref["kernel_inception_distance_std"]) <= 1e-6 * abs(ref["kernel_inception_distance_std"])
    assert kernel_inception_distance(f1, f2, subsets=20, subset_size=100) == (mean, std)  # seeded


def test_kid_unbiased_fid_biased_at_small_n():
    """Two samples of one distribution: KID ~ 0 at every N, FID well above 0 and shrinking with N."""
    big = _features(4000, 16, 10)
    kids, fids = [], []
    for n in (50, 400):
        a, b = big[:n], big[2000 : 2000 + n]
        kids.append(kernel_inception_distance(a, b, subsets=1, subset_size=n)[0])  # all of both: one subset
        fids.append(fid_from_features(a, b))
    scale = kernel_inception_distance(big[:400], big[:400] + 0.5, subsets=1, subset_size=400)[0]
    assert all(abs(k) < 0.05 * scale for k in kids), (kids, scale)
    assert fids[0] > 4 * fids[1] > 0


# ---------------------------------------------------------------- bad input
def test_bad_input_errors():
    good = np.random.default_rng(0).normal(size=(10, 4))
    bad = good.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        feature_statistics(bad)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="inf"):
        fid_from_features(good, bad)
    with pytest.raises(ValueError, match="at least 2"):
        feature_statistics(good[:1])
    with pytest.raises(ValueError, match="dimensions differ"):
        fid_from_features(good, good[:, :3])
    with pytest.raises(ValueError, match="dimensions differ"):
        kernel_inception_distance(good, good[:, :3], subset_size=5)
    mu, sigma = feature_statistics(good)
    with pytest.raises(ValueError, match="covariance matrix"):
        frechet_distance(mu, sigma, mu[:3], sigma)
    with pytest.raises(ValueError, match="swap"):
        frechet_distance(sigma, mu, mu, sigma)
    with pytest.raises(ValueError, match="not symmetric"):
        frechet_distance(mu, sigma + np.triu(np.ones((4, 4)), 1), mu, sigma)
    with pytest.raises(ValueError, match="2-d"):
        feature_statistics(np.zeros((2, 3, 4)))
    with pytest.raises(TypeError, match="numpy array or a torch tensor"):
        feature_statistics("features")
    with pytest.raises(ValueError, match="larger than the feature sets"):
        kernel_inception_distance(good, good, subset_size=11)


def test_inception_score_bad_input():
    probs = np.full((10, 4), 0.25)
    with pytest.warns(UserWarning, match="probabilities"):
        inception_score(probs, splits=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inception_score(np.log(probs), splits=2)  # log-probabilities: no warning
    with pytest.raises(ValueError, match="larger than the number of samples"):
        inception_score(np.zeros((5, 3)), splits=6)
    with pytest.raises(ValueError, match="NaN"):
        inception_score(np.array([[0.0, np.nan], [1.0, 2.0]]), splits=1)
    with pytest.raises(ValueError, match="splits must be a positive int"):
        inception_score(np.zeros((5, 3)), splits=0)


# ---------------------------------------------------------------- bad input that used to pass silently
def test_inception_score_finite_for_sharp_logits():
    """Finite but sharp logits: p(y|x) underflows to 0; a class no image predicts used to give 0 * inf = NaN."""
    one_class = torch.tensor([[1000.0, -1000.0, -1000.0]]).repeat(20, 1)
    assert inception_score(one_class, splits=2) == (1.0, 0.0)  # every image the same class: IS = 1
    two_classes = torch.tensor([[1000.0, -1000.0, -1000.0], [-1000.0, 1000.0, -1000.0]]).repeat(10, 1)
    mean, std = inception_score(two_classes, splits=2)
    assert mean == pytest.approx(2.0, rel=1e-12) and std < 1e-12  # balanced over 2 of K = 3 classes
    for scale in (1.0, 30.0, 1e3, 1e6):  # the score stays finite, and rises towards K = 10 as logits sharpen
        logits = torch.randn(500, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * scale
        m, s_ = inception_score(logits, splits=5)
        assert np.isfinite(m) and np.isfinite(s_) and 1.0 <= m <= 10.0 + 1e-9, (scale, m, s_)
    # float32 logits: the same number (computed in float64)
    assert inception_score(two_classes.float(), splits=2)[0] == pytest.approx(2.0, rel=1e-12)


def test_frechet_distance_refuses_a_covariance_that_is_not_psd():
    rng = np.random.default_rng(0)
    mu = np.zeros(2)
    with pytest.raises(ValueError, match=r"sigma1 is not positive semi-definite.*smallest eigenvalue is -1 "):
        frechet_distance(mu, -np.eye(2), mu, np.eye(2))  # used to return 0.0
    indefinite = np.array([[1.0, 2.0], [2.0, 1.0]])  # symmetric, positive diagonal, eigenvalues 3 and -1
    with pytest.raises(ValueError, match="sigma2 is not positive semi-definite"):
        frechet_distance(mu, np.eye(2), mu, indefinite)
    with pytest.raises(ValueError, match="sigma1 is not positive semi-definite"):
        trace_sqrt_product(indefinite, np.eye(2))
    # a corrupted entry in a rank-deficient covariance (N < D), on either side
    (m1, s1), (m2, s2) = feature_statistics(rng.normal(size=(30, 64))), feature_statistics(rng.normal(size=(40, 64)))
    corrupted = s1.copy()
    corrupted[0, 0] -= 5 * s1.diagonal().max()
    for args, which in (((m1, corrupted, m2, s2), "sigma1"), ((m2, s2, m1, corrupted), "sigma2")):
        with pytest.raises(ValueError, match=f"{which} is not positive semi-definite.*1 of 64"):
            frechet_distance(*args)
    # within the tolerance: round-off (N < D, float32 copies, a tiny negative eigenvalue) still works
    assert frechet_distance(m1, s1, m2, s2) > 0
    assert frechet_distance(m1, s1.astype(np.float32), m2, s2.astype(np.float32)) == pytest.approx(
        frechet_distance(m1, s1, m2, s2), rel=1e-4
    )
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    nearly = q @ np.diag([5, 4, 3, 2, 1, 0.5, 0.0, -1e-9]) @ q.T  # -1e-9 / 5 is within 1e-6
    assert np.isfinite(frechet_distance(np.zeros(8), (nearly + nearly.T) / 2, np.zeros(8), np.eye(8)))
    assert frechet_distance(mu, np.zeros((2, 2)), mu, np.zeros((2, 2))) == 0.0  # zero covariance is fine


def test_kid_warns_at_tiny_subsets_and_whole_sets():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 8)), rng.normal(size=(5, 8)) + 1
    with pytest.warns(UserWarning) as caught:
        _, std = kernel_inception_distance(x, y, subset_size=None, subsets=10)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("KID on subsets of 5 < 50 features") for m in messages), messages
    assert any("is all of both feature sets" in m and "std over subsets is 0" in m for m in messages), messages
    assert std < 1e-12  # what the warning explains: every subset is the same pair of sets
    with pytest.warns(UserWarning, match="is all of features2: every subset holds the same features2"):
        kernel_inception_distance(rng.normal(size=(200, 8)), rng.normal(size=(60, 8)), subset_size=60, subsets=5)
    with warnings.catch_warnings():  # the protocol's sizes: no warning
        warnings.simplefilter("error")
        kernel_inception_distance(rng.normal(size=(200, 8)), rng.normal(size=(120, 8)), subset_size=60, subsets=5)


# ---------------------------------------------------------------- the disturbance experiment
@pytest.fixture(scope="module")
def digits_features():
    from ganlib.data.digits import load_digits
    from ganlib.metrics import extract_features, offline_extractor

    ext = offline_extractor(image_size=16)
    assert ext.comparable_to_published is False and "NOT comparable" in repr(ext)
    train, _ = load_digits(16, "train")
    test, _ = load_digits(16, "test")
    return ext, extract_features(ext, train), test


@pytest.mark.parametrize("name", ["gaussian noise", "gaussian blur", "black rectangles", "salt and pepper", "swirl"])
def test_fid_rises_monotonically_with_disturbance(digits_features, name):
    from ganlib.metrics import extract_features
    from ganlib.metrics.disturbances import DISTURBANCES

    ext, real, test = digits_features
    fn, alphas = DISTURBANCES[name]
    fids = [fid_from_features(real, extract_features(ext, fn(test, a))) for a in alphas]
    assert all(b > a for a, b in zip(fids, fids[1:])), f"{name}: FID not increasing: {fids}"
    assert fids[-1] > 5 * fids[0]
    assert real.shape[1] == 128


def test_fid_rises_as_another_class_is_mixed_in(digits_features):
    """The sixth disturbance: digits 0-8 as the data set, images of 9s mixed in."""
    from ganlib.data.digits import load_digits
    from ganlib.metrics import extract_features
    from ganlib.metrics.disturbances import MIX_IN_FRACTIONS, mix_in

    ext, _, _ = digits_features
    train, train_y = load_digits(16, "train")
    test, test_y = load_digits(16, "test")
    reference = extract_features(ext, train[train_y != 9])
    nines = torch.cat([train[train_y == 9], test[test_y == 9]])
    base = test[test_y != 9][:200]
    fids = [fid_from_features(reference, extract_features(ext, mix_in(base, nines, a))) for a in MIX_IN_FRACTIONS]
    assert all(b > a for a, b in zip(fids, fids[1:])) and fids[-1] > 3 * fids[0], fids
    assert torch.equal(mix_in(base, nines, 0.0), base)
    with pytest.raises(ValueError, match="other holds only"):
        mix_in(base, nines[:10], 0.5)


def test_disturbances_identity_at_zero_and_range():
    from ganlib.metrics.disturbances import DISTURBANCES

    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for name, (fn, alphas) in DISTURBANCES.items():
        assert torch.allclose(fn(x, 0.0), x, atol=1e-6), name
        y = fn(x, alphas[-1])
        assert y.shape == x.shape and float(y.min()) >= -1 - 1e-6 and float(y.max()) <= 1 + 1e-6, name
    with pytest.raises(ValueError, match="alpha"):
        DISTURBANCES["gaussian noise"][0](x, 2.0)
