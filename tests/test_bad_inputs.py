"""Bad inputs, fed on purpose: each test gives the library a broken or hostile input and checks the
error says what is wrong and what to do, and that nothing already on disk is lost.

Archives (symlink chains, zip bombs, lying headers), downloads (truncated without a length, an HTML
page instead of an archive, a wrong pin), checkpoints (truncated, empty, stale temporaries, resuming
after a NaN loss with a lower learning rate) and images (16-bit, truncated, grey, RGBA, palette).
The HTTP server listens on 127.0.0.1 only; nothing here touches the internet."""

import io
import itertools
import shutil
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from ganlib.train import (
    RESUMABLE_FIELDS,
    CheckpointError,
    NonFiniteLoss,
    fit,
    load_checkpoint,
    previous_checkpoint,
    save_checkpoint,
)


# ============================================================================ checkpoints
@dataclass
class QuadraticConfig:
    lr: float = 1.5
    steps: int = 200


def _quadratic(cfg: QuadraticConfig):
    """Minimise w^2 with SGD: w <- (1 - 2 lr) w. lr = 1.5 doubles |w| each step (the loss reaches
    inf at step 65); lr = 0.25 halves it. A divergence that a lower learning rate cures."""
    w = nn.Parameter(torch.ones(1))
    holder = nn.Module()
    holder.w = w
    opt = torch.optim.SGD([w], lr=cfg.lr)

    def step(_):
        loss = (w**2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss}

    return holder, opt, step


def _fit(cfg, path, steps=None, **kwargs):
    model, opt, step = _quadratic(cfg)
    fit(
        step,
        itertools.repeat(None),
        cfg.steps if steps is None else steps,
        modules={"w": model},
        optimizers={"opt": opt},
        checkpoint=path,
        checkpoint_every=10,
        config=cfg,
        progress=False,
        **kwargs,
    )
    return model, opt


def test_nan_advice_is_followable_resume_with_a_lower_learning_rate(tmp_path, capsys):
    path = tmp_path / "run.pt"
    with pytest.raises(NonFiniteLoss) as caught:
        _fit(QuadraticConfig(lr=1.5), path)
    message = str(caught.value)
    print("NaN MESSAGE:", message)
    assert "step 65: loss 'loss' is inf" in message
    assert f"The checkpoint {path} (step 60) was written before it" in message
    assert "lower rate in the config (lr; learning-rate fields may change on resume)" in message
    assert torch.load(path, weights_only=True)["step"] == 60
    capsys.readouterr()

    # the advice, followed: rebuild with a lower rate, call fit again with the same checkpoint
    model, opt = _fit(QuadraticConfig(lr=0.25), path)
    printed = capsys.readouterr().out
    print("RESUME MESSAGE:", printed)
    assert f"resuming {path} at step 60 with a changed learning rate: lr 1.5 -> 0.25" in printed
    assert "the fields that may change on resume: " + ", ".join(sorted(RESUMABLE_FIELDS)) in printed
    assert opt.param_groups[0]["lr"] == 0.25  # the new rate, not the checkpoint's
    assert torch.load(path, weights_only=True)["step"] == 200
    w = model.w.detach().abs().item()
    assert w == pytest.approx((2.0**60) * 0.5**140, rel=1e-5)  # 60 steps of x2, then 140 of x0.5

    # any other change is still refused
    @dataclass
    class Wider(QuadraticConfig):
        width: int = 2

    with pytest.raises(ValueError, match="another config"):
        _fit(Wider(lr=0.25), path)


def test_nan_without_checkpoint_gives_advice_that_needs_none(tmp_path):
    model, opt, step = _quadratic(QuadraticConfig())
    with pytest.raises(
        NonFiniteLoss,
        match=r"Lower the learning rate in the config \(lr.*pass checkpoint=\.\.\. "
        "to fit to be able to resume",
    ):
        fit(
            step,
            itertools.repeat(None),
            100,
            modules={"w": model},
            optimizers={"opt": opt},
            config=QuadraticConfig(),
            progress=False,
        )


def test_changed_learning_rate_keeps_the_schedule_shape(tmp_path):
    @dataclass
    class Cfg:
        lr: float = 1.0

    def build(lr):
        w = nn.Linear(1, 1)
        opt = torch.optim.SGD(w.parameters(), lr=lr)
        return w, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.5**e)

    w, opt, sched = build(1.0)
    for _ in range(3):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == 0.125
    save_checkpoint(
        tmp_path / "c.pt", modules={"w": w}, optimizers={"o": opt}, schedulers={"s": sched}, step=3, config=Cfg(1.0)
    )
    w2, opt2, sched2 = build(0.1)
    load_checkpoint(
        tmp_path / "c.pt", modules={"w": w2}, optimizers={"o": opt2}, schedulers={"s": sched2}, config=Cfg(0.1)
    )
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.0125) and sched2.base_lrs == [0.1]
    sched2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**4)
    # the same config: the checkpoint's rates, exactly (resumption stays bit-identical)
    w3, opt3, sched3 = build(1.0)
    load_checkpoint(
        tmp_path / "c.pt", modules={"w": w3}, optimizers={"o": opt3}, schedulers={"s": sched3}, config=Cfg(1.0)
    )
    assert opt3.param_groups[0]["lr"] == 0.125 and sched3.base_lrs == [1.0]


def _two_checkpoints(tmp_path):
    path = tmp_path / "run.pt"
    _fit(QuadraticConfig(lr=0.25, steps=20), path)
    assert torch.load(path, weights_only=True)["step"] == 20
    assert torch.load(previous_checkpoint(path), weights_only=True)["step"] == 10
    return path


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_damaged_checkpoint_names_the_file_and_the_previous_one(tmp_path, damage):
    path = _two_checkpoints(tmp_path)
    previous_bytes = previous_checkpoint(path).read_bytes()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    with pytest.raises(CheckpointError) as caught:
        _fit(QuadraticConfig(lr=0.25, steps=30), path)
    message = str(caught.value)
    print(f"{damage.upper()} CHECKPOINT:", message)
    what = "is empty (0 bytes)" if damage == "empty" else f"is damaged ({len(data) // 2} bytes, truncated"
    assert message.startswith(f"checkpoint {path} {what}")
    assert (
        f"The checkpoint before it, {tmp_path / 'run.previous.pt'} (step 10), loads: copy it over {path} "
        "to resume from step 10"
    ) in message
    assert previous_checkpoint(path).read_bytes() == previous_bytes  # nothing good was lost
    # the advice, followed: the run resumes from step 10 and finishes
    shutil.copyfile(previous_checkpoint(path), path)
    _fit(QuadraticConfig(lr=0.25, steps=30), path)
    assert torch.load(path, weights_only=True)["step"] == 30
    # both damaged: said so
    for p in (path, previous_checkpoint(path)):
        p.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"run\.previous\.pt, does not load either: delete both"):
        _fit(QuadraticConfig(lr=0.25, steps=40), path)


def test_damaged_checkpoint_without_a_previous_one(tmp_path):
    model, opt, _ = _quadratic(QuadraticConfig())
    path = tmp_path / "only.pt"
    save_checkpoint(path, modules={"w": model}, optimizers={"opt": opt}, step=1)
    assert not previous_checkpoint(path).exists()
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(
        CheckpointError,
        match=r"only\.pt is damaged .*No earlier checkpoint is kept beside it: "
        r"delete .*only\.pt to start afresh",
    ):
        load_checkpoint(path, modules={"w": model})


def test_a_pickle_with_code_is_still_refused_clearly(tmp_path):
    import os

    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    torch.save({"format": "ganlib-checkpoint-1", "evil": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(
        CheckpointError,
        match=r"cannot be loaded safely.*weights_only=True refuses.*do not load it "
        "with weights_only=False unless you trust",
    ):
        load_checkpoint(tmp_path / "evil.pt", modules={})


def test_stale_temporary_files_are_removed_on_the_next_save(tmp_path):
    model, opt, _ = _quadratic(QuadraticConfig())
    path = tmp_path / "run.pt"
    save_checkpoint(path, modules={"w": model}, step=1)
    # what a save killed mid-write (SIGKILL, power cut) leaves: atomic_save's temporary names
    stale = [tmp_path / ".run.pt.k3j_x9a1.tmp", tmp_path / ".run.pt.previous.tmp"]
    for p in stale:
        p.write_bytes(b"half a checkpoint")
    others = [tmp_path / ".other.pt.abc.tmp", tmp_path / "notes.tmp", tmp_path / "run.pt.bak"]
    for p in others:
        p.write_bytes(b"not ours")
    save_checkpoint(path, modules={"w": model}, step=2)
    assert not any(p.exists() for p in stale)
    assert all(p.read_bytes() == b"not ours" for p in others)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".other.pt.abc.tmp", "notes.tmp", "run.pt", "run.pt.bak", "run.previous.pt"]
    )
    assert torch.load(path, weights_only=True)["step"] == 2
    assert torch.load(previous_checkpoint(path), weights_only=True)["step"] == 1


# ============================================================================ archives
import tarfile  # noqa: E402
import threading  # noqa: E402
import zipfile  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

from ganlib.data import download as dl  # noqa: E402
from ganlib.data.registry import (  # noqa: E402
    DATASETS,
    ChecksumError,
    DatasetSpec,
    DownloadError,
    UnsafeArchiveError,
    download,
    download_url,
    extract,
    forget_checksum,
)


def _tar_gz(*members) -> bytes:
    """members: (name, bytes) a file, (name, None) a folder, (name, "->", target) a symlink,
    (name, "=>", target) a hard link."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data, *link in members:
            info = tarfile.TarInfo(name)
            if data == "->":
                info.type, info.linkname = tarfile.SYMTYPE, link[0]
                tar.addfile(info)
            elif data == "=>":
                info.type, info.linkname = tarfile.LNKTYPE, link[0]
                tar.addfile(info)
            elif data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _everything_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


CHAINS = {
    # the chain: s -> ".", then s/t (really ./t) -> ".." : t/evil.txt would be ../evil.txt
    "chain": (
        (("s", "->", "."), ("s/t", "->", ".."), ("t/evil.txt", b"x")),
        "symlink 's/t' -> '..' that points outside",
    ),
    # three links deep: a -> ".", a/b (= b) -> "a", a/b/c (= c) -> "../.."
    "deeper": (
        (("a", "->", "."), ("a/b", "->", "a"), ("a/b/c", "->", "../.."), ("c/evil.txt", b"x")),
        "symlink 'a/b/c' -> '../..' that points outside",
    ),
    # a link whose target only escapes through a link defined after it
    "forward": ((("x", "->", "y/.."), ("y", "->", "../.."), ("x/evil.txt", b"x")), "symlink 'y' -> '../..'"),
    # links that loop
    "loop": ((("x", "->", "y"), ("y", "->", "x"), ("x/f.txt", b"x")), "symlink 'y' -> 'x' that goes round a loop"),
    # a real folder first, then a symlink of the same name moving what was written into it
    "moved": ((("e", None), ("e/f.txt", b"x"), ("e", "->", "sub")), "'e/f.txt' that a later symlink moves"),
    # a file written through an earlier symlink of the same name
    "through": ((("out", "->", "sub/f.txt"), ("sub", None), ("out", b"overwrites the link's target")), "'out' twice"),
    # the chain with another case: on macOS and Windows file systems s/ is S/, so it is refused everywhere
    "case": ((("S", "->", "."), ("s/t", "->", "..")), "symlink 's/t' -> '..' that points outside"),
    # a hard link to a file reached through the chain
    "hardlink": ((("s", "->", "."), ("s/h", "=>", "s/../../secret")), "climbs out with '..'|hard link"),
}


@pytest.mark.parametrize("data_filter", [True, False], ids=["with-data-filter", "without-data-filter"])
@pytest.mark.parametrize("case", sorted(CHAINS))
def test_symlink_chains_are_refused_naming_the_member(tmp_path, monkeypatch, case, data_filter):
    if not data_filter:  # as on Python < 3.11.4 / 3.10.12 / 3.9.17: ganlib's own check is all there is
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    members, message = CHAINS[case]
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_tar_gz(*members))
    (tmp_path / "box").mkdir()
    with pytest.raises(UnsafeArchiveError, match=message) as caught:
        extract(archive, tmp_path / "box" / "out" / "target")
    if data_filter and case == "chain":
        print("SYMLINK CHAIN:", caught.value)
    assert _everything_under(tmp_path / "box") == ["out"]  # nothing written, inside or outside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar.gz", "box"]


def test_the_chain_does_escape_without_ganlibs_check(tmp_path, monkeypatch):
    """The control: with the data filter gone and ganlib's member check switched off, the chain
    writes outside the target, so the test above refuses a real escape."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.setattr(dl, "_check_tar", lambda *args: None)
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_tar_gz(*CHAINS["chain"][0]))
    extract(archive, tmp_path / "out" / "target")
    assert (tmp_path / "out" / "evil.txt").read_bytes() == b"x"  # beside the target, not in it


@pytest.mark.parametrize("data_filter", [True, False], ids=["with-data-filter", "without-data-filter"])
def test_links_that_stay_inside_still_extract(tmp_path, monkeypatch, data_filter):
    if not data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    archive = tmp_path / "good.tar.gz"
    archive.write_bytes(
        _tar_gz(
            ("d/real/x.txt", b"hello"),
            ("d/alias", "->", "real"),
            ("d/alias2", "->", "alias"),
            ("d/up", "->", "../d/real/x.txt"),
            ("d/hard", "=>", "d/real/x.txt"),
        )
    )
    target = extract(archive, tmp_path / "t")
    assert (target / "d" / "alias2" / "x.txt").read_bytes() == b"hello"
    assert (target / "d" / "up").read_bytes() == (target / "d" / "hard").read_bytes() == b"hello"


# ----------------------------------------------------------------------------- size guard
def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path):
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_zip({"pics/a.png": b"\0" * (20 << 20)}))  # 20 MiB of zeros in about 20 KB
    assert archive.stat().st_size < 100_000
    with pytest.raises(
        UnsafeArchiveError,
        match=r"declares 20\.0 MiB of content up to the member 'pics/a\.png': "
        r"\d+ times its own size, where at most 100 times",
    ) as caught:
        extract(archive, tmp_path / "out" / "target")
    print("ZIP BOMB:", caught.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_tar_gz_bomb_is_refused_too(tmp_path):
    archive = tmp_path / "bomb.tar.gz"
    archive.write_bytes(_tar_gz(("a/zeros.bin", b"\0" * (8 << 20)), ("a/more.bin", b"\0" * (8 << 20))))
    with pytest.raises(UnsafeArchiveError, match=r"times its own size"):
        extract(archive, tmp_path / "out" / "target")
    assert list((tmp_path / "out").iterdir()) == []


def test_declared_size_and_member_count_bounds(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()  # incompressible
    archive = tmp_path / "big.zip"
    archive.write_bytes(_zip({"a.bin": noise}))
    with pytest.raises(
        UnsafeArchiveError,
        match=r"declares more than 97\.7 KiB of content \(195\.3 KiB up to the "
        r"member 'a\.bin'\).*If the archive is genuine, "
        r"pass a larger max_bytes= to extract",
    ):
        extract(archive, tmp_path / "out" / "t", max_bytes=100_000)
    extract(archive, tmp_path / "out" / "t", max_bytes=300_000)  # under the bound: fine
    many = tmp_path / "many.tar.gz"
    many.write_bytes(_tar_gz(*[(f"f{i}.txt", b"x") for i in range(30)]))
    with pytest.raises(UnsafeArchiveError, match=r"holds more than 10 members"):
        extract(many, tmp_path / "out" / "m", max_members=10)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["t"]


def test_a_zip_member_bigger_than_its_header_says_stops_the_extraction(tmp_path):
    data = bytearray(_zip({"big.bin": b"\0" * (1 << 20)}))
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 1000)  # uncompressed size in the local header ...
    struct.pack_into("<I", data, central + 24, 1000)  # ... and in the central directory: 1 MiB declared as 1000 B
    archive = tmp_path / "lies.zip"
    archive.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"not a valid zip archive \(Bad CRC-32 for file 'big\.bin'\)") as caught:
        extract(archive, tmp_path / "out" / "t")
    print("LYING ZIP:", caught.value)
    assert list((tmp_path / "out").iterdir()) == []


# ============================================================================ downloads
class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.log.append(self.path)
        item = self.server.files.get(self.path)
        if item is None:
            self.send_error(404)
            return
        body, ctype, length, cut = item["body"], item.get("type"), item.get("length", True), item.get("cut")
        self.send_response(200)
        if ctype:
            self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if cut is None else body[:cut])  # HTTP/1.0: the connection closes after this
        self.close_connection = True


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.log = {}, []
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _pix2pix_archive(name="toy") -> bytes:
    from PIL import Image

    members = []
    for i in range(3):
        buf = io.BytesIO()
        Image.fromarray(np.full((4, 8, 3), 40 * i, np.uint8)).save(buf, format="PNG")
        members.append((f"{name}/train/{i}.png", buf.getvalue()))
    return _tar_gz(*members)


HTML = b"<!DOCTYPE html>\n<html><head><title>Log in to Hotel Wi-Fi</title></head><body>Please log in</body></html>"


def test_a_transfer_truncated_without_length_is_not_pinned(server, tmp_path):
    real = _pix2pix_archive()
    server.files["/toy.tar.gz"] = {"body": real, "type": "application/x-gzip", "length": False, "cut": len(real) // 2}
    url, dest, record = server.url + "/toy.tar.gz", tmp_path / "downloads" / "toy.tar.gz", tmp_path / "checksums.json"
    with pytest.raises(
        DownloadError,
        match=r"incomplete or damaged: \d+ bytes arrived without a Content-Length "
        r"to check them against, and the archive does not open",
    ) as caught:
        download_url(url, dest, progress=False, checksums=record)
    print("TRUNCATED WITHOUT LENGTH:", caught.value)
    assert not record.exists() and list(dest.parent.iterdir()) == []  # nothing pinned, nothing kept
    # the server recovers (still without a length): the whole archive lists cleanly and is pinned
    server.files["/toy.tar.gz"]["cut"] = None
    download_url(url, dest, progress=False, checksums=record)
    assert dl.recorded_checksum(record, url) == dl.hashlib.sha256(real).hexdigest()
    dest.unlink()
    download_url(url, dest, progress=False, checksums=record)  # and later downloads verify against it
    assert dest.read_bytes() == real


@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", "application/octet-stream"])
def test_an_html_page_is_never_pinned_as_the_archive(server, tmp_path, ctype):
    server.files["/toy.tar.gz"] = {"body": HTML, "type": ctype}
    spec = DatasetSpec("toy", server.url + "/toy.tar.gz", None, "tar.gz", "paired")
    with pytest.raises(
        DownloadError,
        match=r"answered with an HTML page .*starting '<!DOCTYPE html> <html><head>"
        r"<title>Log in to Hotel Wi-Fi.*captive portal.*Nothing was kept and no "
        r"checksum was recorded",
    ) as caught:
        download(spec, root=tmp_path, progress=False)
    if ctype.startswith("text/html"):
        print("HTML PAGE:", caught.value)
    assert _everything_under(tmp_path) == ["downloads"]  # no pin, no archive, no data set
    server.files["/toy.tar.gz"] = {"body": _pix2pix_archive(), "type": "application/x-gzip"}
    assert (download(spec, root=tmp_path, progress=False) / "train" / "0.png").is_file()


def test_a_wrong_pin_says_how_to_reset_it_and_the_reset_works(server, tmp_path):
    real = _pix2pix_archive()
    url, dest, record = server.url + "/toy.tar.gz", tmp_path / "toy.tar.gz", tmp_path / "checksums.json"
    dl.record_checksum(record, url, dl.hashlib.sha256(HTML).hexdigest())  # what older versions pinned
    server.files["/toy.tar.gz"] = {"body": real, "type": "application/x-gzip"}
    with pytest.raises(ChecksumError, match=r"reset the pin with ganlib\.data\.download\.forget_checksum\(") as caught:
        download_url(url, dest, progress=False, checksums=record)
    print("WRONG PIN:", caught.value)
    assert not dest.exists()
    assert forget_checksum(record, url) and not forget_checksum(record, url)  # the advice, followed
    download_url(url, dest, progress=False, checksums=record)
    assert dest.read_bytes() == real and dl.recorded_checksum(record, url) == dl.hashlib.sha256(real).hexdigest()


def test_a_file_that_cannot_be_checked_needs_a_length_or_a_checksum(server, tmp_path):
    payload = b"weights " * 100  # not an archive, not a zip: nothing to check completeness against
    server.files["/w.bin"] = {"body": payload, "length": False}
    with pytest.raises(
        DownloadError,
        match=r"sent without a Content-Length \(800 bytes arrived.*will not record its "
        r"checksum on trust\. Nothing was kept\. Pass the published checksum",
    ):
        download_url(server.url + "/w.bin", tmp_path / "w.bin", progress=False)
    assert list(tmp_path.iterdir()) == []
    download_url(server.url + "/w.bin", tmp_path / "w.bin", dl.hashlib.sha256(payload).hexdigest(), progress=False)
    assert (tmp_path / "w.bin").read_bytes() == payload
    # a torch checkpoint is a zip container: listed, so it is pinned even without a length
    buf = io.BytesIO()
    torch.save({"w": torch.ones(3)}, buf)
    server.files["/m.pth"] = {"body": buf.getvalue(), "length": False}
    download_url(server.url + "/m.pth", tmp_path / "m.pth", progress=False)
    assert dl.recorded_checksum(tmp_path / "checksums.json", server.url + "/m.pth") is not None


def test_an_existing_bad_file_is_not_pinned(server, tmp_path):
    url = server.url + "/toy.tar.gz"
    (tmp_path / "toy.tar.gz").write_bytes(HTML)
    with pytest.raises(DownloadError, match=r"toy\.tar\.gz holds an HTML page .*no checksum was recorded\. Delete"):
        download_url(url, tmp_path / "toy.tar.gz", progress=False)
    (tmp_path / "toy.tar.gz").write_bytes(_pix2pix_archive()[:200])
    with pytest.raises(DownloadError, match=r"exists but does not open as an archive .*no checksum was recorded"):
        download_url(url, tmp_path / "toy.tar.gz", progress=False)
    assert not (tmp_path / "checksums.json").exists() and server.log == []


def test_a_bomb_through_the_registry_names_the_entry_to_change(server, tmp_path):
    server.files["/bomb.zip"] = {"body": _zip({"bomb/trainA/a.png": b"\0" * (4 << 20)}), "type": "application/zip"}
    spec = DatasetSpec("bomb", server.url + "/bomb.zip", None, "zip", "unpaired")
    with pytest.raises(
        UnsafeArchiveError,
        match=r"times its own size.*raise max_bytes / max_members / max_ratio in "
        r"the DatasetSpec of 'bomb'",
    ):
        download(spec, root=tmp_path, progress=False)
    assert not (tmp_path / "bomb").exists() and not list(tmp_path.glob(".bomb.partial-*"))
    assert DATASETS["edges2handbags"].max_bytes > DATASETS["facades"].max_bytes == dl.DEFAULT_MAX_BYTES


# ============================================================================ images
from PIL import Image  # noqa: E402

from ganlib.data.registry import ImageFileError, load_paired, load_unpaired  # noqa: E402


def _png_bytes(width, height, depth, colour_type, rows) -> bytes:
    """A PNG written by hand (any bit depth PIL cannot write): rows are the raw scanlines."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _unpaired(tmp_path, files: dict):
    """A CycleGAN folder whose trainA holds ``files`` (name -> bytes) and trainB one grey pixel."""
    root = tmp_path / "set"
    (root / "trainA").mkdir(parents=True)
    (root / "trainB").mkdir()
    for name, data in files.items():
        (root / "trainA" / name).write_bytes(data)
    Image.new("RGB", (2, 2), (128, 128, 128)).save(root / "trainB" / "b.png")
    return root


def _pixels(x):
    """[-1, 1] floats back to 0..255 (rounded) for exact comparisons."""
    return torch.round((x + 1) * 127.5).to(torch.int64)


def test_16_bit_pngs_are_scaled_by_their_bit_depth(tmp_path):
    grey = np.array([[0, 257 * 64, 32768, 65535]], dtype=">u2")  # 16-bit grey
    rgb = np.array([[[65535, 0, 257 * 200]] * 4], dtype=">u2")  # 16-bit RGB
    files = {
        "a_grey16.png": _png_bytes(4, 1, 16, 0, [grey.tobytes()]),
        "b_rgb16.png": _png_bytes(4, 1, 16, 2, [rgb.tobytes()]),
    }
    X, _ = load_unpaired(_unpaired(tmp_path, files))
    assert _pixels(X[0, :, 0]).T.tolist() == [[0] * 3, [64] * 3, [128] * 3, [255] * 3]  # not 98 % white
    assert _pixels(X[1, :, 0, 0]).tolist() == [255, 0, 200]


def test_low_bit_depth_grey_pngs_are_scaled_too(tmp_path):
    files = {
        "a_2bit.png": _png_bytes(4, 1, 2, 0, [bytes([0b00011011])]),  # 0, 1, 2, 3 of 3
        "b_4bit.png": _png_bytes(4, 1, 4, 0, [bytes([0x05, 0xAF])]),
    }  # 0, 5, 10, 15 of 15
    X, _ = load_unpaired(_unpaired(tmp_path, files))
    assert _pixels(X[0, 0, 0]).tolist() == [0, 85, 170, 255]
    assert _pixels(X[1, 0, 0]).tolist() == [0, 85, 170, 255]


def test_a_truncated_png_is_named(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, format="PNG")
    folder = _unpaired(tmp_path, {"good.png": buf.getvalue(), "cut.png": buf.getvalue()[: len(buf.getvalue()) // 2]})
    with pytest.raises(ImageFileError) as caught:
        load_unpaired(folder)
    message = str(caught.value)
    print("TRUNCATED PNG:", message)
    assert message.startswith(
        f"{folder / 'trainA' / 'cut.png'} cannot be read as an image (OSError: image file is "
        "truncated): the file is truncated or damaged"
    )
    (folder / "trainA" / "cut.png").write_bytes(b"not an image at all")
    with pytest.raises(ImageFileError, match=r"cut\.png cannot be read as an image \(UnidentifiedImageError"):
        load_unpaired(folder)


def _save(im, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", **kwargs)
    return buf.getvalue()


def test_grey_palette_and_opaque_alpha_are_converted_as_documented(tmp_path):
    palette = Image.new("P", (2, 1))
    palette.putpalette([10, 20, 30, 200, 100, 50])
    palette.putdata([0, 1])
    rgba = Image.new("RGBA", (2, 1), (1, 2, 3, 255))
    la = Image.fromarray(np.array([[[90, 255], [180, 255]]], np.uint8), mode="LA")
    files = {
        "a_grey.png": _save(Image.fromarray(np.array([[7, 250]], np.uint8))),
        "b_palette.png": _save(palette),
        "c_rgba_opaque.png": _save(rgba),
        "d_la_opaque.png": _save(la),
        "e_bilevel.png": _save(Image.fromarray(np.array([[0, 255]], np.uint8)).convert("1")),
    }
    X, _ = load_unpaired(_unpaired(tmp_path, files))
    assert X.shape == (5, 3, 1, 2)
    got = [_pixels(x[:, 0]).T.tolist() for x in X]  # per image: [[R, G, B] of pixel 0, of pixel 1]
    assert got[0] == [[7, 7, 7], [250, 250, 250]]  # grey: copied to R, G, B
    assert got[1] == [[10, 20, 30], [200, 100, 50]]  # palette: looked up
    assert got[2] == [[1, 2, 3], [1, 2, 3]]  # opaque alpha: dropped
    assert got[3] == [[90, 90, 90], [180, 180, 180]]
    assert got[4] == [[0, 0, 0], [255, 255, 255]]
    # and in the paired loader (A | B side by side), a grey image where RGB is expected
    (tmp_path / "pairs" / "train").mkdir(parents=True)
    Image.fromarray(np.array([[40, 40, 220, 220]], np.uint8)).save(tmp_path / "pairs" / "train" / "1.png")
    A, B = load_paired(tmp_path / "pairs")
    assert _pixels(A[0, :, 0, 0]).tolist() == [40] * 3 and _pixels(B[0, :, 0, 0]).tolist() == [220] * 3


@pytest.mark.parametrize("kind", ["rgba", "palette", "grey_with_transparent_value"])
def test_transparent_pixels_are_refused_clearly(tmp_path, kind):
    if kind == "rgba":
        data = _save(Image.fromarray(np.array([[[255, 0, 0, 255], [0, 0, 0, 0]]], np.uint8), mode="RGBA"))
    elif kind == "palette":
        im = Image.new("P", (2, 1))
        im.putpalette([10, 20, 30, 200, 100, 50])
        im.putdata([0, 1])
        data = _save(im, transparency=1)
    else:
        data = _save(Image.fromarray(np.array([[7, 250]], np.uint8)), transparency=250)
    folder = _unpaired(tmp_path, {"x.png": data})
    with pytest.raises(ImageFileError) as caught:
        load_unpaired(folder)
    message = str(caught.value)
    if kind == "rgba":
        print("RGBA WITH TRANSPARENCY:", message)
    assert message.startswith(
        f"{folder / 'trainA' / 'x.png'} has transparent pixels (1 of 2 have alpha < 255); "
        "the colour stored under them is arbitrary"
    )
    assert "Image.alpha_composite(" in message


def test_the_flattening_advice_works(tmp_path):
    im = Image.fromarray(np.array([[[255, 0, 0, 255], [0, 0, 0, 0]]], np.uint8), mode="RGBA")
    flat = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA")).convert("RGB")
    X, _ = load_unpaired(_unpaired(tmp_path, {"x.png": _save(flat)}))
    assert _pixels(X[0, :, 0]).T.tolist() == [[255, 0, 0], [255, 255, 255]]


def test_32_bit_and_float_images_are_refused(tmp_path):
    folder = _unpaired(tmp_path, {})
    Image.fromarray(np.array([[0, 70000]], np.int32), mode="I").save(folder / "trainA" / "i.tif")
    with pytest.raises(
        ImageFileError,
        match=r"i\.tif is a 32-bit integer image \(PIL mode 'I'\); its value range "
        r"is not defined",
    ):
        load_unpaired(folder)
    (folder / "trainA" / "i.tif").unlink()
    Image.fromarray(np.array([[0.0, 0.5]], np.float32), mode="F").save(folder / "trainA" / "f.tif")
    with pytest.raises(ImageFileError, match=r"f\.tif is a floating-point image"):
        load_unpaired(folder)
