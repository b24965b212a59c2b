"""Build the services and a job engine on a data directory, as the server would, and a
Claude parser whose HTTP goes to a fake transport (tests never reach the network)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx2

from cvsession.api.app import Services
from cvsession.config import Settings
from cvsession.jobs import JobEngine
from cvsession.processing import llm

RESUMES = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "resumes"
CLASSIC_PDF = RESUMES / "rendercv-classic.pdf"
MODEL_RESUME = {
    "basics": {"name": "Model Parsed", "email": "model@example.com", "label": "Engineer"},
    "work": [{"name": "Acme", "position": "Engineer", "startDate": "2020-01"}],
    "skills": [{"name": "Python", "keywords": ["FastAPI", "SQL"]}],
}


def open_services(data_dir: Path) -> Services:
    return Services.open(Settings(data_dir=data_dir))


def engine_for(svc: Services, data_dir: Path, executor_id: str, **kwargs: Any) -> JobEngine:
    kwargs.setdefault("polling_interval", 0.05)
    kwargs.setdefault("backoff_base", 0.01)
    # Long, so tests rely on the immediate paths, not on housekeeping rounds to repair them.
    kwargs.setdefault("heartbeat_seconds", 30)
    kwargs.setdefault("model_parser", lambda: None)
    return JobEngine(data_dir, svc.sessions, svc.uploads, executor_id=executor_id, **kwargs)


def new_upload(svc: Services, filename: str, data: bytes) -> tuple[str, str, str]:
    """Create a user, a session and an upload; return (user_id, session_id, upload_id)."""
    user_id = svc.identity.create_user().user_id
    session_id = svc.sessions.create(user_id, title="CV").id
    upload = svc.uploads.save(user_id, session_id, filename, data)
    return user_id, session_id, upload.id


def enable_features(svc: Services, user_id: str, session_id: str, *features: str) -> None:
    """Complete the steps features need, then turn them on, as a user would."""
    for step in ("upload", "processing", "analysis"):
        svc.sessions.command(user_id, session_id, "step.complete", {"step": step})
    for fid in features:
        svc.sessions.command(
            user_id, session_id, "feature.toggle", {"feature": fid, "enabled": True}
        )


def fake_model(on_request: Callable[[], None], status: int = 200) -> Callable[[], Any]:
    """A model parser factory: the real SDK over a fake transport calling `on_request`."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        on_request()
        if status != 200:
            body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
            return httpx2.Response(status, json=body)
        block = {"type": "tool_use", "id": "toolu_1", "name": llm.TOOL_NAME, "input": MODEL_RESUME}
        return httpx2.Response(
            200,
            json={
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": llm.DEFAULT_MODEL,
                "content": [block],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 10},
            },
        )

    def factory() -> llm.ClaudeParser:
        client = anthropic.Anthropic(
            api_key="test",
            base_url="http://model.invalid",
            http_client=httpx2.Client(transport=httpx2.MockTransport(handle)),
            max_retries=0,
        )
        return llm.ClaudeParser(client)

    return factory


def counting_file(path: Path) -> Callable[[], None]:
    def count() -> None:
        with path.open("a") as f:
            f.write("x\n")

    return count


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value))
