"""Upload checks: content-based detection (PDF, DOCX, text) and DOCX zip-bomb / XXE refusal."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from cvsession.core.errors import LimitExceeded
from cvsession.processing.detect import (
    MAX_TEXT_BYTES,
    MAX_UPLOAD_BYTES,
    HostileFile,
    UnsupportedFile,
    check_docx,
    detect_kind,
)

RESUMES = Path(__file__).resolve().parents[3] / ".." / "shared" / "testdata" / "resumes"
CONTENT_TYPES = b'<?xml version="1.0"?><Types xmlns="x"/>'
DOCUMENT = b'<?xml version="1.0"?><w:document xmlns:w="x"><w:body/></w:document>'


def make_zip(entries: dict[str, bytes]) -> bytes:
    """Return a deflated ZIP holding `entries`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def minimal_docx(**extra: bytes) -> bytes:
    """Return a ZIP with the two parts that make a DOCX, plus `extra` parts."""
    return make_zip({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": DOCUMENT, **extra})


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("rendercv-classic.pdf", "pdf"),
        ("deedy-openfont.pdf", "pdf"),
        ("cvextract-sarah_connor.docx", "docx"),
    ],
)
def test_real_files_are_recognised_by_content(name: str, kind: str) -> None:
    """Real CVs are recognised from their bytes."""
    assert kind == detect_kind((RESUMES / name).read_bytes())


def test_pdf_magic_after_leading_junk_is_accepted() -> None:
    """A PDF header within the first 1024 bytes counts, as the PDF spec tolerates."""
    assert "pdf" == detect_kind(b"\0" * 500 + b"%PDF-1.7\n")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(Path("/bin/true").read_bytes(), id="elf-executable"),
        pytest.param(b"\0" * 1024 + b"%PDF-1.7", id="pdf-magic-too-late"),
        pytest.param(make_zip({"a.txt": b"hello"}), id="plain-zip"),
        pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, id="legacy-doc"),
        pytest.param(b"PK\x03\x04 not really a zip", id="broken-zip"),
    ],
)
def test_anything_else_is_unsupported(data: bytes) -> None:
    """Files that are neither PDF nor DOCX are refused as unsupported (415)."""
    with pytest.raises(UnsupportedFile) as caught:
        detect_kind(data)
    assert ("unsupported_file", 415) == (caught.value.code, caught.value.status)


def test_oversized_upload_is_refused() -> None:
    """A file above MAX_UPLOAD_BYTES is refused with limit_exceeded."""
    with pytest.raises(LimitExceeded):
        detect_kind(b"%PDF-1.7\n" + b"\0" * MAX_UPLOAD_BYTES)


def test_real_docx_passes_the_checks() -> None:
    """The real DOCX is neither a bomb nor carries a DOCTYPE."""
    assert None is check_docx((RESUMES / "cvextract-sarah_connor.docx").read_bytes())


def test_zip_bomb_is_refused() -> None:
    """A DOCX with one part of 200 MB of zeros is refused before parsing."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("word/document.xml", DOCUMENT)
        with archive.open("word/media/zeros.bin", "w") as entry:
            chunk = b"\0" * (1 << 20)
            for _ in range(200):
                entry.write(chunk)
    data = buffer.getvalue()
    assert "docx" == detect_kind(data)
    with pytest.raises(HostileFile) as caught:
        check_docx(data)
    assert ("hostile_file", 422) == (caught.value.code, caught.value.status)
    assert "zip bomb" in caught.value.message


def test_high_ratio_part_is_refused() -> None:
    """A part expanding more than 100 times is refused even under the total cap."""
    with pytest.raises(HostileFile) as caught:
        check_docx(minimal_docx(**{"word/styles.xml": b" " * (20 << 20)}))
    assert "compression_ratio" == caught.value.detail["reason"]


def test_lying_sizes_are_caught_while_streaming() -> None:
    """An archive whose directory understates a part's size is refused, never expanded."""
    data = bytearray(minimal_docx(**{"word/big.xml": b"<a/>" + b" " * (60 << 20)}))
    # Patch every declared uncompressed size of the big part to 4 bytes.
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("word/big.xml")
    real = info.file_size.to_bytes(4, "little")
    data = bytearray(bytes(data).replace(real, (4).to_bytes(4, "little")))
    with pytest.raises((HostileFile, UnsupportedFile)):
        check_docx(bytes(data))


def test_too_many_entries_are_refused() -> None:
    """More than 1000 parts is refused."""
    parts = {f"word/p{i}.xml": b"<a/>" for i in range(1001)}
    with pytest.raises(HostileFile) as caught:
        check_docx(minimal_docx(**parts))
    assert "too_many_entries" == caught.value.detail["reason"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le"])
def test_doctype_is_refused(encoding: str) -> None:
    """A part declaring an external entity (XXE) is refused, whatever its encoding."""
    xml = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<w:document xmlns:w="x"><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body>'
        "</w:document>"
    ).encode(encoding)
    data = make_zip({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": xml})
    with pytest.raises(HostileFile) as caught:
        check_docx(data)
    assert ("doctype", "word/document.xml") == (
        caught.value.detail["reason"],
        caught.value.detail["part"],
    )


CV_TEXT = "Jane Roe\njane@example.com\n\nExperience\nEngineer at Acme, 2020 to 2024\n"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(CV_TEXT.encode(), id="utf-8"),
        pytest.param(b"\xef\xbb\xbf" + CV_TEXT.encode(), id="utf-8-with-bom"),
        pytest.param(CV_TEXT.replace("\n", "\r\n").encode() + b"\x0c", id="crlf-and-form-feed"),
        pytest.param("Zoë Ünal — Lebenslauf 🚀\n".encode(), id="non-ascii"),
    ],
)
def test_utf8_text_is_recognised_as_text(data: bytes) -> None:
    """Valid UTF-8 without binary control bytes is a pasted CV: kind text."""
    assert "text" == detect_kind(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(CV_TEXT.encode() + b"\0", id="nul-byte"),
        pytest.param(CV_TEXT.encode() + b"\x1b[31m", id="escape-control"),
        pytest.param("Zoë Ünal\n".encode("latin-1"), id="latin-1"),
        pytest.param(CV_TEXT.encode("utf-16"), id="utf-16"),
        pytest.param(bytes(range(256)) * 4, id="binary-junk"),
        pytest.param(b" \n\t\r\n", id="only-whitespace"),
    ],
)
def test_binary_or_non_utf8_text_is_unsupported(data: bytes) -> None:
    """Bytes that are not clean UTF-8 text (or hold no text) are refused as unsupported."""
    with pytest.raises(UnsupportedFile):
        detect_kind(data)


def test_text_at_the_limit_is_accepted_and_above_it_refused() -> None:
    """Text up to MAX_TEXT_BYTES is accepted; one byte more is limit_exceeded (413)."""
    assert "text" == detect_kind(b"a" * MAX_TEXT_BYTES)
    with pytest.raises(LimitExceeded) as caught:
        detect_kind(b"a" * (MAX_TEXT_BYTES + 1))
    assert (413, MAX_TEXT_BYTES) == (caught.value.status, caught.value.detail["limit"])


def test_pdf_and_zip_magic_win_over_text() -> None:
    """A file starting like a PDF is a PDF even when all of it is ASCII."""
    assert "pdf" == detect_kind(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n")
