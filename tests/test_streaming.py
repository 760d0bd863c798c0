"""Streaming real data sets from disk: the official jitter, resumable and worker-independent order."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganlib.data.streaming import PairedImages, StreamingBatches, UnpairedImages


def _paired_folder(root, n=6, size=40):
    split = root / "train"
    split.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        half = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        # B is A with the colour channels reversed: a crop or flip that differs between A and B shows
        Image.fromarray(np.concatenate([half, half[..., ::-1]], axis=1)).save(split / f"{i}.png")
    return root


def _unpaired_folder(root, n_a=3, n_b=5, size=20):
    for domain, n in (("A", n_a), ("B", n_b)):
        d = root / f"train{domain}"
        d.mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((size, size, 3), 10 * i + (0 if domain == "A" else 128), np.uint8)).save(
                d / f"{i}.png"
            )
    return root


def test_paired_jitter_crops_and_flips_a_and_b_alike(tmp_path):
    ds = PairedImages(_paired_folder(tmp_path), size=32, jitter=True, seed=3)
    assert ds.load_size == 32 * 286 // 256
    for index in range(len(ds)):
        a, b = ds[(0, index)]
        assert a.shape == b.shape == (3, 32, 32) and a.min() >= -1 and a.max() <= 1
        assert torch.equal(a, b.flip(0)), "A and B of one pair get the same crop and flip"
    assert any(not torch.equal(ds[(0, i)][0], ds[(1, i)][0]) for i in range(len(ds))), "new draws each epoch"
    plain = PairedImages(tmp_path, size=32, direction="BtoA")
    x, y = plain[(0, 0)]
    assert torch.equal(y, x.flip(0))


def test_unpaired_epoch_is_the_larger_domain_and_b_is_random(tmp_path):
    ds = UnpairedImages(_unpaired_folder(tmp_path), size=16)
    assert len(ds) == 5
    xs = [round(ds[(0, i)][0][0, 0, 0].item(), 4) for i in range(5)]
    assert xs == [round(10 * (i % 3) / 127.5 - 1, 4) for i in range(5)], "A in order, wrapping around |A| = 3"
    ys = {round(ds[(e, i)][1][0, 0, 0].item(), 3) for e in range(4) for i in range(5)}
    assert len(ys) > 2, "B is drawn at random"


@pytest.mark.parametrize("workers", [0, 2])
def test_resuming_gives_the_batches_of_an_uninterrupted_run(tmp_path, workers):
    ds = PairedImages(_paired_folder(tmp_path), size=16, jitter=True)
    straight = StreamingBatches(ds, batch_size=2, seed=1, workers=0)
    expected = [next(straight) for _ in range(7)]  # 3 batches per epoch: crosses two epochs
    first = StreamingBatches(ds, batch_size=2, seed=1, workers=workers)
    got = [next(first) for _ in range(4)]
    state = first.state_dict()
    resumed = StreamingBatches(ds, batch_size=2, seed=1, workers=workers)
    resumed.load_state_dict(state)
    got += [next(resumed) for _ in range(3)]
    assert all(torch.equal(u, v) for g, e in zip(got, expected) for u, v in zip(g, e))
    with pytest.raises(ValueError, match="seeded 1"):
        StreamingBatches(ds, batch_size=2, seed=2).load_state_dict(state)


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="between 1 and"):
        StreamingBatches(PairedImages(_paired_folder(tmp_path / "p"), size=8), batch_size=99)
    with pytest.raises(FileNotFoundError, match="split 'val'"):
        PairedImages(tmp_path / "p", split="val")
    bad = tmp_path / "p" / "train" / "0.png"
    bad.write_bytes(bad.read_bytes()[:50])
    with pytest.raises(OSError, match="0.png: cannot read"):
        PairedImages(tmp_path / "p", size=8)[(0, 0)]
