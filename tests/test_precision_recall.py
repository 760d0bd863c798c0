"""Precision / recall (Kynkäänniemi et al. 2019) and density / coverage (Naeem et al. 2020):
hand cases, agreement with torch-fidelity's and prdc's code on the same features, bad input."""

import numpy as np
import pytest
import torch

from ganlib.metrics import density_coverage, nearest_neighbour_radii, precision_recall


def _clouds(n_real, n_fake, d, seed, shift=0.0, scale=1.0, latent=None):
    """Gaussian real and fake clouds; with ``latent``, of that intrinsic dimension embedded in d
    dimensions (as network features are: in 2048 full dimensions no k-NN ball holds anything)."""
    rng = np.random.default_rng(seed)
    real, fake = rng.normal(size=(n_real, latent or d)), rng.normal(size=(n_fake, latent or d)) * scale + shift
    if latent:
        embed = rng.normal(size=(latent, d)) / np.sqrt(latent)
        real, fake = real @ embed, fake @ embed
    return real, fake


# ---------------------------------------------------------------- hand cases
def test_radii_skip_the_point_itself():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=torch.float64)
    assert nearest_neighbour_radii(x, 1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert nearest_neighbour_radii(x, 2).tolist() == [3.0, 2.0, 3.0, 6.0]


def test_precision_recall_hand_case():
    real = [[0.0], [1.0], [2.0], [3.0]]  # k = 1: every real ball has radius 1
    # 0.5 lies in a real ball, 10 in none: precision 1/2. Fake radii are 9.5: every real point is covered
    assert precision_recall(real, [[0.5], [10.0]], k=1) == (0.5, 1.0)
    # closed balls (torch-fidelity's <=): 4.0 is exactly on the ball of 3.0 and counts
    assert precision_recall(real, [[4.0], [10.0]], k=1)[0] == 0.5
    # mode collapse: two fakes near 0 look real (precision 1) but their balls (radius 0.1) cover one real point
    assert precision_recall(real, [[0.0], [0.1]], k=1) == (1.0, 0.25)


def test_density_coverage_hand_case():
    real = [[0.0], [1.0], [2.0], [3.0]]  # k = 1: radius 1, open balls (prdc's <)
    # 0.5 lies in the balls of 0 and 1 (count 2), 10 in none: density (2 + 0) / 2 / k = 1; balls hit: 0, 1 of 4
    assert density_coverage(real, [[0.5], [10.0]], k=1) == (1.0, 0.5)
    # open balls: 4.0 on the boundary of the ball of 3.0 does not count
    assert density_coverage(real, [[4.0], [10.0]], k=1) == (0.0, 0.0)
    # k = 2: radii 2, 1, 1, 2; 1.5 lies in all four balls: density (4 + 0) / 2 / 2 = 1, coverage 1
    assert density_coverage(real, [[1.5], [10.0]], k=2) == (1.0, 1.0)


def test_identical_sets_and_disjoint_sets():
    real, _ = _clouds(300, 1, 8, 0)
    p, r = precision_recall(real, real)
    d, c = density_coverage(real, real)
    assert (p, r, c) == (1.0, 1.0, 1.0) and d > 0.5
    far = real + 100.0
    assert precision_recall(real, far) == (0.0, 0.0) and density_coverage(real, far) == (0.0, 0.0)


def test_separate_fidelity_from_diversity():
    """A shrunken fake cloud is all fidelity, little diversity; a widened one the reverse."""
    real, narrow = _clouds(1000, 1000, 4, 1, scale=0.3)
    _, wide = _clouds(1000, 1000, 4, 2, scale=3.0)
    p_n, r_n = precision_recall(real, narrow)
    p_w, r_w = precision_recall(real, wide)
    assert p_n > 0.95 and r_n < 0.3, (p_n, r_n)
    assert p_w < 0.3 and r_w > 0.95, (p_w, r_w)
    d_n, c_n = density_coverage(real, narrow)
    d_w, c_w = density_coverage(real, wide)
    assert d_n > 2 * d_w and c_n < 0.5 and c_w < 0.5


def test_density_ignores_an_outlier_real_point_that_fools_precision():
    """Naeem et al.'s argument: one real outlier with a huge k-NN ball makes precision accept bad fakes."""
    rng = np.random.default_rng(3)
    real = np.concatenate([rng.normal(size=(200, 2)), [[30.0, 30.0]]])
    fake = rng.normal(size=(200, 2)) * 0.5 + np.array([15.0, 15.0])  # all far from the real cloud
    p, _ = precision_recall(real, fake)
    d, _ = density_coverage(real, fake)
    assert p > 0.9, p  # every fake point lies in the outlier's ball
    assert d <= 1 / 5 + 1e-12, d  # but in that one ball only: density 1/k (k = 5)
    assert density_coverage(real, rng.normal(size=(200, 2)))[0] > 0.6  # good fakes: about 1


# ---------------------------------------------------------------- agreement with the reference code
def _torch_fidelity_prc(real, fake, k):
    from torch_fidelity.metric_prc import prc_features_to_metric

    out = prc_features_to_metric(
        torch.as_tensor(fake),
        torch.as_tensor(real),
        prc_neighborhood=k,
        prc_batch_size=10000,
        save_cpu_ram=False,
        verbose=False,
    )
    return out["precision"], out["recall"]


# Tolerance 1e-6: the same points are counted (closed balls in both, the same cdist distances);
# torch-fidelity averages the 0/1 flags in float32, so the fractions differ by < 3e-8 (measured).
@pytest.mark.parametrize(
    "n,d,k,shift,scale,latent",
    [(500, 64, 3, 0.3, 1.0, None), (1000, 2048, 3, 0.0, 1.2, 12), (400, 16, 5, 0.5, 0.7, None)],
)
def test_precision_recall_match_torch_fidelity(n, d, k, shift, scale, latent):
    real, fake = _clouds(n, n + 37, d, n + d, shift=shift, scale=scale, latent=latent)
    ours = precision_recall(real, fake, k=k)
    ref = _torch_fidelity_prc(real, fake, k)
    assert 0.05 < ours[0] < 0.99 and 0.05 < ours[1] < 0.99, ours  # a case where the number means something
    assert max(abs(a - b) for a, b in zip(ours, ref)) < 1e-6, (ours, ref)
    # float32 features, as torch-fidelity receives them from its extractors
    ref32 = _torch_fidelity_prc(real.astype(np.float32), fake.astype(np.float32), k)
    assert max(abs(a - b) for a, b in zip(ours, ref32)) < 1e-6, (ours, ref32)


def test_precision_recall_equal_torch_fidelity_exactly_in_float64():
    """The same points are counted (torch-fidelity averages in float32, hence the 1e-6)."""
    real, fake = _clouds(800, 700, 128, 7, shift=0.2)
    ours, ref = precision_recall(real, fake), _torch_fidelity_prc(real, fake, 3)
    assert round(ours[0] * 700) == round(ref[0] * 700) and round(ours[1] * 800) == round(ref[1] * 800)
    assert max(abs(a - b) for a, b in zip(ours, ref)) < 1e-6


def test_density_coverage_match_prdc():
    from prdc import compute_prdc

    for n, d, k, shift in [(600, 32, 5, 0.3), (500, 256, 3, 0.0)]:
        real, fake = _clouds(n, n - 50, d, d, shift=shift)
        ref = compute_prdc(real, fake, nearest_k=k)
        dens, cov = density_coverage(real, fake, k=k)
        # the same counts (measured difference 0.0); 1e-12 for the order of the additions
        assert abs(dens - ref["density"]) < 1e-12 and abs(cov - ref["coverage"]) < 1e-12, ((dens, cov), ref)
        assert 0.05 < cov < 0.99


# ---------------------------------------------------------------- bad input
def test_bad_input():
    real, fake = _clouds(20, 20, 3, 0)
    with pytest.raises(ValueError, match=r"k=20 needs more than k samples in real_features \(it has 20\)"):
        precision_recall(real, fake, k=20)
    with pytest.raises(ValueError, match="k must be a positive int"):
        density_coverage(real, fake, k=0)
    with pytest.raises(ValueError, match="dimensions differ"):
        precision_recall(real, fake[:, :2])
    bad = fake.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        density_coverage(real, bad)
    with pytest.raises(ValueError, match="2-d"):
        precision_recall(real[:, 0], fake)
