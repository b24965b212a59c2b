"""Sandboxed text extraction: real CVs, low-quality PDFs and hostile files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfWriter

from cvsession.core.errors import DomainError
from cvsession.processing.extract import (
    LOW_QUALITY_TEXT_WARNING,
    ExtractionFailed,
    extract_text,
    normalise,
)
from tests.hostile import busy_pdf, make_pdf, xxe_docx, zip_bomb_docx

RESUMES = Path(__file__).resolve().parents[3] / ".." / "shared" / "testdata" / "resumes"
GOOD = RESUMES / "rendercv-classic.pdf"


def assert_parent_healthy() -> None:
    """Extract a good file, proving the calling process still works."""
    assert "ok" == extract_text(GOOD.read_bytes()).quality


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rendercv-classic.pdf", ["John Doe", "john.doe@email.com", "Boğaziçi"]),
        ("reactiveresume-azurill.pdf", ["John Doe", "john.doe@gmail.com"]),
        ("reactiveresume-pikachu.pdf", ["John Doe", "Profiles"]),
        ("deedy-openfont.pdf", ["Debarghya Das", "CORNELL UNIVERSITY"]),
        ("billryan-resume-en.pdf", ["Bin Yuan", "Shanghai Jiao Tong University"]),
        ("cvextract-sarah_connor.docx", ["Sarah Connor", "sarah.connor@techdefense.com"]),
    ],
)
def test_real_cvs_extract_with_good_quality(name: str, expected: list[str]) -> None:
    """Every sample CV extracts with quality ok and holds its key strings."""
    result = extract_text((RESUMES / name).read_bytes())
    assert ("ok", []) == (result.quality, result.warnings)
    assert [] == [s for s in expected if s not in result.text]


def test_docx_header_text_comes_first() -> None:
    """The DOCX name and skills, which live only in header1.xml, are extracted."""
    result = extract_text((RESUMES / "cvextract-sarah_connor.docx").read_bytes())
    assert ("docx", 1) == (result.kind, result.pages)
    assert "Sarah Connor" in result.text.splitlines()[:3]
    assert "CISSP, OSCP, AWS Certified Security, CEH v11, CompTIA Security+" in result.text


def test_docx_text_boxes_and_tables_are_extracted_once() -> None:
    """Text boxes (read once, not again from the VML fallback) and table rows are extracted."""
    source = (RESUMES / "cvextract-sarah_connor.docx").read_bytes()
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    box = "<w:txbxContent><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:txbxContent>"
    extra = (
        f"<w:p {w} {mc}><w:r><w:t>Before box</w:t></w:r><w:r><mc:AlternateContent>"
        f"<mc:Choice Requires='wps'><w:drawing>{box.format('Boxed Name')}</w:drawing>"
        f"</mc:Choice><mc:Fallback><w:pict>{box.format('Boxed Name')}</w:pict></mc:Fallback>"
        f"</mc:AlternateContent></w:r></w:p>"
        f"<w:tbl {w}><w:tr><w:tc><w:p><w:r><w:t>Python</w:t></w:r></w:p></w:tc>"
        f"<w:tc><w:p><w:r><w:t>Expert</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            content = old.read(info)
            if info.filename == "word/document.xml":
                content = content.replace(b"<w:sectPr", extra.encode() + b"<w:sectPr", 1)
            new.writestr(info, content)
    text = extract_text(out.getvalue()).text
    assert 1 == text.count("Boxed Name")
    assert "Before box\nBoxed Name\nPython\tExpert" in text


def test_blank_pdf_is_low_quality() -> None:
    """A PDF with no text layer (like a scan) reports low quality, not garbage."""
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    buffer = io.BytesIO()
    writer.write(buffer)
    result = extract_text(buffer.getvalue())
    assert ("pdf", "", 1, "low") == (result.kind, result.text, result.pages, result.quality)
    assert ["no usable text layer (scanned?)"] == result.warnings


def test_normalise_fixes_ligatures_controls_and_spaces() -> None:
    """NFKC folds ligatures, control characters go, runs of spaces collapse."""
    assert "office fine\nnext\tcol" == normalise("o\ufb03ce  \u00a0 \ufb01ne\x00\x07 \r\nnext\tcol")


def test_truncated_pdf_fails_cleanly() -> None:
    """The first 60% of a real PDF fails as damaged."""
    data = GOOD.read_bytes()
    with pytest.raises(ExtractionFailed) as caught:
        extract_text(data[: len(data) * 6 // 10])
    failure = caught.value
    assert ("extraction_failed", 422, False) == (
        failure.code,
        failure.status,
        failure.detail["retryable"],
    )
    assert failure.message.startswith("Extraction failed: the PDF is damaged:")
    assert_parent_healthy()


def test_cyclic_page_tree_fails_cleanly() -> None:
    """A page tree whose node lists itself among its kids fails as damaged."""
    data = make_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )
    with pytest.raises(ExtractionFailed) as caught:
        extract_text(data)
    assert "damaged" == caught.value.detail["reason"]
    assert_parent_healthy()


def test_pdf_that_keeps_the_parser_busy_is_killed_at_the_timeout() -> None:
    """A 9 MB page of 400,000 text operators is killed when the wall-clock cap expires."""
    data = busy_pdf()
    with pytest.raises(ExtractionFailed) as caught:
        extract_text(data, timeout=1)
    assert ("timeout", "Extraction timed out after 1 s.") == (
        caught.value.detail["reason"],
        caught.value.message,
    )
    assert_parent_healthy()


def test_memory_cap_fails_cleanly() -> None:
    """A child that exceeds its memory cap fails with 'ran out of memory'."""
    with pytest.raises(ExtractionFailed) as caught:
        extract_text(GOOD.read_bytes(), memory_mb=20)
    assert ("memory", "Extraction failed: ran out of memory.") == (
        caught.value.detail["reason"],
        caught.value.message,
    )
    assert_parent_healthy()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param(b"", "unsupported_file", id="empty"),
        pytest.param(Path("/bin/true").read_bytes(), "unsupported_file", id="elf"),
        pytest.param(b"PK\x03\x04" + b"\0" * 100, "unsupported_file", id="zip-header-only"),
    ],
)
def test_unsupported_files_fail_before_the_child(data: bytes, code: str) -> None:
    """Empty files and executables are refused with unsupported_file."""
    with pytest.raises(DomainError) as caught:
        extract_text(data)
    assert code == caught.value.code
    assert_parent_healthy()


def test_docx_with_external_entity_is_refused() -> None:
    """A DOCX whose document declares a SYSTEM entity is refused as hostile."""
    with pytest.raises(DomainError) as caught:
        extract_text(xxe_docx())
    assert "hostile_file" == caught.value.code
    assert_parent_healthy()


def test_docx_zip_bomb_is_refused() -> None:
    """A DOCX carrying 200 MB of compressed zeros is refused as hostile."""
    with pytest.raises(DomainError) as caught:
        extract_text(zip_bomb_docx())
    assert "hostile_file" == caught.value.code
    assert_parent_healthy()


def test_pasted_text_is_extracted_without_a_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text upload comes back normalised (BOM, CRLF, ligatures), one page, quality ok,
    and no worker process is started."""

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("text must not start the extraction child")

    monkeypatch.setattr("cvsession.processing.extract.subprocess.Popen", no_child)
    pasted = (
        "\ufeffJane Roe\r\njane@example.com\r\n\r\n\r\n\r\nExperience\r\n"
        "Oﬃce   manager at Acme Corporation, London, 2019 to 2024\r\n"
    )
    result = extract_text(pasted.encode())
    assert ("text", 1, "ok", []) == (result.kind, result.pages, result.quality, result.warnings)
    expected = (
        "Jane Roe\njane@example.com\n\nExperience\n"
        "Office manager at Acme Corporation, London, 2019 to 2024"
    )
    assert expected == result.text


def test_short_text_is_low_quality() -> None:
    """A paste with almost no letters is low quality, like a scanned PDF."""
    result = extract_text(b"- - -\n12\n")
    assert ("text", "low", [LOW_QUALITY_TEXT_WARNING]) == (
        result.kind,
        result.quality,
        result.warnings,
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param(b"Jane Roe\n\0\0\0\x01\x02binary", "unsupported_file", id="nul-bytes"),
        pytest.param(b"Jane Roe " * 30_000, "limit_exceeded", id="over-200-KiB"),
    ],
)
def test_bad_text_is_refused_before_extraction(data: bytes, code: str) -> None:
    """Binary junk and text over 200 KiB are refused with the upload errors."""
    with pytest.raises(DomainError) as caught:
        extract_text(data)
    assert code == caught.value.code
