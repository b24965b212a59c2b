"""Upload checks: what a file is (by content only) and whether a DOCX is safe to open.

Three kinds are accepted: PDF, DOCX, and plain UTF-8 text (a CV pasted into the browser).
Nothing here trusts the client's file name or Content-Type. `check_docx` runs before any
OOXML parser sees the bytes, so a zip bomb or an external-entity attack never reaches one.
"""

from __future__ import annotations

import io
import zipfile
from typing import Literal

from cvsession.core.errors import DomainError, LimitExceeded

__all__ = [
    "MAX_DOCX_ENTRIES",
    "MAX_DOCX_RATIO",
    "MAX_DOCX_UNCOMPRESSED_BYTES",
    "MAX_TEXT_BYTES",
    "MAX_UPLOAD_BYTES",
    "HostileFile",
    "Kind",
    "UnsupportedFile",
    "check_docx",
    "decode_text",
    "detect_kind",
]

Kind = Literal["pdf", "docx", "text"]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
"""Largest upload accepted; the HTTP layer enforces it while streaming (413)."""

MAX_TEXT_BYTES = 200 * 1024
"""Largest plain-text CV: a long CV is ~30 KiB of text; more is not a CV."""

MAX_DOCX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_DOCX_ENTRIES = 1000
MAX_DOCX_RATIO = 100
# Tiny parts of repeated markup legitimately compress past 100:1 and cannot hurt anyone, so
# the ratio limit only applies to entries at least this large.
RATIO_FLOOR_BYTES = 1024 * 1024

PDF_MAGIC = b"%PDF-"
PDF_MAGIC_WINDOW = 1024  # the PDF spec tolerates leading junk before the header
ZIP_MAGIC = b"PK\x03\x04"
UTF8_BOM = b"\xef\xbb\xbf"
# C0 controls other than tab, LF, VT, FF, CR (and DEL) mark binary data, not typed text.
_BINARY_CONTROLS = bytes(c for c in range(32) if c not in b"\t\n\x0b\x0c\r") + b"\x7f"
DOCX_REQUIRED_PARTS = ("[Content_Types].xml", "word/document.xml")

_CHUNK = 64 * 1024
# The XML declaration may put a part in UTF-16; look for the marker in every encoding lxml reads.
_DOCTYPE_MARKERS = tuple("<!DOCTYPE".encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be"))
_OVERLAP = max(len(m) for m in _DOCTYPE_MARKERS)


class UnsupportedFile(DomainError):
    """The bytes are neither a PDF, a DOCX, nor plain UTF-8 text."""

    code = "unsupported_file"
    status = 415


class HostileFile(DomainError):
    """The file is built to harm its reader (zip bomb, external entities)."""

    code = "hostile_file"
    status = 422


def detect_kind(data: bytes) -> Kind:
    """Return what `data` is, judged by content alone.

    Text is recognised last, and only when the bytes are valid UTF-8 without NUL or other
    binary control bytes and hold something besides whitespace. Raises `UnsupportedFile` for
    anything else (an empty file, an executable, a plain ZIP, a legacy .doc, text in another
    encoding) and `LimitExceeded` above `MAX_UPLOAD_BYTES`, or above `MAX_TEXT_BYTES` for text.
    """
    if not data:
        raise UnsupportedFile("The file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise LimitExceeded(
            f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB.",
            limit=MAX_UPLOAD_BYTES,
        )
    if data.startswith(ZIP_MAGIC):
        if _has_docx_parts(data):
            return "docx"
        raise UnsupportedFile("The file is a ZIP archive but not a Word (.docx) document.")
    if PDF_MAGIC in data[:PDF_MAGIC_WINDOW]:
        return "pdf"
    if _is_text(data):
        if len(data) > MAX_TEXT_BYTES:
            raise LimitExceeded(
                f"The text is larger than {MAX_TEXT_BYTES // 1024} KiB; paste only the CV.",
                limit=MAX_TEXT_BYTES,
            )
        if decode_text(data).strip():
            return "text"
        raise UnsupportedFile("The text is empty.")
    raise UnsupportedFile("Only PDF, Word (.docx) and plain text (UTF-8) files are supported.")


def _is_text(data: bytes) -> bool:
    # translate() with a delete table is a C loop: cheap even for 10 MiB of junk.
    if len(data.translate(None, _BINARY_CONTROLS)) != len(data):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_text(data: bytes) -> str:
    """The text of a `text` upload, without a leading byte order mark."""
    return data.removeprefix(UTF8_BOM).decode("utf-8")


def _has_docx_parts(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        return False
    return all(part in names for part in DOCX_REQUIRED_PARTS)


def check_docx(data: bytes) -> None:
    """Refuse a DOCX that is a zip bomb or carries a DOCTYPE, before any parser opens it.

    The declared sizes in the central directory are checked first (cheap), then every entry
    is decompressed in bounded chunks, so an archive that lies about its sizes is caught too.
    Every entry is scanned for a DOCTYPE, not only `*.xml`: the content types decide which
    parts are XML, whatever their names. Raises `HostileFile`; `UnsupportedFile` if the
    archive cannot be read.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise UnsupportedFile(f"The Word document is not a readable archive: {exc}.") from exc
    with archive:
        entries = archive.infolist()
        _check_declared(entries)
        budget = MAX_DOCX_UNCOMPRESSED_BYTES
        for info in entries:
            if info.is_dir():
                continue
            budget -= _scan_entry(archive, info, budget)


def _check_declared(entries: list[zipfile.ZipInfo]) -> None:
    if len(entries) > MAX_DOCX_ENTRIES:
        raise HostileFile(
            f"The Word document has {len(entries)} parts (at most {MAX_DOCX_ENTRIES} allowed); "
            "it looks like a zip bomb.",
            reason="too_many_entries",
        )
    total = sum(info.file_size for info in entries)
    if total > MAX_DOCX_UNCOMPRESSED_BYTES:
        raise _too_large(total)
    for info in entries:
        _check_ratio(info, info.file_size)


def _scan_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> int:
    """Decompress one entry within `budget` bytes, looking for a DOCTYPE; return its size."""
    size = 0
    tail = b""
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > budget:
                    raise _too_large(MAX_DOCX_UNCOMPRESSED_BYTES - budget + size)
                _check_ratio(info, size)
                window = tail + chunk
                if any(marker in window for marker in _DOCTYPE_MARKERS):
                    raise HostileFile(
                        f"The Word document part {info.filename!r} declares a DOCTYPE, which "
                        "can pull in external files (XXE); such documents are refused.",
                        reason="doctype",
                        part=info.filename,
                    )
                tail = window[-_OVERLAP:]
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as exc:
        raise UnsupportedFile(
            f"The Word document part {info.filename!r} cannot be read: {exc}."
        ) from exc
    return size


def _check_ratio(info: zipfile.ZipInfo, size: int) -> None:
    if size < RATIO_FLOOR_BYTES:
        return
    ratio = size / max(info.compress_size, 1)
    if ratio > MAX_DOCX_RATIO:
        raise HostileFile(
            f"The Word document part {info.filename!r} expands {ratio:.0f} times "
            f"(at most {MAX_DOCX_RATIO} allowed); it looks like a zip bomb.",
            reason="compression_ratio",
            part=info.filename,
        )


def _too_large(size: int) -> HostileFile:
    return HostileFile(
        f"The Word document expands to more than {size // (1024 * 1024)} MiB "
        f"(at most {MAX_DOCX_UNCOMPRESSED_BYTES // (1024 * 1024)} MiB allowed); "
        "it looks like a zip bomb.",
        reason="uncompressed_size",
    )
