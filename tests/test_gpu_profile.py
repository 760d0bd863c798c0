"""The `gpu` profiles, smoke-tested on the CPU: each chapter's own gpu config (full architectures,
the real data set's layout and image size) at 2 steps, data from a loopback mirror of the real
archive (a handful of images): download, extract, stream, train, checkpoint, resume, measure.

Run alone with `pytest -m gpu_profile`; part of `make test`. Each chapter runs in a subprocess of
its own, so its peak memory is its own; the bound does not depend on the number of images
(they are streamed from disk; tests/test_streaming.py checks the streaming itself)."""
import functools
import io
import json
import os
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
    name, size, folders, _ = CHAPTERS[chapter]
    (served / name).write_bytes(_archive(name, size, folders, n))
    root = tmp_path / f"data-{n}"
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "gpu_smoke.py"), chapter, url, str(root)],
                          capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "GANLIB_PROFILE": "gpu"})
    assert proc.returncode == 0, f"{chapter}: the gpu smoke run failed:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.gpu_profile
@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_gpu_profile_runs_end_to_end_on_cpu(chapter, mirror, tmp_path):
    result = _smoke(chapter, mirror, tmp_path, n=4)
    print(f"{chapter}: {json.dumps(result)}")
    assert result["steps"] == 3 and all(np.isfinite(v) for v in result["measure"].values())
    bound = CHAPTERS[chapter][3]  # a fixed bound: the images are streamed, never all in memory
    assert result["peak_memory_mb"] < bound, f"{chapter}: peak memory {result['peak_memory_mb']:.0f} MB >= {bound} MB"
