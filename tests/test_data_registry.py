"""The data registry: downloads from a loopback HTTP server (127.0.0.1 only, never the internet),
resume, checksums (given and trust-on-first-use), safe extraction, layouts and loaders."""

import hashlib
import io
import json
import struct
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch
from PIL import Image

from ganlib.data import registry
from ganlib.data.registry import (
    DATASETS,
    ChecksumError,
    DatasetSpec,
    DownloadError,
    LayoutError,
    UnsafeArchiveError,
    download,
    download_url,
    extract,
    load_labelled,
    load_paired,
    load_unpaired,
)


# ----------------------------------------------------------------------------- a loopback server
class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        srv = self.server
        srv.log.append((self.path, self.headers.get("Range")))
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and srv.range_ok:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_error(416)
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        payload = body[start:]
        if srv.breaks > 0:  # send part of the body, then drop the connection
            srv.breaks -= 1
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.log, srv.range_ok, srv.breaks = {}, [], True, 0
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


# ----------------------------------------------------------------------------- tiny archives
def _png(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _jpg(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _ab_image(i: int, h: int = 8, w: int = 8) -> np.ndarray:
    """A | B side by side: A is the colour (10 i, 20, 30), B is (200, 100, 50 + i)."""
    img = np.zeros((h, 2 * w, 3), dtype=np.uint8)
    img[:, :w] = (10 * i, 20, 30)
    img[:, w:] = (200, 100, 50 + i)
    return img


def _tar_gz(members: dict, extra=None) -> bytes:
    """members: name -> bytes (a file) or None (a folder); extra(tar) may add special members."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra(tar)
    return buf.getvalue()


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def pix2pix_archive(name="toyfacades") -> bytes:
    """The pix2pix layout: name/train (3 pairs), name/val (2 pairs), side-by-side AB pngs."""
    members = {f"{name}/": None, f"{name}/train/": None, f"{name}/val/": None}
    for i in range(3):
        members[f"{name}/train/{i + 1}.png"] = _png(_ab_image(i))
    for i in range(2):
        members[f"{name}/val/{i + 1}.png"] = _png(_ab_image(10 + i))
    return _tar_gz(members)


def cyclegan_archive(name="maps") -> bytes:
    """The CycleGAN layout: name/trainA (3), trainB (2), testA (1), testB (1), plus macOS litter."""
    members = {}
    for i in range(3):
        members[f"{name}/trainA/{i}_A.png"] = _png(np.full((6, 6, 3), 40 * i, np.uint8))
    for i in range(2):
        members[f"{name}/trainB/{i}_B.png"] = _png(np.full((6, 6, 3), 255 - 40 * i, np.uint8))
    members[f"{name}/testA/t_A.jpg"] = _jpg(np.full((6, 6, 3), 128, np.uint8))
    members[f"{name}/testB/t_B.jpg"] = _jpg(np.full((6, 6, 3), 64, np.uint8))
    members[f"__MACOSX/{name}/._junk"] = b"junk"
    return _zip(members)


def _spec(server, name, payload, archive, layout, sha256=None, path=None):
    path = path or f"/{name}.{archive}"
    server.files[path] = payload
    return DatasetSpec(name, server.url + path, sha256, archive, layout, "test data set")


def _gets(server):
    return [p for p, _ in server.log]


# ----------------------------------------------------------------------------- the registry
def test_registry_has_the_official_locations():
    assert DATASETS["facades"].url == "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"
    assert DATASETS["horse2zebra"].url == "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip"
    assert DATASETS["cyclegan_maps"].url.endswith("/cyclegan/datasets/maps.zip")
    assert DATASETS["cyclegan_facades"].url.endswith("/cyclegan/datasets/facades.zip")
    paired = {"facades", "maps", "cityscapes", "edges2shoes", "edges2handbags", "night2day"}
    unpaired = {
        "horse2zebra",
        "apple2orange",
        "summer2winter_yosemite",
        "monet2photo",
        "cezanne2photo",
        "ukiyoe2photo",
        "vangogh2photo",
        "iphone2dslr_flower",
        "cyclegan_maps",
        "cyclegan_facades",
    }
    assert set(registry.names("paired")) == paired
    assert set(registry.names("unpaired")) == unpaired
    assert set(registry.names("torchvision")) == {"mnist", "fashion_mnist", "cifar10"}
    assert all(DATASETS[n].archive == "tar.gz" for n in paired)
    assert all(DATASETS[n].archive == "zip" for n in unpaired)
    with pytest.raises(AttributeError):
        DATASETS["facades"].url = "http://elsewhere"  # frozen


def test_unknown_name_lists_known_names_and_suggests():
    with pytest.raises(ValueError, match=r"unknown data set 'horse2zebr'.*Did you mean 'horse2zebra'.*facades"):
        download("horse2zebr")
    with pytest.raises(ValueError, match="unknown data set 'nope'"):
        load_paired("nope")
    with pytest.raises(ValueError, match="load_unpaired"):
        load_paired("horse2zebra")  # a CycleGAN set: no download attempted, a pointer to the right loader
    with pytest.raises(ValueError, match="without class labels"):
        load_labelled("facades")


# ----------------------------------------------------------------------------- download + load
def test_paired_download_extract_and_load(server, tmp_path):
    spec = _spec(server, "toyfacades", pix2pix_archive(), "tar.gz", "paired")
    folder = download(spec, root=tmp_path, progress=False)
    assert folder == tmp_path / "toyfacades"
    assert sorted(p.name for p in folder.iterdir()) == ["train", "val"]
    assert not (tmp_path / "downloads" / "toyfacades.tar.gz").exists()  # archive removed after extraction
    assert not list(tmp_path.glob(".toyfacades.partial-*"))
    # trust on first use: the archive's checksum is recorded
    record = json.loads((tmp_path / "checksums.json").read_text())
    assert record == {spec.url: hashlib.sha256(server.files["/toyfacades.tar.gz"]).hexdigest()}

    A, B = load_paired(spec, split="train", root=tmp_path)
    assert A.shape == B.shape == (3, 3, 8, 8) and A.dtype == torch.float32
    expected_A = torch.tensor([[10 * i, 20, 30] for i in range(3)], dtype=torch.float32) / 127.5 - 1
    expected_B = torch.tensor([[200, 100, 50 + i] for i in range(3)], dtype=torch.float32) / 127.5 - 1
    assert torch.allclose(A[:, :, 0, 0], expected_A) and torch.allclose(B[:, :, 7, 7], expected_B)
    assert torch.allclose(A, A[:, :, :1, :1].expand_as(A))  # the left half only: no B pixel in A
    inputs, targets = load_paired(folder, split="train", direction="BtoA")  # a folder path works too
    assert torch.equal(inputs, B) and torch.equal(targets, A)
    A_val, _ = load_paired(spec, split="val", size=4, limit=1, root=tmp_path)
    assert A_val.shape == (1, 3, 4, 4)
    assert torch.allclose(A_val[0, :, 0, 0], torch.tensor([100.0, 20, 30]) / 127.5 - 1)
    assert len(server.log) == 1  # loads after the first found the folder: no network
    with pytest.raises(LayoutError, match=r"no split 'test'.*\['train', 'val'\]"):
        load_paired(spec, split="test", root=tmp_path)


def test_unpaired_zip_by_registered_name(server, tmp_path, monkeypatch):
    spec = _spec(server, "toy_maps", cyclegan_archive("maps"), "zip", "unpaired", path="/maps.zip")
    monkeypatch.setitem(DATASETS, "toy_maps", spec)
    X, Y = load_unpaired("toy_maps", split="train", root=tmp_path, progress=False)
    assert (tmp_path / "toy_maps" / "trainA").is_dir()  # maps/ renamed to the registered name
    assert not (tmp_path / "maps").exists() and not (tmp_path / "__MACOSX").exists()
    assert X.shape == (3, 3, 6, 6) and Y.shape == (2, 3, 6, 6)
    assert torch.allclose(X[:, 0, 0, 0], torch.tensor([0.0, 40, 80]) / 127.5 - 1)
    assert torch.allclose(Y[:, 0, 0, 0], torch.tensor([255.0, 215]) / 127.5 - 1)
    Xt, Yt = load_unpaired("toy_maps", split="test", size=(4, 5), limit=1, root=tmp_path)
    assert Xt.shape == Yt.shape == (1, 3, 4, 5)
    assert abs(Xt.mean().item() - (128 / 127.5 - 1)) < 0.02  # jpg: close, not exact
    assert Xt.min() >= -1 and Xt.max() <= 1
    assert download("toy_maps", root=tmp_path) == tmp_path / "toy_maps" and len(server.log) == 1


# ----------------------------------------------------------------------------- resume
def test_broken_transfer_resumes_with_range(server, tmp_path):
    payload = bytes(range(256)) * 200
    server.files["/w.pth"] = payload
    server.breaks = 1
    path = download_url(
        server.url + "/w.pth", tmp_path / "w.pth", hashlib.sha256(payload).hexdigest(), progress=True
    )  # the tqdm bar (on stderr) must not get in the way
    assert path.read_bytes() == payload and not (tmp_path / "w.pth.part").exists()
    assert server.log == [("/w.pth", None), ("/w.pth", f"bytes={len(payload) // 2}-")]


def test_broken_transfer_resumes_on_the_next_call(server, tmp_path):
    payload = b"0123456789" * 1000
    server.files["/w.pth"] = payload
    server.breaks = 1
    with pytest.raises(DownloadError, match=r"broke after.*kept in .*w\.pth\.part.*resumes"):
        download_url(server.url + "/w.pth", tmp_path / "w.pth", progress=False, retries=0)
    assert (tmp_path / "w.pth.part").stat().st_size == len(payload) // 2 and not (tmp_path / "w.pth").exists()
    download_url(server.url + "/w.pth", tmp_path / "w.pth", progress=False, retries=0)
    assert (tmp_path / "w.pth").read_bytes() == payload
    assert server.log[-1] == ("/w.pth", f"bytes={len(payload) // 2}-")


def test_server_without_range_support_restarts_cleanly(server, tmp_path):
    payload = b"abcdefgh" * 500
    server.files["/w.pth"] = payload
    server.range_ok = False
    (tmp_path / "w.pth.part").write_bytes(b"stale bytes from an older attempt")
    download_url(server.url + "/w.pth", tmp_path / "w.pth", hashlib.sha256(payload).hexdigest(), progress=False)
    assert (tmp_path / "w.pth").read_bytes() == payload


def test_complete_part_file_is_fetched_again_after_416(server, tmp_path):
    payload = b"xyz" * 100
    server.files["/w.pth"] = payload
    (tmp_path / "w.pth.part").write_bytes(payload)  # e.g. killed between the last byte and the rename
    download_url(server.url + "/w.pth", tmp_path / "w.pth", progress=False)
    assert (tmp_path / "w.pth").read_bytes() == payload
    assert server.log == [("/w.pth", f"bytes={len(payload)}-"), ("/w.pth", None)]


def test_http_error_is_clear(server, tmp_path):
    with pytest.raises(DownloadError, match=r"HTTP error 404.*missing\.zip"):
        download_url(server.url + "/missing.zip", tmp_path / "m.zip", progress=False)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- checksums
def test_checksum_mismatch_leaves_nothing_behind(server, tmp_path):
    wrong = "0" * 64
    actual = hashlib.sha256(pix2pix_archive()).hexdigest()
    spec = _spec(server, "toyfacades", pix2pix_archive(), "tar.gz", "paired", sha256=wrong)
    with pytest.raises(ChecksumError, match=f"expected SHA-256 {wrong}.*got {actual}"):
        download(spec, root=tmp_path, progress=False)
    assert not (tmp_path / "toyfacades").exists()
    assert list((tmp_path / "downloads").iterdir()) == []  # no .part, no archive
    assert not list(tmp_path.glob(".toyfacades.partial-*")) and not (tmp_path / "checksums.json").exists()


def test_trust_on_first_use_then_verify(server, tmp_path):
    url = server.url + "/w.pth"
    server.files["/w.pth"] = b"first version"
    download_url(url, tmp_path / "w.pth", progress=False)
    record = json.loads((tmp_path / "checksums.json").read_text())
    assert record == {url: hashlib.sha256(b"first version").hexdigest()}
    download_url(url, tmp_path / "w.pth", progress=False)  # present and matching: no network
    assert len(server.log) == 1
    (tmp_path / "w.pth").unlink()
    server.files["/w.pth"] = b"tampered version"
    with pytest.raises(ChecksumError, match=r"recorded in .*checksums\.json on first download"):
        download_url(url, tmp_path / "w.pth", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checksums.json"]
    (tmp_path / "w.pth").write_bytes(b"edited locally")  # a changed file on disk is caught too
    with pytest.raises(ChecksumError, match=r"exists but its SHA-256"):
        download_url(url, tmp_path / "w.pth", progress=False)


# ----------------------------------------------------------------------------- extraction safety
def _add_link(kind, name, target):
    def add(tar):
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = target
        tar.addfile(info)

    return add


def _add_device(tar):
    info = tarfile.TarInfo("ok/dev")
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    tar.addfile(info)


UNSAFE_TARS = {
    "dotdot": (lambda: _tar_gz({"ok/a.txt": b"a", "ok/../../evil.txt": b"x"}), "'..'"),
    "absolute": (lambda: _tar_gz({"/tmp/ganlib_evil.txt": b"x"}), "absolute path"),
    "symlink": (
        lambda: _tar_gz({"ok/a.txt": b"a"}, _add_link(tarfile.SYMTYPE, "ok/link", "../../outside")),
        "symlink .* outside",
    ),
    "abs_symlink": (lambda: _tar_gz({}, _add_link(tarfile.SYMTYPE, "ok/link", "/etc/passwd")), "symlink .* outside"),
    "hardlink": (lambda: _tar_gz({}, _add_link(tarfile.LNKTYPE, "ok/hard", "../outside.txt")), "hard link .* outside"),
    "device": (lambda: _tar_gz({"ok/a.txt": b"a"}, _add_device), "device"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE_TARS))
def test_unsafe_tar_is_refused(tmp_path, case):
    make, message = UNSAFE_TARS[case]
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(make())
    with pytest.raises(UnsafeArchiveError, match=message):
        extract(archive, tmp_path / "out" / "target")
    assert list((tmp_path / "out").iterdir()) == []  # no target, no temporary folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar.gz", "out"]


@pytest.mark.parametrize(
    "member, message", [("../evil.txt", "'..'"), ("/abs/evil.txt", "absolute path"), ("ok\\..\\..\\evil.txt", "'..'")]
)
def test_unsafe_zip_is_refused(tmp_path, member, message):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(_zip({"ok/a.txt": b"a", member: b"x"}))
    with pytest.raises(UnsafeArchiveError, match=message):
        extract(archive, tmp_path / "out" / "target")
    assert list((tmp_path / "out").iterdir()) == []


def test_extract_keeps_inside_links_and_is_atomic(tmp_path):
    archive = tmp_path / "good.tar.gz"
    archive.write_bytes(_tar_gz({"d/a.txt": b"hello"}, _add_link(tarfile.SYMTYPE, "d/link", "a.txt")))
    target = extract(archive, tmp_path / "t")
    assert (target / "d" / "link").read_bytes() == b"hello"
    with pytest.raises(FileExistsError):
        extract(archive, target)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(archive.read_bytes()[:30])
    with pytest.raises(ValueError, match="not a valid tar archive"):
        extract(broken, tmp_path / "t2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.tar.gz", "good.tar.gz", "t"]


def test_unsafe_archive_through_download_leaves_no_dataset(server, tmp_path):
    spec = _spec(server, "evil", _tar_gz({"evil/train/../../../x.png": b"x"}), "tar.gz", "paired")
    with pytest.raises(UnsafeArchiveError):
        download(spec, root=tmp_path, progress=False)
    assert not (tmp_path / "evil").exists() and not list(tmp_path.glob(".evil.partial-*"))


# ----------------------------------------------------------------------------- layouts
def test_archive_in_the_wrong_layout(server, tmp_path):
    spec = _spec(server, "odd", _zip({"odd/images/1.png": _png(np.zeros((4, 4, 3)))}), "zip", "unpaired")
    with pytest.raises(LayoutError, match=r"trainA/.*trainB/.*holds: odd/"):
        download(spec, root=tmp_path, progress=False)
    assert not (tmp_path / "odd").exists() and not list(tmp_path.glob(".odd.partial-*"))


def test_folder_in_the_wrong_layout(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(_png(np.zeros((4, 8, 3))))
    with pytest.raises(LayoutError, match=r"expected .*photos/train/.*found: .*holds: a\.png"):
        load_paired(tmp_path / "photos")
    with pytest.raises(LayoutError, match=r"photos/trainA/.*found: .*a\.png"):
        load_unpaired(tmp_path / "photos")
    with pytest.raises(LayoutError, match=r"holds images directly: move them into photos/train/"):
        load_paired(tmp_path / "photos")
    (tmp_path / "outer" / "inner" / "val").mkdir(parents=True)
    with pytest.raises(LayoutError, match=r"Did you mean the folder .*outer/inner\?"):
        load_paired(tmp_path / "outer")
    paired = tmp_path / "pairs"
    (paired / "train").mkdir(parents=True)
    with pytest.raises(LayoutError, match="use load_paired"):
        load_unpaired(paired)
    with pytest.raises(LayoutError, match=r"pairs/train holds no images.*is empty"):
        load_paired(paired)
    cycle = tmp_path / "cycle"
    for d in ("trainA", "trainB"):
        (cycle / d).mkdir(parents=True)
    (cycle / "trainA" / "x.png").write_bytes(_png(np.zeros((4, 4, 3))))
    (cycle / "trainB" / "notes.txt").write_text("no images here")
    with pytest.raises(LayoutError, match=r"domain folder .*trainB holds no images.*notes\.txt"):
        load_unpaired(cycle)
    with pytest.raises(LayoutError, match=r"no folder testA/.*\['trainA', 'trainB'\]"):
        load_unpaired(cycle, split="test")
    with pytest.raises(LayoutError, match="use load_unpaired"):
        load_paired(cycle)
    with pytest.raises(FileNotFoundError, match="no data set folder"):
        load_paired(tmp_path / "nowhere")


def test_existing_folder_in_the_wrong_layout_is_not_overwritten(tmp_path, monkeypatch):
    spec = DatasetSpec("toy", "http://127.0.0.1:9/toy.zip", None, "zip", "unpaired")
    monkeypatch.setitem(DATASETS, "toy", spec)
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "stuff.txt").write_text("x")
    with pytest.raises(LayoutError, match=r"exists but is not in the unpaired layout.*stuff\.txt.*Delete"):
        download("toy", root=tmp_path)


def test_mixed_sizes_need_size(tmp_path):
    (tmp_path / "s" / "train").mkdir(parents=True)
    (tmp_path / "s" / "train" / "1.png").write_bytes(_png(np.zeros((4, 8, 3))))
    (tmp_path / "s" / "train" / "2.png").write_bytes(_png(np.zeros((6, 12, 3))))
    with pytest.raises(ValueError, match="different sizes.*pass size="):
        load_paired(tmp_path / "s")
    A, B = load_paired(tmp_path / "s", size=5)
    assert A.shape == B.shape == (2, 3, 5, 5)
    with pytest.raises(ValueError, match="direction"):
        load_paired(tmp_path / "s", direction="AB")


# ----------------------------------------------------------------------------- labelled sets
def _idx(magic: int, array: np.ndarray) -> bytes:
    return struct.pack(">i", magic) + b"".join(struct.pack(">i", d) for d in array.shape) + array.tobytes()


def test_load_labelled_mnist_from_files_in_place(tmp_path):
    """torchvision's MNIST files already in place: no download, converted to [-1, 1] and resized."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 5), ("t10k", 3)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = (0, 255, 51, 0, 0)[:n]
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(2051, images))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(2049, np.arange(n, dtype=np.uint8)))
    x, y = load_labelled("mnist", train=True, root=tmp_path)
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32 and y.tolist() == [0, 1, 2, 3, 4]
    assert x[:3, 0, 0, 0].tolist() == pytest.approx([-1.0, 1.0, 51 / 127.5 - 1])
    x, y = load_labelled("mnist", train=False, size=32, root=tmp_path)
    assert x.shape == (3, 1, 32, 32) and y.tolist() == [0, 1, 2] and x.min() >= -1 and x.max() <= 1


def test_load_labelled_digits():
    x, y = load_labelled("digits", train=True, size=16)
    assert x.shape == (1438, 1, 16, 16) and y.shape == (1438,)
    x, _ = load_labelled("digits", train=False)
    assert x.shape == (359, 1, 8, 8)
    x, _ = load_labelled("digits", train=False, size=28)  # other sizes: resized from 32 px
    assert x.shape == (359, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    with pytest.raises(ValueError, match="size must be"):
        load_labelled("digits", size=0)


def test_torchvision_download_failure_is_clear(server, tmp_path, monkeypatch):
    """MNIST's mirrors pointed at the loopback server, which has no files: a clear error, no internet."""
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.MNIST, "mirrors", [server.url + "/mnist/"])
    with pytest.raises(DownloadError, match=r"torchvision could not download or read 'mnist'"):
        load_labelled("mnist", root=tmp_path)
    assert server.log and all(p.startswith("/mnist/") for p in _gets(server))
