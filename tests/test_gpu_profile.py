"""The `gpu` profiles, smoke-tested on the CPU: each chapter's own gpu config (full architectures,
the real data set's layout and image size) at 2 steps, data from a loopback mirror of the real
archive (a handful of images): download, extract, stream, train, checkpoint, resume, measure.

Run alone with `pytest -m gpu_profile`; part of `make test`. Each chapter runs in a subprocess of
its own, so its peak memory is its own; the bound does not depend on the number of images
(they are streamed from disk; tests/test_streaming.py checks the streaming itself).

The torchvision sets (MNIST, CIFAR-10) are served in their own archive formats (MNIST's idx
files gzipped, CIFAR-10's python tarball) and fetched by torchvision's own download code; the
mirror publishes the MD5 and SHA-256 sums of what it serves (``checksums.json``) and the smoke
run verifies against those, as torchvision and ganlib verify real downloads against the real
sums. Chapter 0's gpu profile downloads nothing (the ring is procedural, the digits ship with
scikit-learn). Chapter 7's Inception weights come from the mirror too: a file of the published
architecture with random weights, so the FID, IS and KID it prints are not comparable with
published ones; the path (download, sha256 check, strict load, 299 px features) is the real one."""

import functools
import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

# chapter -> (archive in the real layout, image width x height, folders, peak-memory bound in MB)
CHAPTERS = {
    "03_pix2pix": ("facades.tar.gz", (512, 256), ("train", "val", "test"), 3000),
    "04_cyclegan": ("horse2zebra.zip", (256, 256), ("trainA", "trainB", "testA", "testB"), 6000),
    "05_bicyclegan": ("edges2shoes.tar.gz", (512, 256), ("train", "val"), 3000),
}
# chapter -> (what the mirror serves: None, "mnist", "cifar10", "mnist+inception"; peak-memory bound in MB)
LABELLED = {
    "00_introduction": (None, 1500),
    "01_cgan": ("mnist", 1500),
    "02_acgan": ("mnist", 1500),
    "06_sagan_biggan": ("cifar10", 2500),
    "07_fid_is": ("mnist+inception", 3000),
}


def _archive(name, size, folders, n):
    """An archive of the real layout: ``<set>/<folder>/<k>.jpg``, ``n`` random images per folder."""
    stem = name.split(".")[0]
    rng = np.random.default_rng(0)
    files = {}
    for folder in folders:
        for k in range(n):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, "JPEG")
            files[f"{stem}/{folder}/{k + 1}.jpg"] = buf.getvalue()
    out = io.BytesIO()
    if name.endswith(".zip"):
        with zipfile.ZipFile(out, "w") as z:
            for path, data in files.items():
                z.writestr(path, data)
    else:
        with tarfile.open(fileobj=out, mode="w:gz") as t:
            for path, data in files.items():
                info = tarfile.TarInfo(path)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _mnist(n):
    """MNIST as its mirrors serve it: four gzipped idx files, ``n`` training and ``n // 2`` test images."""
    rng = np.random.default_rng(0)

    def idx(magic, array):
        return gzip.compress(
            struct.pack(">i", magic) + b"".join(struct.pack(">i", d) for d in array.shape) + array.tobytes()
        )

    files = {}
    for prefix, k in (("train", n), ("t10k", max(n // 2, 20))):
        files[f"{prefix}-images-idx3-ubyte.gz"] = idx(2051, rng.integers(0, 256, (k, 28, 28), dtype=np.uint8))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = idx(2049, (np.arange(k) % 10).astype(np.uint8))
    return files


def _cifar10(n):
    """CIFAR-10's python tarball: ``cifar-10-batches-py/`` with five pickled training batches (``n``
    images in all), a test batch and ``batches.meta``."""
    rng = np.random.default_rng(0)

    def batch(k, name):
        return pickle.dumps(
            {
                "batch_label": name,
                "labels": [i % 10 for i in range(k)],
                "data": rng.integers(0, 256, (k, 3072), dtype=np.uint8),
                "filenames": [f"{name}_{i}.png" for i in range(k)],
            }
        )

    members = {f"data_batch_{b}": batch(max(n // 5, 2), f"training batch {b} of 5") for b in range(1, 6)}
    members["test_batch"] = batch(20, "testing batch 1 of 1")
    members["batches.meta"] = pickle.dumps(
        {
            "label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
            "num_cases_per_batch": max(n // 5, 2),
            "num_vis": 3072,
        }
    )
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    # the member files' sums too: torchvision checks each extracted batch file against its own MD5
    return {"cifar-10-python.tar.gz": out.getvalue()}, {f"cifar-10-batches-py/{k}": v for k, v in members.items()}


def _inception_weights():
    """A weights file of the FID Inception's architecture (random weights, so the sums differ from the
    published file's), under the published file's name."""
    import torch

    from ganlib.metrics.inception import FID_WEIGHTS_FILENAME, FIDInceptionV3

    torch.manual_seed(0)
    net = FIDInceptionV3()
    for m in net.modules():  # He init keeps the activations alive through the 94 layers, so the features vary
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    return {FID_WEIGHTS_FILENAME: buf.getvalue()}


def _serve_labelled(served, what, n):
    """Write the mirror's files for ``what`` and its ``checksums.json`` (MD5 and SHA-256 of each)."""
    files, members = {}, {}
    if what in ("mnist", "mnist+inception"):
        files.update(_mnist(n))
    if what == "cifar10":
        archive, members = _cifar10(n)
        files.update(archive)
    if what == "mnist+inception":
        files.update(_inception_weights())
    for name, data in files.items():
        (served / name).write_bytes(data)
    sums = {
        name: {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in {**files, **members}.items()
    }
    (served / "checksums.json").write_text(json.dumps(sums))


@pytest.fixture
def mirror(tmp_path):
    served = tmp_path / "mirror"
    served.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _smoke(chapter, mirror, tmp_path, n):
    served, url = mirror
    if chapter in CHAPTERS:
        name, size, folders, _ = CHAPTERS[chapter]
        (served / name).write_bytes(_archive(name, size, folders, n))
    else:
        _serve_labelled(served, LABELLED[chapter][0], n)
    work = tmp_path / f"run-{n}"  # the run's working folder: its data/, its caches and checkpoints
    root = work / "data"
    work.mkdir()
    env = {
        **os.environ,
        "GANLIB_PROFILE": "gpu",
        "GANLIB_CACHE": str(work / "cache"),
        "GANLIB_CHECKPOINTS": str(work / "checkpoints"),
    }  # never the reader's cache (judges trained on noise)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "gpu_smoke.py"), chapter, url, str(root)],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    assert proc.returncode == 0, f"{chapter}: the gpu smoke run failed:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.gpu_profile
@pytest.mark.parametrize("chapter", sorted(CHAPTERS) + sorted(LABELLED))
def test_gpu_profile_runs_end_to_end_on_cpu(chapter, mirror, tmp_path):
    n = 4 if chapter in CHAPTERS else 64  # the labelled sets: one gpu batch of training images (64 in chapters 1, 2, 7)
    result = _smoke(chapter, mirror, tmp_path, n=n)
    print(f"{chapter}: {json.dumps(result)}")
    assert result["steps"] == 3 and all(np.isfinite(v) for v in result["measure"].values())
    # a fixed bound: pix2pix-style images are streamed, never all in memory; the torchvision sets are
    # held in memory by their loaders (MNIST at 32 px: 0.3 GB, CIFAR-10: 0.7 GB as float32), which a
    # GPU machine's RAM holds, and the bound here is for the handful of mirror images
    bound = CHAPTERS[chapter][3] if chapter in CHAPTERS else LABELLED[chapter][1]
    assert result["peak_memory_mb"] < bound, f"{chapter}: peak memory {result['peak_memory_mb']:.0f} MB >= {bound} MB"
