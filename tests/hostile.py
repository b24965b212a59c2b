"""Hostile and broken files built from the real sample CVs, shared by the extraction and job
tests: a DOCX zip bomb, a DOCX declaring an external entity, a PDF that keeps the parser busy."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

RESUMES = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "resumes"
DOCX = RESUMES / "cvextract-sarah_connor.docx"


def make_pdf(objects: list[bytes]) -> bytes:
    """Return a PDF with `objects` numbered from 1, object 1 the catalogue, and a valid xref."""
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
    return out + trailer % (len(objects) + 1, xref)


def busy_pdf() -> bytes:
    """A 9 MB page of 400,000 text operators: extraction runs until its wall-clock cap."""
    ops = b"BT /F1 12 Tf " + b"1 0 0 1 5 5 Tm (ab) Tj " * 400_000 + b"ET"
    return make_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(ops), ops),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def xxe_docx() -> bytes:
    """The real DOCX whose document declares a SYSTEM entity."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(DOCX.read_bytes())) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            content = old.read(info)
            if info.filename == "word/document.xml":
                content = content.replace(
                    b"?>", b'?><!DOCTYPE w:document SYSTEM "file:///etc/passwd">', 1
                )
            new.writestr(info, content)
    return out.getvalue()


def zip_bomb_docx() -> bytes:
    """The real DOCX carrying 200 MB of compressed zeros."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(DOCX.read_bytes())) as old,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new,
    ):
        for info in old.infolist():
            new.writestr(info, old.read(info))
        with new.open("word/media/zeros.bin", "w") as entry:
            for _ in range(200):
                entry.write(b"\0" * (1 << 20))
    return out.getvalue()
