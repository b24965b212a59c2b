"""The web app: its shell at every page URL, its static files, vendored modules, service worker.

Page URLs (`/`, `/sessions`, `/new`, `/pair`, `/admin`,
`/session/{id}[/{step}[/{substep}]]`) all answer with the same shell, `web/index.html`; the
JavaScript renders the page. The status still tells the truth: an unknown step, or a session
the cookie's owner does not have, is a 404 (with the shell, which renders a not-found page),
and a missing session looks exactly like another owner's.

Every HTML and static response carries a strict CSP. The one inline script allowed is the
shell's `<script type="importmap">` (Chromium cannot load an import map from a file): its
SHA-256 is computed from index.html and put in `script-src`.

Files change under a running server during development, so nothing is cached across a change:
each file is re-read when its size or mtime changes, and served with an ETag and
`Cache-Control: no-cache` (the browser revalidates, a 304 costs one round trip).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response

from cvsession import __version__
from cvsession.api import auth
from cvsession.api.app import Svc
from cvsession.api.problems import problem
from cvsession.core import catalogue
from cvsession.core.errors import NotFound
from cvsession.service.sessions import SESSION_ID

router = APIRouter(include_in_schema=False)

PACKAGE_DIR = Path(__file__).resolve().parents[1]
WEB_DIR = PACKAGE_DIR / "web"
# node_modules and package.json sit at the repository root (an editable install); an installed
# wheel has no node_modules, and /vendor answers 503 with the setup command.
PROJECT_DIR = PACKAGE_DIR.parents[1]
SETUP_COMMAND = "./scripts/bootstrap"

SHELL = "index.html"
SHELL_URL = "/app/index.html"
SERVICE_WORKER = "sw.js"
BUILD_PLACEHOLDER = "__CVSESSION_BUILD__"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
VENDOR_SUFFIXES = frozenset({".js", ".mjs"})
TEST_DIRS = frozenset({"test", "tests", "__tests__"})
_TEST_FILE = re.compile(r".*\.(test|spec)\.m?js$")
_PACKAGE_NAME = re.compile(r"(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*")
_IMPORTMAP = re.compile(
    r"<script\b[^>]*\btype\s*=\s*[\"']?importmap[\"']?[^>]*>(.*?)</script\s*>", re.I | re.S
)
# Relative specifiers of static and dynamic imports and re-exports in a vendored module.
_RELATIVE_IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}/[^"'\s]+)["']""")

BASE_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "connect-src": "'self' ws: wss:",
    "frame-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def csp(script_hashes: tuple[str, ...] = ()) -> str:
    """The Content-Security-Policy, allowing the inline scripts with these SHA-256 hashes."""
    policy = dict(BASE_CSP)
    policy["script-src"] = " ".join(["'self'", *(f"'sha256-{h}'" for h in script_hashes)])
    return "; ".join(f"{k} {v}" for k, v in policy.items())


def security_headers(script_hashes: tuple[str, ...] = ()) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp(script_hashes),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-cache",
    }


@dataclass(frozen=True, slots=True)
class Asset:
    data: bytes
    sha256: str
    content_type: str

    @property
    def etag(self) -> str:
        return f'"{self.sha256[:32]}"'


def safe_file(root: Path, relative: str, suffixes: frozenset[str] | None = None) -> Path | None:
    """The regular file `relative` names inside `root`, or None.

    Refuses empty, `.`/`..` and hidden segments, backslashes and NULs before touching the disk,
    then checks that the resolved path (symlinks followed) is still inside `root`.
    """
    parts = relative.split("/")
    if any(not p or p.startswith(".") or "\\" in p or "\0" in p for p in parts):
        return None
    suffix = PurePosixPath(relative).suffix.lower()
    if suffix not in (suffixes if suffixes is not None else CONTENT_TYPES):
        return None
    base = root.resolve()
    try:
        path = base.joinpath(*parts).resolve()
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


@dataclass
class WebAssets:
    """The web app's files on disk, read lazily and re-read when they change."""

    web_dir: Path = WEB_DIR
    project_dir: Path = PROJECT_DIR
    _files: dict[Path, tuple[tuple[int, int], Asset]] = field(default_factory=dict, repr=False)

    @property
    def node_modules(self) -> Path:
        return self.project_dir / "node_modules"

    def read(self, path: Path) -> Asset:
        """The file's bytes and hash, from the cache while its size and mtime are unchanged."""
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._files.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        data = path.read_bytes()
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        asset = Asset(data, hashlib.sha256(data).hexdigest(), content_type)
        if len(self._files) > 4096:
            self._files.clear()
        self._files[path] = (key, asset)
        return asset

    def shell(self) -> tuple[Asset, tuple[str, ...]]:
        """index.html and the SHA-256 (base64) of each inline import map in it."""
        asset = self.read(self.web_dir / SHELL)
        text = asset.data.decode("utf-8")
        hashes = tuple(
            base64.b64encode(hashlib.sha256(m.group(1).encode("utf-8")).digest()).decode()
            for m in _IMPORTMAP.finditer(text)
        )
        return asset, hashes

    def import_map(self) -> dict[str, str]:
        """The shell's import map entries (specifier → URL); {} when there is none."""
        text = self.read(self.web_dir / SHELL).data.decode("utf-8")
        imports: dict[str, str] = {}
        for match in _IMPORTMAP.finditer(text):
            try:
                entries = json.loads(match.group(1)).get("imports", {})
            except (ValueError, AttributeError):
                continue
            imports.update({str(k): str(v) for k, v in entries.items()})
        return imports

    def static(self, relative: str) -> Path | None:
        return safe_file(self.web_dir, relative)

    def runtime_packages(self) -> frozenset[str] | None:
        """The names in package.json "dependencies" (not devDependencies); None without it."""
        path = self.project_dir / "package.json"
        try:
            spec = json.loads(self.read(path).data)
        except FileNotFoundError:
            return None
        except ValueError:
            return frozenset()
        deps = spec.get("dependencies") if isinstance(spec, dict) else None
        return frozenset(deps) if isinstance(deps, dict) else frozenset()

    def vendor(self, package: str, relative: str) -> Path | None:
        """A module file of a runtime dependency; raises `VendorMissing` when not installed."""
        if not _PACKAGE_NAME.fullmatch(package) or "node_modules" in relative.split("/"):
            return None
        packages = self.runtime_packages()
        if packages is not None and package not in packages:
            return None
        root = self.node_modules / package
        if packages is None or not root.is_dir():
            raise VendorMissing(package)
        return safe_file(root, relative, VENDOR_SUFFIXES)

    def shell_files(self) -> list[str]:
        """URLs of every file the shell needs offline: web/ (but tests and sw.js) and vendor."""
        urls = []
        for path in sorted(self.web_dir.rglob("*")):
            relative = path.relative_to(self.web_dir).as_posix()
            parts = relative.split("/")
            if (
                relative == SERVICE_WORKER
                or TEST_DIRS.intersection(parts[:-1])
                or _TEST_FILE.fullmatch(parts[-1])
                or self.static(relative) is None
            ):
                continue
            urls.append("/app/" + relative)
        return urls + self.vendor_files()

    def vendor_files(self) -> list[str]:
        """The vendored modules the import map reaches, following their relative imports."""
        pending = [u for u in self.import_map().values() if u.startswith("/vendor/")]
        seen: set[str] = set()
        while pending:
            url = pending.pop()
            if url in seen:
                continue
            path = self._vendor_path(url)
            if path is None:
                continue
            seen.add(url)
            text = self.read(path).data.decode("utf-8", "replace")
            for spec in _RELATIVE_IMPORT.findall(text):
                target = PurePosixPath(url).parent / spec
                pending.append(_normalise_url(target))
        return sorted(seen)

    def _vendor_path(self, url: str) -> Path | None:
        package, relative = split_vendor_path(url.removeprefix("/vendor/"))
        try:
            return self.vendor(package, relative) if package else None
        except VendorMissing:
            return None

    def manifest(self) -> dict[str, Any]:
        """The precache list: each shell file with its hash, and a version over all of them."""
        files = []
        for url in self.shell_files():
            path = (
                self._vendor_path(url)
                if url.startswith("/vendor/")
                else self.static(url.removeprefix("/app/"))
            )
            if path is not None:
                files.append({"url": url, "sha256": self.read(path).sha256})
        digest = hashlib.sha256(__version__.encode())
        for f in files:
            digest.update(f"{f['url']} {f['sha256']}\n".encode())
        return {"version": digest.hexdigest()[:20], "shell": SHELL_URL, "files": files}


class VendorMissing(Exception):
    """A runtime dependency is listed but not installed (npm ci has not run)."""


def split_vendor_path(path: str) -> tuple[str, str]:
    """("@scope/name" or "name", path inside the package); ("", "") if malformed."""
    parts = path.split("/")
    size = 2 if parts[0].startswith("@") else 1
    if len(parts) <= size:
        return "", ""
    return "/".join(parts[:size]), "/".join(parts[size:])


def _normalise_url(path: PurePosixPath) -> str:
    out: list[str] = []
    for part in path.parts:
        if part == "..":
            if len(out) > 1:
                out.pop()
        elif part != ".":
            out.append(part)
    return "/" + "/".join(p for p in out if p != "/")


def assets(request: Request) -> WebAssets:
    web: WebAssets = request.app.state.web
    return web


def send(request: Request, asset: Asset, headers: dict[str, str], status: int = 200) -> Response:
    """The asset, or 304 when the client's copy (If-None-Match) is current."""
    headers = {**headers, "ETag": asset.etag}
    if status == 200 and asset.etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(asset.data, status_code=status, media_type=asset.content_type, headers=headers)


def _etags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


def shell(request: Request, status: int = 200) -> Response:
    asset, hashes = assets(request).shell()
    return send(request, asset, security_headers(hashes), status)


def prefers_html(accept: str) -> bool:
    """Whether `accept` ranks text/html above application/json (a browser navigating).

    Each type takes the q of the most specific range that matches it (RFC 9110 §12.5.1);
    a tie (`*/*`, or no Accept at all) keeps JSON, the API's answer.
    """
    ranges: dict[str, float] = {}
    for item in accept.lower().split(","):
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges[media] = q

    def quality(kind: str) -> float:
        family = kind.split("/")[0] + "/*"
        return next((ranges[m] for m in (kind, family, "*/*") if m in ranges), 0.0)

    return quality("text/html") > quality("application/json")


@router.get("/", include_in_schema=True, tags=["meta"], response_model=None)
async def root(request: Request) -> Response | dict[str, Any]:
    """What this server is and where to start; a browser gets the web app."""
    if prefers_html(request.headers.get("accept", "")):
        response = shell(request)
        response.headers["Vary"] = "Accept"
        return response
    return {
        "name": "cvsession",
        "version": __version__,
        "description": "Durable, resumable sessions for a nine-step CV-building workflow.",
        "links": {
            "app": "/sessions",
            "openapi": "/openapi.json",
            "docs": "/docs",
            "health": "/healthz",
            "catalogue": "/api/catalogue",
            "identity": "/api/identity",
        },
    }


@router.get("/sessions")
@router.get("/new")
@router.get("/pair")
@router.get("/admin")
async def page(request: Request) -> Response:
    return shell(request)


@router.get("/session/{session_id}")
@router.get("/session/{session_id}/{step}")
@router.get("/session/{session_id}/{step}/{substep}")
async def session_page(
    request: Request, svc: Svc, session_id: str, step: str = "", substep: str = ""
) -> Response:
    """The shell; 404 for an unknown step or a session the cookie's owner does not have."""
    if not SESSION_ID.fullmatch(session_id) or (step and not catalogue.is_step(step)):
        return shell(request, 404)
    if substep and substep not in catalogue.substep_ids(step):
        return shell(request, 404)
    token = request.cookies.get(auth.COOKIE)
    user_id = await anyio.to_thread.run_sync(svc.identity.authenticate, token) if token else None
    if user_id is not None:
        try:
            await anyio.to_thread.run_sync(svc.sessions.get, user_id, session_id)
        except NotFound:
            return shell(request, 404)
    return shell(request)


@router.get("/app/manifest.json")
async def manifest(request: Request) -> Response:
    """Every shell file with its hash; the service worker precaches them."""
    body = await anyio.to_thread.run_sync(assets(request).manifest)
    data = json.dumps(body, separators=(",", ":")).encode()
    asset = Asset(data, hashlib.sha256(data).hexdigest(), "application/json")
    return send(request, asset, security_headers())


@router.get("/app/{path:path}")
async def static(request: Request, path: str) -> Response:
    web = assets(request)
    found = web.static(path)
    if found is None:
        return problem(404, "Not Found", f"no file /app/{path[:200]}")
    if found.name == SHELL and found.parent == web.web_dir.resolve():
        return shell(request)
    return send(request, web.read(found), security_headers())


@router.get("/vendor/{path:path}")
async def vendor(request: Request, path: str) -> Response:
    """A module of a runtime npm dependency (package.json "dependencies"), from node_modules."""
    package, relative = split_vendor_path(path)
    web = assets(request)
    try:
        found = web.vendor(package, relative) if package else None
    except VendorMissing:
        return problem(
            503,
            "JavaScript dependencies not installed",
            f"node_modules/{package} is missing: run {SETUP_COMMAND} (it runs `npm ci`) "
            "in the project directory, then reload.",
            extra={"code": "vendor_missing", "package": package},
        )
    if found is None:
        return problem(404, "Not Found", f"no module /vendor/{path[:200]}")
    return send(request, web.read(found), security_headers())


@router.get("/sw.js")
async def service_worker(request: Request) -> Response:
    """The service worker, stamped with the build so that a deploy installs a new one."""
    web = assets(request)
    build = (await anyio.to_thread.run_sync(web.manifest))["version"]
    source = web.read(web.web_dir / SERVICE_WORKER).data.replace(
        BUILD_PLACEHOLDER.encode(), build.encode()
    )
    asset = Asset(source, hashlib.sha256(source).hexdigest(), CONTENT_TYPES[".js"])
    headers = security_headers() | {"Service-Worker-Allowed": "/"}
    return send(request, asset, headers)
