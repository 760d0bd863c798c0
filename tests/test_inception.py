"""The FID Inception network: same state_dict layout and same features as pytorch-fid, torch-fidelity
and torchmetrics, on random weights saved in the published layout to a temporary folder
(no download, nothing written to a real cache)."""

import math

import pytest
import torch

from ganlib.metrics import FIDInceptionExtractor, FIDInceptionV3, load_fid_inception, preprocess_for_inception
from ganlib.metrics import inception as inc


def _random_published_weights(seed=0):
    """A state_dict of the published layout with random, well-scaled values (He init, BN near identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.device("meta"):  # shapes only
        state = FIDInceptionV3().state_dict()
    out = {}
    for key, v in state.items():
        if key.endswith("conv.weight"):
            fan_in = v[0].numel()
            out[key] = torch.randn(v.shape, generator=g) * math.sqrt(2.0 / fan_in)
        elif key.endswith("bn.weight"):
            out[key] = 1 + 0.1 * torch.randn(v.shape, generator=g)
        elif key.endswith("bn.bias") or key.endswith("running_mean"):
            out[key] = 0.1 * torch.randn(v.shape, generator=g)
        elif key.endswith("running_var"):
            out[key] = 0.5 + torch.rand(v.shape, generator=g)
        elif key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(0, dtype=torch.long)
        else:  # fc.weight, fc.bias
            out[key] = 0.05 * torch.randn(v.shape, generator=g)
    return out


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fid_weights") / inc.FID_WEIGHTS_FILENAME
    torch.save(_random_published_weights(), path)
    return path


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (1, 3, 299, 299), generator=g, dtype=torch.uint8)


def _pytorch_fid_model(weights_file, monkeypatch):
    from pytorch_fid import inception as pf

    monkeypatch.setattr(
        pf, "load_state_dict_from_url", lambda *a, **k: torch.load(weights_file, map_location="cpu", weights_only=True)
    )
    return pf.InceptionV3([pf.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()


def test_state_dict_keys_equal_pytorch_fid_and_torch_fidelity(weights_file, monkeypatch):
    ours = set(FIDInceptionV3().state_dict())
    from pytorch_fid import inception as pf

    monkeypatch.setattr(
        pf, "load_state_dict_from_url", lambda *a, **k: torch.load(weights_file, map_location="cpu", weights_only=True)
    )
    theirs = set(pf.fid_inception_v3().state_dict())  # loads strictly: the layout of the published file
    assert ours == theirs
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    tf = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights_file))
    assert ours == set(tf.state_dict())
    # torchvision's inception_v3 without the auxiliary head has 23,834,568 parameters; 8 more classes: +16,392
    assert sum(p.numel() for p in FIDInceptionV3().parameters()) == 23_850_960


@torch.no_grad()
def test_pool_features_equal_references(weights_file, images, monkeypatch):
    torch.manual_seed(0)
    ext = FIDInceptionExtractor(load_fid_inception(weights_file))
    # pytorch-fid: float images in [0, 1]; resize (a no-op at 299) and 2x - 1 inside
    x01 = images.float() / 255
    ref = _pytorch_fid_model(weights_file, monkeypatch)(x01)[0].flatten(1)
    ours = ext(2 * x01 - 1)
    assert ours.shape == (1, 2048) and ours.abs().max() > 0.1
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-5 * float(ref.abs().max()))
    # torch-fidelity and torchmetrics (built on it): uint8 images, normalised by (x - 128) / 128
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    tf = FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(weights_file)
    )
    ref_pool, ref_logits = tf(images)
    net = ext.network
    ours_pool = net.pool_features((images.float() - 128) / 128)
    assert torch.allclose(ours_pool, ref_pool, rtol=1e-4, atol=1e-5 * float(ref_pool.abs().max()))
    ours_logits = net.logits_from_pool(ours_pool)
    assert torch.allclose(ours_logits, ref_logits, rtol=1e-4, atol=1e-5 * float(ref_logits.abs().max()))
    from torchmetrics.image.fid import NoTrainInceptionV3

    tm = NoTrainInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights_file))
    tm_pool = tm(images)
    tm_pool = tm_pool[0] if isinstance(tm_pool, tuple) else tm_pool
    assert torch.allclose(ours_pool, tm_pool, rtol=1e-4, atol=1e-5 * float(tm_pool.abs().max()))


def test_preprocess_follows_pytorch_fid():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 16, 16, generator=g) * 2 - 1
    out = preprocess_for_inception(x)
    assert out.shape == (2, 3, 299, 299)
    want = (
        2
        * torch.nn.functional.interpolate(
            (x.repeat(1, 3, 1, 1) + 1) / 2, size=(299, 299), mode="bilinear", align_corners=False
        )
        - 1
    )
    assert torch.allclose(out, want, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        preprocess_for_inception(x * 200)
    with pytest.raises(ValueError, match="channels"):
        preprocess_for_inception(torch.zeros(1, 2, 8, 8))
    with pytest.raises(ValueError, match="uint8"):
        preprocess_for_inception(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


def test_checksum_is_verified(tmp_path):
    path = tmp_path / inc.FID_WEIGHTS_FILENAME
    torch.save(FIDInceptionV3().state_dict(), path)
    with pytest.raises(ValueError, match="sha256"):
        load_fid_inception(path, verify=True)
    with pytest.raises(FileNotFoundError, match="download"):
        load_fid_inception(cache_dir=tmp_path / "empty", download=False)
    assert inc.FID_WEIGHTS_URL.endswith(inc.FID_WEIGHTS_FILENAME)
    assert inc.FID_WEIGHTS_SHA256.startswith("6726825d") and len(inc.FID_WEIGHTS_SHA256) == 64


def test_download_goes_through_the_registry_with_checksum(tmp_path, monkeypatch):
    from ganlib.data import registry

    calls = []

    def fake_download(url, dest, sha256=None, **kwargs):
        calls.append((url, str(dest), sha256))
        raise ConnectionError("offline test")

    monkeypatch.setattr(registry, "download_url", fake_download)
    with pytest.raises(ConnectionError):
        load_fid_inception(cache_dir=tmp_path)
    assert calls == [(inc.FID_WEIGHTS_URL, str(tmp_path / inc.FID_WEIGHTS_FILENAME), inc.FID_WEIGHTS_SHA256)]
