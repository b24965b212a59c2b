"""CV uploads over HTTP: content checks, limits, ownership, deletion with the session; pasted
text as a third kind."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import TESTDATA, User

RESUMES = TESTDATA / "resumes"


def _post(
    user: User,
    sid: str,
    data: bytes,
    filename: str = "cv.pdf",
    content_type: str = "application/octet-stream",
) -> object:
    return user.post(
        f"/api/sessions/{sid}/uploads",
        params={"filename": filename},
        content=data,
        headers={"Content-Type": content_type},
    )


@pytest.mark.parametrize("name", ["rendercv-classic.pdf", "cvextract-sarah_connor.docx"])
def test_real_cv_round_trip(alice: User, name: str) -> None:
    """A real PDF or DOCX is recognised by content, listed, and downloads byte-exact."""
    data = (RESUMES / name).read_bytes()
    sid = alice.new_session()["id"]
    created = _post(alice, sid, data, filename=f"../../etc/{name}", content_type="text/plain")
    assert 201 == created.status_code, created.text  # type: ignore[attr-defined]
    body = created.json()  # type: ignore[attr-defined]
    assert (name.rsplit(".", 1)[1], len(data), name) == (
        body["kind"],
        body["size"],
        body["filename"],
    )
    listed = alice.get(f"/api/sessions/{sid}/uploads").json()["uploads"]
    assert [body["id"]] == [u["id"] for u in listed]
    download = alice.get(f"/api/sessions/{sid}/uploads/{body['id']}")
    assert data == download.content
    assert "attachment" in download.headers["content-disposition"]


def test_renamed_executable_and_empty_are_refused(alice: User) -> None:
    """An ELF binary named cv.pdf is 415; an empty body is 422; nothing is stored."""
    sid = alice.new_session()["id"]
    elf = Path("/bin/true").read_bytes()[:4096]
    refused = _post(alice, sid, elf)
    assert 415 == refused.status_code  # type: ignore[attr-defined]
    assert "unsupported_file" == refused.json()["code"]  # type: ignore[attr-defined]
    assert 422 == _post(alice, sid, b"").status_code  # type: ignore[attr-defined]
    assert [] == alice.get(f"/api/sessions/{sid}/uploads").json()["uploads"]


def test_oversized_upload_is_413(alice: User) -> None:
    """More than 10 MiB is refused while streaming with 413 problem+json."""
    sid = alice.new_session()["id"]
    response = _post(alice, sid, b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024 + 10))
    assert 413 == response.status_code  # type: ignore[attr-defined]


def test_docx_zip_bomb_is_refused_before_parsing(alice: User) -> None:
    """A DOCX whose parts inflate past the limits is refused as hostile."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (80 * 1024 * 1024))
    sid = alice.new_session()["id"]
    response = _post(alice, sid, buffer.getvalue(), filename="bomb.docx")
    assert 422 == response.status_code  # type: ignore[attr-defined]
    assert "hostile_file" == response.json()["code"]  # type: ignore[attr-defined]


def test_files_are_deleted_with_the_session(
    client: TestClient, alice: User, tmp_path: Path
) -> None:
    """Deleting the session removes its upload records and the files on disk."""
    sid = alice.new_session()["id"]
    _post(alice, sid, (RESUMES / "rendercv-classic.pdf").read_bytes())
    folder = tmp_path / "data" / "uploads"
    assert 1 == len(list(folder.iterdir()))
    assert 204 == alice.delete(f"/api/sessions/{sid}").status_code
    assert [] == list(folder.iterdir())


PASTED_CV = "Jane Roe\njane@example.com\n\nExperience\nEngineer at Acme — 2020 to 2024\n"


def test_pasted_text_round_trip(alice: User) -> None:
    """Pasted UTF-8 text (sent as text/plain) is stored as kind text and downloads as text."""
    sid = alice.new_session()["id"]
    data = PASTED_CV.encode()
    created = _post(alice, sid, data, filename="pasted.txt", content_type="text/plain")
    assert 201 == created.status_code, created.text  # type: ignore[attr-defined]
    body = created.json()  # type: ignore[attr-defined]
    assert ("text", len(data)) == (body["kind"], body["size"])
    download = alice.get(f"/api/sessions/{sid}/uploads/{body['id']}")
    assert (data, "text/plain; charset=utf-8") == (
        download.content,
        download.headers["content-type"],
    )


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        pytest.param(b"Jane Roe\n\0\0\x01\x02\xff", 415, "unsupported_file", id="binary-junk"),
        pytest.param("Zoë Ünal\n".encode("latin-1"), 415, "unsupported_file", id="latin-1"),
        pytest.param(b"Jane Roe, engineer. " * 11_000, 413, "limit_exceeded", id="over-200-KiB"),
    ],
)
def test_bad_pasted_text_is_refused(alice: User, data: bytes, status: int, code: str) -> None:
    """Binary junk and non-UTF-8 text are 415, text over 200 KiB is 413; nothing is stored."""
    sid = alice.new_session()["id"]
    refused = _post(alice, sid, data, filename="pasted.txt", content_type="text/plain")
    assert (status, code) == (refused.status_code, refused.json()["code"])  # type: ignore[attr-defined]
    assert [] == alice.get(f"/api/sessions/{sid}/uploads").json()["uploads"]
