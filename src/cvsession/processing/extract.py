"""Text extraction from an uploaded CV, sandboxed in a resource-limited child process.

Plain text (a pasted CV) needs no parser: it is decoded and normalised in process. pypdf and
python-docx run in `python -m cvsession.processing._extract_worker`, capped in
address space (RLIMIT_AS), CPU time (RLIMIT_CPU) and wall-clock time (killed on expiry), so a
hostile or broken file costs at most one child; the calling process never parses the bytes.
"""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from cvsession.core.errors import DomainError
from cvsession.processing.detect import Kind, check_docx, decode_text, detect_kind

__all__ = ["ExtractedText", "ExtractionFailed", "Quality", "extract_text", "normalise"]

Quality = Literal["ok", "low"]

LOW_QUALITY_WARNING = "no usable text layer (scanned?)"
LOW_QUALITY_TEXT_WARNING = "too little text for a CV"
MIN_CHARS_PER_PAGE = 50  # letters and digits; a real CV page has hundreds
MAX_GARBAGE_SHARE = 0.3
PAGE_SEPARATOR = "\n\n"
WORKER = "cvsession.processing._extract_worker"
_STDERR_TAIL = 2000


class ExtractionFailed(DomainError):
    """The file could not be turned into text; retrying the same bytes will not help."""

    code = "extraction_failed"
    status = 422

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message, retryable=False, **detail)


@dataclass(frozen=True)
class ExtractedText:
    """Normalised text of a CV. `pages` is 1 for a DOCX or text, which have no pagination."""

    kind: Kind
    text: str
    pages: int
    quality: Quality
    warnings: list[str] = field(default_factory=list)


def extract_text(data: bytes, *, timeout: float = 20, memory_mb: int = 512) -> ExtractedText:
    """Check `data` and return its text, extracted in a child capped by the given limits.

    Raises `UnsupportedFile` (not a PDF/DOCX/text), `LimitExceeded` (too large), `HostileFile`
    (zip bomb, DOCTYPE) before starting the child, and `ExtractionFailed` when the child
    times out, runs out of memory or CPU, crashes, or finds the file damaged. A PDF without a
    usable text layer is not an error: it comes back with `quality="low"` and a warning.
    Text is returned without starting a child (decoding UTF-8 cannot hurt the caller).
    """
    kind = detect_kind(data)
    if kind == "docx":
        check_docx(data)
    if kind == "text":
        pages, warnings = [decode_text(data)], []
    else:
        raw = _run_worker(kind, data, timeout=timeout, memory_mb=memory_mb)
        pages = [str(page) for page in raw["pages"]]
        warnings = [str(w) for w in raw.get("warnings", [])]
    quality = _judge(pages)
    if quality == "low":
        warnings.append(LOW_QUALITY_TEXT_WARNING if kind == "text" else LOW_QUALITY_WARNING)
    text = PAGE_SEPARATOR.join(normalise(page) for page in pages).strip("\n")
    return ExtractedText(kind, text, len(pages), quality, warnings)


def _run_worker(kind: Kind, data: bytes, *, timeout: float, memory_mb: int) -> dict[str, Any]:
    cpu_seconds = max(1, math.ceil(timeout))
    # -I: the child must not import modules from the working directory or PYTHON* variables.
    command = [sys.executable, "-I", "-m", WORKER, kind, str(memory_mb), str(cpu_seconds)]
    with subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a terminal's Ctrl-C goes to the server, which kills us
    ) as proc:
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise ExtractionFailed(
                f"Extraction timed out after {timeout:g} s.", reason="timeout"
            ) from None
    try:
        result: dict[str, Any] = json.loads(out)
    except ValueError:
        raise _crashed(proc.returncode, err.decode("utf-8", "replace"), cpu_seconds) from None
    if "error" in result:
        reason = str(result["error"])
        raise ExtractionFailed(f"Extraction failed: {result['message']}.", reason=reason)
    return result


def _crashed(returncode: int, stderr: str, cpu_seconds: int) -> ExtractionFailed:
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return ExtractionFailed("Extraction failed: ran out of memory.", reason="memory")
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return ExtractionFailed(
            f"Extraction failed: used more than {cpu_seconds} s of CPU time.", reason="cpu"
        )
    return ExtractionFailed(
        f"Extraction crashed (exit status {returncode}).",
        reason="crashed",
        stderr=stderr[-_STDERR_TAIL:],
    )


def _is_garbage(ch: str) -> bool:
    # U+FFFD, private-use glyphs (icon fonts, unmapped CIDs), unassigned code points, controls.
    category = unicodedata.category(ch)
    return ch == "\ufffd" or category in ("Co", "Cn") or (category == "Cc" and ch not in "\n\t\f")


def _judge(pages: list[str]) -> Quality:
    meaningful = sum(ch.isalnum() for page in pages for ch in page)
    garbage = sum(_is_garbage(ch) for page in pages for ch in page)
    if meaningful < MIN_CHARS_PER_PAGE * max(len(pages), 1):
        return "low"
    if garbage > MAX_GARBAGE_SHARE * (garbage + meaningful):
        return "low"
    return "ok"


_SPACES = re.compile(r"[^\S\n\t]+")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalise(text: str) -> str:
    """NFKC (so 'ﬁ' becomes 'fi'), drop control and garbage characters, collapse spaces."""
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(
        ch
        for ch in text
        if not _is_garbage(ch) and (unicodedata.category(ch) != "Cf" or ch in "\n\t")
    )
    text = _SPACES.sub(" ", text)
    text = _TRAILING.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()
