"""Downloading and unpacking archives safely: resumable transfers, SHA-256 checks, safe extraction.

``download_url`` streams a URL to ``dest + ".part"``, resumes a broken transfer with an HTTP
``Range`` request when the server allows it (otherwise it starts again from zero), checks the
SHA-256 of the whole file and only then renames it to ``dest`` (an atomic rename: ``dest`` is
either absent or complete and verified).

Where the checksum is not known in advance, the first download records it in a JSON file of
checksums (``{url: sha256}``, *trust on first use*) and every later download of that URL is
verified against the record.

``extract`` unpacks ``.tar.gz``/``.tgz``/``.tar`` and ``.zip`` archives into a temporary folder
next to the target and renames it into place, refusing members with absolute paths, ``..``
components, links that point outside the target, and device files.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import posixpath
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import Optional, Union

PathLike = Union[str, os.PathLike]

CHUNK = 1 << 20  # bytes read per step
CHECKSUMS_FILE = "checksums.json"


class ChecksumError(ValueError):
    """The downloaded bytes do not have the expected SHA-256."""


class DownloadError(OSError):
    """The transfer failed (network error, HTTP error, or too many broken transfers).

    ``resumable`` is True for a transfer that broke midway (retrying with Range makes sense).
    """

    def __init__(self, message: str, resumable: bool = False):
        super().__init__(message)
        self.resumable = resumable


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the target folder, or is a device file."""


# ----------------------------------------------------------------------------- checksums
def sha256_file(path: PathLike) -> str:
    """The hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_checksums(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"the checksum record {path} is not valid JSON ({err}); fix or delete it") from err
    if not isinstance(data, dict):
        raise ValueError(f"the checksum record {path} must hold a JSON object {{url: sha256}}")
    return data


def recorded_checksum(checksums: PathLike, url: str) -> Optional[str]:
    """The SHA-256 recorded for ``url`` in the JSON file ``checksums`` (None if not recorded)."""
    return _read_checksums(Path(checksums)).get(url)


def record_checksum(checksums: PathLike, url: str, sha256: str) -> None:
    """Record ``url -> sha256`` in the JSON file ``checksums`` (written atomically)."""
    path = Path(checksums)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _read_checksums(path)
    data[url] = sha256
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- download
def _progress_bar(total: Optional[int], initial: int, desc: str, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=desc, file=sys.stderr, leave=False)


def _transfer(url: str, part: Path, timeout: float, progress: bool) -> None:
    """Append the rest of ``url`` to ``part`` (resuming with Range), or start over if the server
    cannot resume. Raises ``DownloadError`` on a broken transfer (``part`` keeps what arrived)."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "ganlib"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # range not satisfiable: our partial file is unusable
            part.unlink()
            return _transfer(url, part, timeout, progress)
        raise DownloadError(f"HTTP error {err.code} ({err.reason}) for {url}") from err
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise DownloadError(f"could not reach {url}: {getattr(err, 'reason', err)} "
                            "(no internet?)") from err
    with response:
        status = response.status
        length = response.headers.get("Content-Length")
        length = int(length) if length is not None else None
        if have and status == 206:
            start = int(response.headers.get("Content-Range", "bytes 0-").split()[1].split("-")[0])
            if start != have:
                raise DownloadError(f"the server resumed {url} at byte {start}, not {have}; delete {part}")
            mode, total = "ab", (have + length if length is not None else None)
        else:  # 200: the server sends everything again (no Range support): start over cleanly
            have, mode, total = 0, "wb", length
        bar = _progress_bar(total, have, Path(part.name).stem, progress)
        got = have
        try:
            with open(part, mode) as f:
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except (OSError, ValueError, http.client.HTTPException) as err:  # IncompleteRead, reset, timeout
                        raise DownloadError(f"transfer of {url} broke after {got} bytes: {err}", True) from err
                    if not chunk:
                        break
                    f.write(chunk)
                    got += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        if total is not None and got < total:
            raise DownloadError(f"transfer of {url} broke after {got} of {total} bytes", True)


def download_url(url: str, dest: PathLike, sha256: Optional[str] = None, progress: bool = True, *,
                 checksums: Optional[PathLike] = None, retries: int = 3, timeout: float = 60.0) -> Path:
    """Download ``url`` to the file ``dest`` and return ``Path(dest)``.

    - ``dest`` already present: no network. It is verified against ``sha256`` (or the recorded
      checksum) and a mismatch raises ``ChecksumError``.
    - The bytes stream into ``dest + ".part"``. A broken transfer is resumed with an HTTP
      ``Range: bytes=N-`` request (up to ``retries`` times, also on a later call); a server that
      ignores ``Range`` answers 200 and the file starts over from zero.
    - When complete, the SHA-256 is checked; on a mismatch the partial data is deleted and
      ``ChecksumError`` names the expected and actual values. Then ``.part`` is renamed to
      ``dest`` atomically.
    - ``sha256=None``: trust on first use. The expected value is looked up for ``url`` in the
      JSON file ``checksums`` (default: ``checksums.json`` next to ``dest``); if there is none,
      the checksum of this first download is recorded there.
    """
    if sha256 is not None and (len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256)):
        raise ValueError(f"sha256 must be 64 hex digits (or None for trust on first use), got {sha256!r}")
    dest = Path(dest)
    if dest.is_dir():
        raise IsADirectoryError(f"download_url needs a file path as dest, got the folder {dest}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    record = Path(checksums) if checksums is not None else dest.parent / CHECKSUMS_FILE
    expected = sha256.lower() if sha256 else recorded_checksum(record, url)
    source = "given" if sha256 else f"recorded in {record} on first download"

    if dest.is_file():
        actual = sha256_file(dest)
        if expected is None:
            record_checksum(record, url, actual)
        elif actual != expected:
            raise ChecksumError(f"{dest} exists but its SHA-256 is {actual}, expected {expected} ({source}); "
                                f"delete {dest} to download it again from {url}")
        return dest

    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, timeout, progress)
            break
        except DownloadError as err:
            if attempt == retries or not err.resumable or not part.exists():
                kept = (f"; the {part.stat().st_size} bytes received are kept in {part} and the next call "
                        "resumes from there") if part.exists() else ""
                raise DownloadError(f"{err} (gave up after {attempt + 1} attempt(s)){kept}. Without internet, "
                                    f"fetch {url} elsewhere and save it as {dest}", err.resumable) from err
            time.sleep(min(2.0 ** attempt * 0.1, 2.0))

    actual = sha256_file(part)
    if expected is not None and actual != expected:
        part.unlink()
        hint = ("if the file on the server legitimately changed, delete its entry from "
                f"{record} and download again" if sha256 is None else "the file is corrupt or was changed")
        raise ChecksumError(f"checksum mismatch for {url}: expected SHA-256 {expected} ({source}), "
                            f"got {actual}; the download was deleted ({hint})")
    os.replace(part, dest)
    if expected is None:
        record_checksum(record, url, actual)
    return dest


# ----------------------------------------------------------------------------- extraction
def _check_member_name(name: str, archive: Path) -> str:
    """Normalised relative path of an archive member, or ``UnsafeArchiveError``."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        raise UnsafeArchiveError(f"{archive} holds a member with an absolute path: {name!r}; refusing to extract")
    if ".." in clean.split("/"):
        raise UnsafeArchiveError(f"{archive} holds a member whose path climbs out with '..': {name!r}; "
                                 "refusing to extract")
    return posixpath.normpath(clean)


def _inside(path: str) -> bool:
    """Is the normalised relative posix path inside the extraction root?"""
    norm = posixpath.normpath(path)
    return not (norm == ".." or norm.startswith("../") or posixpath.isabs(norm))


def _check_tar(tar: tarfile.TarFile, archive: Path) -> None:
    for m in tar.getmembers():
        name = _check_member_name(m.name, archive)
        if m.isdev() or m.ischr() or m.isblk() or m.isfifo():
            raise UnsafeArchiveError(f"{archive} holds a device or FIFO member {m.name!r}; refusing to extract")
        if m.issym():
            link = m.linkname.replace("\\", "/")
            if posixpath.isabs(link) or not _inside(posixpath.join(posixpath.dirname(name), link)):
                raise UnsafeArchiveError(f"{archive} holds a symlink {m.name!r} -> {m.linkname!r} that points "
                                         "outside the target folder; refusing to extract")
        elif m.islnk():
            link = m.linkname.replace("\\", "/")
            if posixpath.isabs(link) or not _inside(link):
                raise UnsafeArchiveError(f"{archive} holds a hard link {m.name!r} -> {m.linkname!r} that points "
                                         "outside the target folder; refusing to extract")
        elif not (m.isfile() or m.isdir()):
            raise UnsafeArchiveError(f"{archive} holds a member of unsupported type {m.name!r}; refusing to extract")


def _check_zip(zf: zipfile.ZipFile, archive: Path) -> None:
    for info in zf.infolist():
        _check_member_name(info.filename, archive)
        mode = info.external_attr >> 16
        if mode and (mode & 0o170000) not in (0, 0o100000, 0o040000, 0o120000):
            raise UnsafeArchiveError(f"{archive} holds a special file {info.filename!r}; refusing to extract")
        # zipfile writes symlink entries (0o120000) as small regular files, never as links


def archive_format(path: PathLike) -> str:
    """``"tar.gz"``, ``"tar"`` or ``"zip"`` from the file name (or the file's magic bytes)."""
    name = str(path).lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    if name.endswith(".tar"):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    if zipfile.is_zipfile(path):
        return "zip"
    if tarfile.is_tarfile(path):
        return "tar.gz"
    raise ValueError(f"cannot tell the archive format of {path}: expected a .tar.gz, .tgz, .tar or .zip file")


def extract_into(archive: PathLike, folder: PathLike, fmt: Optional[str] = None) -> None:
    """Check every member of ``archive`` and unpack it into the existing ``folder`` (no atomicity)."""
    archive, folder = Path(archive), Path(folder)
    fmt = fmt or archive_format(archive)
    if fmt in ("tar.gz", "tar"):
        try:
            with tarfile.open(archive, "r:*") as tar:
                _check_tar(tar, archive)
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: a second line of defence
                    tar.extractall(folder, filter="data")
                else:  # pragma: no cover
                    tar.extractall(folder)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise ValueError(f"{archive} is not a valid tar archive ({err}); delete it and download again") from err
    elif fmt == "zip":
        try:
            with zipfile.ZipFile(archive) as zf:
                _check_zip(zf, archive)
                zf.extractall(folder)
        except zipfile.BadZipFile as err:
            raise ValueError(f"{archive} is not a valid zip archive ({err}); delete it and download again") from err
    else:
        raise ValueError(f"unknown archive format {fmt!r}; expected 'tar.gz', 'tar' or 'zip'")


def extract(archive: PathLike, target: PathLike, fmt: Optional[str] = None) -> Path:
    """Unpack ``archive`` (``.tar.gz``/``.tgz``/``.tar``/``.zip``) so that its members land in ``target``.

    The archive is unpacked into a temporary folder beside ``target`` and renamed into place, so
    ``target`` is never half-extracted; on any error the temporary folder is removed. Refused
    (``UnsafeArchiveError``, nothing written): absolute paths, ``..`` components, symlinks or hard
    links pointing outside ``target``, device files and FIFOs. ``target`` must not exist yet.
    """
    archive, target = Path(archive), Path(target)
    if not archive.is_file():
        raise FileNotFoundError(f"no archive at {archive}")
    if target.exists():
        raise FileExistsError(f"{target} already exists; delete it or extract somewhere else")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        extract_into(archive, tmp, fmt)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
