"""Child process that extracts raw text: `python -m cvsession.processing._extract_worker`.

Usage: `_extract_worker KIND MEMORY_MB CPU_SECONDS`, the file's bytes on stdin. It caps its
own resources before reading anything, then writes one JSON object on stdout:
`{"pages": [str, ...], "warnings": [str, ...]}` or `{"error": CODE, "message": str}`.
Normalisation and quality judgement happen in the parent (`extract.py`).
"""

from __future__ import annotations

import io
import json
import logging
import resource
import sys
import warnings
from collections.abc import Iterator
from typing import Any

MIB = 1024 * 1024
MAX_WARNINGS = 5

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_RT_HEADER = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/header"
_RT_FOOTER = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer"


def _limit(memory_mb: int, cpu_seconds: int) -> None:
    # Set here rather than in a preexec_fn: preexec_fn is unsafe in a threaded parent.
    # The CPU cap also bounds a child whose parent died before its wall-clock timeout fired.
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * MIB, memory_mb * MIB))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.messages) < MAX_WARNINGS:
            self.messages.append(record.getMessage())


def extract_pdf(data: bytes) -> dict[str, Any]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    collect = _Collect()
    logging.getLogger("pypdf").addHandler(collect)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                return {"error": "encrypted", "message": "the PDF is password-protected"}
            pages = [page.extract_text() for page in reader.pages]
    except FileNotDecryptedError:
        return {"error": "encrypted", "message": "the PDF is password-protected"}
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        return {"error": "damaged", "message": f"the PDF is damaged: {str(exc).rstrip('.')}"}
    if not pages:
        return {"error": "damaged", "message": "the PDF is damaged: it has no pages"}
    notes = collect.messages + [str(w.message) for w in caught]
    return {
        "pages": pages,
        "warnings": [f"the PDF is damaged (recovered): {m}" for m in notes[:MAX_WARNINGS]],
    }


def extract_docx(data: bytes) -> dict[str, Any]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        return {
            "error": "damaged",
            "message": f"the Word document is damaged: {str(exc).rstrip('.')}",
        }
    rels = sorted(
        (rel for rel in document.part.rels.values() if not rel.is_external),
        key=lambda rel: str(rel.target_part.partname),
    )
    headers = [r.target_part for r in rels if r.reltype == _RT_HEADER]
    footers = [r.target_part for r in rels if r.reltype == _RT_FOOTER]
    # Headers first: CV templates often put the name and contact details there.
    roots = [part._element for part in headers]
    roots.append(document.element.body)
    roots += [part._element for part in footers]
    lines = [line for root in roots for line in _blocks(root)]
    return {"pages": ["\n".join(lines)], "warnings": []}


def _blocks(container: Any) -> Iterator[str]:
    """Yield the lines of a body, header, footer, table cell or text box, in document order."""
    for child in container:
        if child.tag == _W + "p":
            yield from _paragraph(child)
        elif child.tag == _W + "tbl":
            yield from _table(child)
        elif child.tag in (_W + "sdt", _W + "sdtContent", _W + "customXml"):
            yield from _blocks(child)


def _paragraph(p: Any) -> Iterator[str]:
    parts: list[str] = []
    boxes: list[Any] = []
    _inline(p, parts, boxes)
    yield "".join(parts)
    for box in boxes:
        yield from _blocks(box)


def _inline(node: Any, parts: list[str], boxes: list[Any]) -> None:
    for child in node:
        tag = child.tag
        if tag == _W + "txbxContent":
            boxes.append(child)
        elif tag == _MC_FALLBACK:
            continue  # the legacy (VML) copy of a text box already read from mc:Choice
        elif tag == _W + "t":
            parts.append(child.text or "")
        elif tag == _W + "tab":
            parts.append("\t")
        elif tag in (_W + "br", _W + "cr"):
            parts.append("\n")
        else:
            _inline(child, parts, boxes)


def _table(tbl: Any) -> Iterator[str]:
    """Yield one line per row, its cells joined by tabs (nested tables stay in their cell)."""
    for row in tbl.iterchildren(_W + "tr"):
        cells = (" ".join(filter(None, _blocks(tc))) for tc in row.iterchildren(_W + "tc"))
        yield "\t".join(cell for cell in cells if cell.strip())


def main(argv: list[str]) -> int:
    kind, memory_mb, cpu_seconds = argv[0], int(argv[1]), int(argv[2])
    _limit(memory_mb, cpu_seconds)
    data = sys.stdin.buffer.read()
    try:
        result = extract_pdf(data) if kind == "pdf" else extract_docx(data)
    except MemoryError:
        result = {"error": "memory", "message": "ran out of memory"}
    except RecursionError:
        result = {
            "error": "damaged",
            "message": f"the {kind.upper()} is damaged: nested too deeply",
        }
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
