"""Downloading and unpacking archives safely: resumable transfers, SHA-256 checks, safe extraction.

``download_url`` streams a URL to ``dest + ".part"``, resumes a broken transfer with an HTTP
``Range`` request when the server allows it (otherwise it starts again from zero), checks the
SHA-256 of the whole file and only then renames it to ``dest`` (an atomic rename: ``dest`` is
either absent or complete and verified).

Where the checksum is not known in advance, the first download records it in a JSON file of
checksums (``{url: sha256}``, *trust on first use*) and every later download of that URL is
verified against the record. A checksum is only recorded for a file known to be complete: the
server's ``Content-Length`` (or chunked encoding) was matched, or the archive opens and lists
cleanly; an HTML page (a captive portal's login, an error page) is never kept where a file was
expected. A wrong record is reset with ``forget_checksum(checksums, url)``.

``extract`` unpacks ``.tar.gz``/``.tgz``/``.tar`` and ``.zip`` archives into a temporary folder
next to the target and renames it into place. Before anything is written, every member's final
path is worked out with the archive's own links followed (a chain such as ``s -> .`` then
``s/t -> ..`` included), and the archive is refused if any member would land outside the target,
if it holds device files, or if its declared size, member count or expansion ratio exceeds the
bounds (``max_bytes``, ``max_members``, ``max_ratio``; the registry sets them per data set). A
zip member that decompresses to more than its header declares stops the extraction.
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
from typing import Dict, List, Optional, Tuple, Union

PathLike = Union[str, os.PathLike]

CHUNK = 1 << 20  # bytes read per step
CHECKSUMS_FILE = "checksums.json"

# Bounds on what one archive may unpack to, unless a data set's registry entry says otherwise.
# Generous: the largest registered archive (edges2handbags) holds about 140,000 images.
DEFAULT_MAX_BYTES = 16 * 2**30  # 16 GiB of declared content
DEFAULT_MAX_MEMBERS = 500_000
DEFAULT_MAX_RATIO = 100  # declared content / archive size; images barely compress (JPEG, PNG)
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")


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


def _write_checksums(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def record_checksum(checksums: PathLike, url: str, sha256: str) -> None:
    """Record ``url -> sha256`` in the JSON file ``checksums`` (written atomically)."""
    path = Path(checksums)
    data = _read_checksums(path)
    data[url] = sha256
    _write_checksums(path, data)


def forget_checksum(checksums: PathLike, url: str) -> bool:
    """Delete the record of ``url`` from the JSON file ``checksums`` (reset a wrong trust-on-first-use
    pin); the next download records the checksum afresh. Returns whether there was one."""
    path = Path(checksums)
    data = _read_checksums(path)
    if url not in data:
        return False
    del data[url]
    _write_checksums(path, data)
    return True


def _reset_hint(record: Path, url: str) -> str:
    return (
        f"if the recorded value is the wrong one (a broken first download was pinned) or the file on "
        f"the server legitimately changed, reset the pin with "
        f"ganlib.data.download.forget_checksum({str(record)!r}, {url!r}) (or delete that entry from "
        f"{record}) and download again"
    )


def _fmt_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


# ----------------------------------------------------------------------------- is the file whole?
def _looks_like_html(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(1024).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<title"))


def _expects_html(dest: Path) -> bool:
    return dest.suffix.lower() in (".html", ".htm", ".xhtml")


def _is_archive_name(path: Path) -> bool:
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def _lists_cleanly(path: Path, name: Path) -> Optional[str]:
    """None if ``path`` (to be saved as ``name``) opens and lists as its archive type; else what is
    wrong. Files of other kinds: a zip container (torch's ``.pth``, ``.npz``) is listed too; for
    anything else ``"unknown"`` (there is nothing to check completeness against)."""
    lower = str(name).lower()
    try:
        if lower.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(path, "r:*") as tar:
                for _ in tar:  # walks to the end of the (decompressed) stream
                    pass
            return None
        if lower.endswith(".zip") or zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                zf.infolist()  # the central directory sits at the end: a truncated zip has none
            return None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as err:
        return f"{type(err).__name__}: {err}"
    return "unknown"


# ----------------------------------------------------------------------------- download
def _progress_bar(total: Optional[int], initial: int, desc: str, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        file=sys.stderr,
        leave=False,
    )


def _transfer(url: str, part: Path, timeout: float, progress: bool) -> Tuple[bool, str]:
    """Append the rest of ``url`` to ``part`` (resuming with Range), or start over if the server
    cannot resume. Raises ``DownloadError`` on a broken transfer (``part`` keeps what arrived).

    Returns ``(known_complete, content_type)``: ``known_complete`` when the server said how much
    it sends (``Content-Length``, or chunked encoding, whose end is marked) and all of it came."""
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
        raise DownloadError(f"could not reach {url}: {getattr(err, 'reason', err)} (no internet?)") from err
    with response:
        status = response.status
        content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        chunked = bool(getattr(response, "chunked", False))
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
    return (total is not None or chunked), content_type


def download_url(
    url: str,
    dest: PathLike,
    sha256: Optional[str] = None,
    progress: bool = True,
    *,
    checksums: Optional[PathLike] = None,
    retries: int = 3,
    timeout: float = 60.0,
) -> Path:
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
      the checksum of this first download is recorded there, but only for a complete file: the
      server's ``Content-Length`` was matched (or its chunked encoding ended properly), or the
      archive opens and lists cleanly. Otherwise ``DownloadError`` and nothing is kept.
    - An HTML page where another kind of file was expected (``Content-Type: text/html``, or
      bytes that start like one: a captive portal's login page, an error page) raises
      ``DownloadError``; nothing is kept or recorded.
    - A wrong record is reset with ``forget_checksum(checksums, url)``.
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
            _check_first_file(dest, dest, url, known_complete=False, content_type="", where="exists")
            record_checksum(record, url, actual)
        elif actual != expected:
            hint = f"; {_reset_hint(record, url)}" if sha256 is None else ""
            raise ChecksumError(
                f"{dest} exists but its SHA-256 is {actual}, expected {expected} ({source}); "
                f"delete {dest} to download it again from {url}{hint}"
            )
        return dest

    part = dest.with_name(dest.name + ".part")
    known_complete, content_type = False, ""
    for attempt in range(retries + 1):
        try:
            known_complete, content_type = _transfer(url, part, timeout, progress)
            break
        except DownloadError as err:
            if attempt == retries or not err.resumable or not part.exists():
                kept = (
                    (
                        f"; the {part.stat().st_size} bytes received are kept in {part} and the next call "
                        "resumes from there"
                    )
                    if part.exists()
                    else ""
                )
                raise DownloadError(
                    f"{err} (gave up after {attempt + 1} attempt(s)){kept}. Without internet, "
                    f"fetch {url} elsewhere and save it as {dest}",
                    err.resumable,
                ) from err
            time.sleep(min(2.0**attempt * 0.1, 2.0))

    if not _expects_html(dest) and (content_type in ("text/html", "application/xhtml+xml") or _looks_like_html(part)):
        with open(part, "rb") as f:
            head = f.read(120).decode("utf-8", "replace").replace("\n", " ").strip()
        part.unlink()
        raise DownloadError(
            f"{url} answered with an HTML page (Content-Type {content_type or 'not given'}, starting "
            f"{head!r}), not the file {dest.name}: a captive portal's login page (hotel, campus or "
            "company Wi-Fi), an error page or a moved address. Nothing was kept and no checksum was "
            f"recorded. Open {url} in a browser to see the page (log in if it asks), then call again"
        )
    actual = sha256_file(part)
    if expected is not None and actual != expected:
        part.unlink()
        hint = _reset_hint(record, url) if sha256 is None else "the file is corrupt or was changed"
        raise ChecksumError(
            f"checksum mismatch for {url}: expected SHA-256 {expected} ({source}), "
            f"got {actual}; the download was deleted ({hint})"
        )
    if expected is None:
        try:
            _check_first_file(part, dest, url, known_complete, content_type, where="downloaded")
        except DownloadError:
            part.unlink(missing_ok=True)
            raise
    os.replace(part, dest)
    if expected is None:
        record_checksum(record, url, actual)
    return dest


def _check_first_file(path: Path, dest: Path, url: str, known_complete: bool, content_type: str, where: str) -> None:
    """Before a checksum is recorded on first use: is ``path`` (to become ``dest``) the whole file?"""
    if not _expects_html(dest) and _looks_like_html(path):
        raise DownloadError(
            f"{dest} holds an HTML page (a captive portal's login page or an error page), "
            f"not the file from {url}; no checksum was recorded. Delete {dest} and call again"
        )
    if known_complete:
        return
    archive = _is_archive_name(dest)
    problem = _lists_cleanly(path, dest)
    if problem is None:
        return
    size = path.stat().st_size
    if where == "exists":
        if problem == "unknown":
            return  # a file put there by hand (no way to check it): trusted, as before
        raise DownloadError(
            f"{dest} exists but does not open as {'an archive' if archive else 'a zip container'} "
            f"({problem}): it is incomplete or damaged, so no checksum was recorded. "
            f"Delete {dest} and call again to download it afresh"
        )
    if problem == "unknown":
        raise DownloadError(
            f"{url} was sent without a Content-Length ({size} bytes arrived before the connection closed) "
            f"and {dest.name} is not an archive whose listing can be checked, so ganlib cannot tell whether "
            "it arrived complete and will not record its checksum on trust. Nothing was kept. Pass the "
            "published checksum as sha256=... (then the bytes are verified), or try again later"
        )
    raise DownloadError(
        f"the download of {url} is incomplete or damaged: {size} bytes arrived"
        + ("" if known_complete else " without a Content-Length to check them against")
        + f", and the archive does not open ({problem}). Nothing was kept and no checksum was recorded; "
        "call again to download it afresh"
    )


# ----------------------------------------------------------------------------- extraction
def _check_member_name(name: str, archive: Path) -> str:
    """Normalised relative path of an archive member, or ``UnsafeArchiveError``."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        raise UnsafeArchiveError(f"{archive} holds a member with an absolute path: {name!r}; refusing to extract")
    if ".." in clean.split("/"):
        raise UnsafeArchiveError(
            f"{archive} holds a member whose path climbs out with '..': {name!r}; refusing to extract"
        )
    return posixpath.normpath(clean)


class _Links:
    """The symlinks an archive creates, by where they land, to follow them as the file system would.

    Names are compared case-insensitively, as on macOS and Windows file systems (on others this
    only refuses a few more archives: none of the data sets' archives holds such links)."""

    MAX_HOPS = 64

    def __init__(self) -> None:
        self.targets: Dict[str, str] = {}
        self.looped = False  # did the last resolve fail because links loop?

    def why(self) -> str:
        return "goes round a loop of symlinks" if self.looped else "points outside the target folder"

    def resolve(self, path: str) -> Optional[str]:
        """Where ``path`` (relative to the target folder) really is once every link in it is
        followed, as a normalised relative path ("" = the folder itself); None if it leaves the
        folder (or the links loop)."""
        parts: List[str] = []
        todo = path.replace("\\", "/").split("/")
        hops, self.looped = 0, False
        while todo:
            part = todo.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    return None
                parts.pop()
                continue
            here = "/".join(parts + [part]).casefold()
            if here in self.targets:
                hops += 1
                target = self.targets[here]
                self.looped = hops > self.MAX_HOPS
                if self.looped or target.startswith("/") or (len(target) > 1 and target[1] == ":"):
                    return None
                todo = target.replace("\\", "/").split("/") + todo  # relative to the link's folder
                continue
            parts.append(part)
        return "/".join(parts)

    def location(self, name: str) -> Optional[str]:
        """Where the member ``name`` is created: its folder resolved, its own name not followed."""
        folder, base = posixpath.split(name)
        where = self.resolve(folder)
        if where is None:
            return None
        return posixpath.join(where, base) if where else base


def _bound_hint(limit: str, hint: Optional[str]) -> str:
    return hint or f"If the archive is genuine, pass a larger {limit}= to extract"


class _Budget:
    """Counts members and declared bytes against the bounds; refuses as soon as one is passed."""

    def __init__(self, archive: Path, max_bytes: int, max_members: int, max_ratio: float, hint: Optional[str]):
        self.archive, self.max_bytes, self.max_members, self.max_ratio = archive, max_bytes, max_members, max_ratio
        self.hint, self.size = hint, max(archive.stat().st_size, 1)
        self.members = self.bytes = 0

    def add(self, name: str, size: int) -> None:
        self.members += 1
        self.bytes += max(int(size), 0)
        a = self.archive
        if self.members > self.max_members:
            raise UnsafeArchiveError(
                f"{a} holds more than {self.max_members:,} members (the bound for it); refusing to extract "
                f"anything: an archive bomb, a damaged archive or the wrong file. "
                f"{_bound_hint('max_members', self.hint)}"
            )
        if self.bytes > self.max_bytes:
            raise UnsafeArchiveError(
                f"{a} declares more than {_fmt_bytes(self.max_bytes)} of content ({_fmt_bytes(self.bytes)} "
                f"up to the member {name!r}), more than the bound for it; refusing to extract anything: an "
                f"archive bomb, a damaged archive or the wrong file. {_bound_hint('max_bytes', self.hint)}"
            )
        if self.bytes > self.max_ratio * self.size:
            raise UnsafeArchiveError(
                f"{a} ({_fmt_bytes(self.size)}) declares {_fmt_bytes(self.bytes)} of content up to the member "
                f"{name!r}: {self.bytes / self.size:.0f} times its own size, where at most {self.max_ratio:g} "
                "times is allowed (images barely compress); refusing to extract anything: an archive bomb "
                f"or a damaged archive. {_bound_hint('max_ratio', self.hint)}"
            )


def _check_link(m: tarfile.TarInfo, where: str, links: _Links, archive: Path) -> None:
    """A symlink (relative to its folder) or hard link (relative to the root) must resolve inside."""
    link = m.linkname.replace("\\", "/")
    if m.issym():
        if posixpath.isabs(link) or links.resolve(posixpath.join(posixpath.dirname(where), link)) is None:
            raise UnsafeArchiveError(
                f"{archive} holds a symlink {m.name!r} -> {m.linkname!r} that {links.why()} "
                "(followed through the archive's other links); refusing to extract"
            )
    elif m.islnk() and (posixpath.isabs(link) or links.resolve(link) is None):
        raise UnsafeArchiveError(
            f"{archive} holds a hard link {m.name!r} -> {m.linkname!r} that {links.why()}; refusing to extract"
        )


def _check_tar(tar: tarfile.TarFile, archive: Path, budget: _Budget) -> None:
    """Check every member before anything is written: names, types, bounds, and where each one lands
    once the archive's own symlinks are followed (so a chain of inside-looking links cannot escape)."""
    links, members = _Links(), []
    for m in tar:  # members are read one by one, so a bomb is stopped at the bound, not at its end
        name = _check_member_name(m.name, archive)
        if m.isdev() or m.ischr() or m.isblk() or m.isfifo():
            raise UnsafeArchiveError(f"{archive} holds a device or FIFO member {m.name!r}; refusing to extract")
        if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            raise UnsafeArchiveError(f"{archive} holds a member of unsupported type {m.name!r}; refusing to extract")
        budget.add(m.name, m.size if m.isfile() else 0)
        where = links.location(name)
        if where is None:
            raise UnsafeArchiveError(
                f"{archive} holds a member {m.name!r} whose path, once the archive's "
                "symlinks are followed, leads outside the target folder; refusing to extract"
            )
        if m.issym():
            links.targets[where.casefold()] = m.linkname
        _check_link(m, where, links, archive)
        members.append((m, name, where))
    # the second pass, with every link known: a link defined later must not change where an
    # earlier member lands, a link's place holds nothing else, and every link resolves inside
    kinds: Dict[str, str] = {}
    for m, name, where in members:
        now = links.location(name)
        if now != where:
            raise UnsafeArchiveError(
                f"{archive} holds a member {m.name!r} that a later symlink moves "
                f"({'outside the target folder' if now is None else 'elsewhere'}); "
                "refusing to extract"
            )
        kind = f"symlink to {m.linkname!r}" if m.issym() else "folder" if m.isdir() else "file"
        before = kinds.setdefault(where.casefold(), kind)
        if before != kind and (m.issym() or before.startswith("symlink")):
            raise UnsafeArchiveError(
                f"{archive} holds {m.name!r} twice, once as a {before} and once as a {kind}; refusing to extract"
            )
        _check_link(m, where, links, archive)


def _check_zip(zf: zipfile.ZipFile, archive: Path, budget: _Budget) -> List[Tuple[zipfile.ZipInfo, str]]:
    members = []
    for info in zf.infolist():
        name = _check_member_name(info.filename, archive)
        mode = info.external_attr >> 16
        if mode and (mode & 0o170000) not in (0, 0o100000, 0o040000, 0o120000):
            raise UnsafeArchiveError(f"{archive} holds a special file {info.filename!r}; refusing to extract")
        # symlink entries (0o120000) are written as small regular files, never as links
        budget.add(info.filename, 0 if info.is_dir() else info.file_size)
        members.append((info, name))
    return members


def _extract_zip(zf: zipfile.ZipFile, members, folder: Path, archive: Path) -> None:
    """Write the checked members; stop if one decompresses to more than its header declares."""
    for info, name in members:
        dest = folder.joinpath(*[p for p in name.split("/") if p not in ("", ".")])
        if info.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with zf.open(info) as src, open(dest, "wb") as out:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                written += len(chunk)
                if written > info.file_size:
                    raise UnsafeArchiveError(
                        f"{archive}: the member {info.filename!r} unpacks to more than the "
                        f"{info.file_size:,} bytes its header declares; extraction stopped"
                    )
                out.write(chunk)


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


def extract_into(
    archive: PathLike,
    folder: PathLike,
    fmt: Optional[str] = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_ratio: float = DEFAULT_MAX_RATIO,
    bound_hint: Optional[str] = None,
) -> None:
    """Check every member of ``archive`` and unpack it into the existing ``folder`` (no atomicity).

    All checks run before the first byte is written (see :func:`extract`). ``bound_hint`` says,
    in the size errors, where the bounds come from (the registry passes its data set's entry)."""
    archive, folder = Path(archive), Path(folder)
    fmt = fmt or archive_format(archive)
    budget = _Budget(archive, max_bytes, max_members, max_ratio, bound_hint)
    if fmt in ("tar.gz", "tar"):
        try:
            with tarfile.open(archive, "r:*") as tar:
                _check_tar(tar, archive, budget)
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4, 3.10.12, 3.9.17: a second line of defence
                    tar.extractall(folder, filter="data")
                else:  # the checks above are the defence
                    tar.extractall(folder)
        except getattr(tarfile, "FilterError", ()) as err:
            member = getattr(getattr(err, "tarinfo", None), "name", "?")
            raise UnsafeArchiveError(
                f"{archive}: Python's tarfile data filter refused the member {member!r} ({err}); refusing to extract"
            ) from err
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise ValueError(f"{archive} is not a valid tar archive ({err}); delete it and download again") from err
    elif fmt == "zip":
        try:
            with zipfile.ZipFile(archive) as zf:
                _extract_zip(zf, _check_zip(zf, archive, budget), folder, archive)
        except (zipfile.BadZipFile, EOFError, zlib.error) as err:
            raise ValueError(f"{archive} is not a valid zip archive ({err}); delete it and download again") from err
    else:
        raise ValueError(f"unknown archive format {fmt!r}; expected 'tar.gz', 'tar' or 'zip'")


def extract(
    archive: PathLike,
    target: PathLike,
    fmt: Optional[str] = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> Path:
    """Unpack ``archive`` (``.tar.gz``/``.tgz``/``.tar``/``.zip``) so that its members land in ``target``.

    The archive is unpacked into a temporary folder beside ``target`` and renamed into place, so
    ``target`` is never half-extracted; on any error the temporary folder is removed. Refused
    (``UnsafeArchiveError``, nothing written): absolute paths, ``..`` components, members that
    would land outside ``target`` once the archive's own symlinks are followed (chains included),
    symlinks or hard links pointing outside, device files and FIFOs, and archives that declare
    more than ``max_bytes`` of content, more than ``max_members`` members, or more than
    ``max_ratio`` times their own size. ``target`` must not exist yet.
    """
    archive, target = Path(archive), Path(target)
    if not archive.is_file():
        raise FileNotFoundError(f"no archive at {archive}")
    if target.exists():
        raise FileExistsError(f"{target} already exists; delete it or extract somewhere else")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        extract_into(archive, tmp, fmt, max_bytes=max_bytes, max_members=max_members, max_ratio=max_ratio)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
