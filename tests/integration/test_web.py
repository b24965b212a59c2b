"""The web app over HTTP: the shell at page URLs (with honest 404s), static and vendored files,
the precache manifest, the service worker, and the security headers."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cvsession.api import routes_web
from cvsession.api.routes_web import WebAssets, prefers_html
from tests.integration.conftest import BASE, User

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HTML = {"Accept": BROWSER_ACCEPT}
INDEX = routes_web.WEB_DIR / "index.html"
NODE_MODULES = routes_web.PROJECT_DIR / "node_modules"
needs_node_modules = pytest.mark.skipif(
    not (NODE_MODULES / "fast-json-patch").is_dir(), reason="run ./scripts/bootstrap (npm ci)"
)


def importmap_hash(html: str) -> str:
    found = re.search(r'<script type="importmap">(.*?)</script>', html, re.S)
    assert found is not None
    return base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode()


def assert_shell(response: object, status: int = 200) -> None:
    """The response is the app shell with the security headers."""
    assert status == response.status_code  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    assert INDEX.read_bytes() == response.content  # type: ignore[attr-defined]
    assert headers["content-type"].startswith("text/html")
    assert ("nosniff", "same-origin", "no-cache") == (
        headers["x-content-type-options"],
        headers["referrer-policy"],
        headers["cache-control"],
    )


def guest(client: TestClient) -> None:
    """Give the client a guest cookie, as the web app does on first load."""
    assert 200 == client.post("/api/identity/guest").status_code


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    """A copy of a small web app: shell with an import map, a module, a test file."""
    root = tmp_path / "web"
    (root / "ui").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "index.html").write_text(
        '<!doctype html><script type="importmap">{"imports": {"fast-json-patch": '
        '"/vendor/fast-json-patch/index.mjs"}}</script><script type="module" '
        'src="/app/app.js"></script><script>alert(1)</script>'
    )
    (root / "app.js").write_text("import './ui/page.js';\n")
    (root / "ui" / "page.js").write_text("export const page = 1;\n")
    (root / "tests" / "page.test.js").write_text("// not shipped\n")
    (root / "sw.js").write_text(f"const BUILD = '{routes_web.BUILD_PLACEHOLDER}';\n")
    (root / "notes.py").write_text("secret = 1\n")
    return root


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("*/*", False),
        ("", False),
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/*;q=0.9, application/json;q=0.1", True),
        ("text/html;q=0, */*", False),
    ],
)
def test_prefers_html_ranks_by_quality(accept: str, html: bool) -> None:
    """text/html wins only with a strictly higher q; a tie keeps the JSON description."""
    assert html == prefers_html(accept)


def test_root_is_json_for_clients_and_the_shell_for_browsers(client: TestClient) -> None:
    """GET / answers JSON to an API client and the app shell to a browser, varying on Accept."""
    api = client.get("/")
    assert ("cvsession", "/openapi.json") == (api.json()["name"], api.json()["links"]["openapi"])
    page = client.get("/", headers=HTML)
    assert_shell(page)
    assert "Accept" == page.headers["vary"]


def test_shell_csp_allows_exactly_the_import_map(client: TestClient) -> None:
    """The CSP is strict and whitelists the shell's inline import map by its SHA-256."""
    policy = client.get("/sessions").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert f"'self' 'sha256-{importmap_hash(INDEX.read_text())}'" == directives["script-src"]
    assert ("'none'", "'none'", "'none'", "'self' ws: wss:", "'self'") == (
        directives["object-src"],
        directives["base-uri"],
        directives["frame-ancestors"],
        directives["connect-src"],
        directives["default-src"],
    )


def test_only_import_maps_are_hashed(client: TestClient, web_dir: Path) -> None:
    """A plain inline script in the shell gets no hash, so the browser refuses to run it."""
    client.app.state.web = WebAssets(web_dir=web_dir)  # type: ignore[attr-defined]
    policy = client.get("/new").headers["content-security-policy"]
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert 1 == script_src.count("'sha256-")
    assert importmap_hash((web_dir / "index.html").read_text()) in script_src


@pytest.mark.parametrize(
    "path",
    [
        "/sessions",
        "/new",
        "/session/s_123",
        "/session/s_123/upload",
        "/session/s_123/templates/template-customize",
        "/session/s_123/completed/completion-confirm",
    ],
)
def test_page_urls_serve_the_shell_without_a_cookie(client: TestClient, path: str) -> None:
    """Without a cookie every page URL is the shell (the app then asks the API)."""
    assert_shell(client.get(path, headers=HTML))


@pytest.mark.parametrize(
    "path",
    [
        "/session/s_123/nope",
        "/session/s_123/upload/nope",
        "/session/s_123/upload/template-select",  # a substep of another step
        "/session/s_123/completed/completion-confirm/extra",
        "/session/bad%20id",
    ],
)
def test_unknown_steps_are_404_with_the_shell(client: TestClient, path: str) -> None:
    """An unknown step or substep (or a malformed id) is a 404 carrying the shell."""
    response = client.get(path, headers=HTML)
    if path.endswith("/extra"):
        assert 404 == response.status_code  # no such route at all
    else:
        assert_shell(response, 404)


def test_foreign_and_missing_sessions_are_the_same_404(client: TestClient, alice: User) -> None:
    """With a valid cookie, another owner's session and a missing one answer the same 404;
    the caller's own session answers 200."""
    theirs = alice.new_session()["id"]
    guest(client)
    mine = client.post("/api/sessions", json={}, headers={"Origin": BASE})
    assert 201 == mine.status_code, mine.text
    assert_shell(client.get(f"/session/{mine.json()['id']}/analysis", headers=HTML))
    foreign = client.get(f"/session/{theirs}/upload/file-select", headers=HTML)
    missing = client.get("/session/s_doesnotexist/upload/file-select", headers=HTML)
    assert_shell(foreign, 404)
    assert_shell(missing, 404)
    assert {k: v for k, v in foreign.headers.items() if k != "date"} == {
        k: v for k, v in missing.headers.items() if k != "date"
    }


def test_invalid_cookie_is_treated_as_none(client: TestClient, alice: User) -> None:
    """A cookie that authenticates nobody gets the shell (the app will make a guest)."""
    sid = alice.new_session()["id"]
    client.cookies.set("cvsession_token", "not-a-token")
    assert_shell(client.get(f"/session/{sid}", headers=HTML))


def test_static_files_have_types_etags_and_revalidate(client: TestClient) -> None:
    """A module is text/javascript with an ETag and no-cache; its ETag gets a 304."""
    module = next(p for p in routes_web.WEB_DIR.rglob("*.js") if p.name != "sw.js")
    url = "/app/" + module.relative_to(routes_web.WEB_DIR).as_posix()
    first = client.get(url)
    assert (200, module.read_bytes()) == (first.status_code, first.content)
    assert ("text/javascript; charset=utf-8", "no-cache", "nosniff") == (
        first.headers["content-type"],
        first.headers["cache-control"],
        first.headers["x-content-type-options"],
    )
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert (304, b"") == (again.status_code, again.content)
    assert 200 == client.get(url, headers={"If-None-Match": '"other"'}).status_code


def test_app_index_is_the_shell(client: TestClient) -> None:
    """/app/index.html (the service worker's offline copy) carries the shell's CSP."""
    response = client.get("/app/index.html")
    assert_shell(response)
    assert "'sha256-" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/app/../pyproject.toml",
        "/app/%2e%2e/api/app.py",
        "/app/ui/%2e%2e/%2e%2e/api/routes_web.py",
        "/app/..%2f..%2fpyproject.toml",
        "/app/notes.py",
        "/app/.hidden.js",
        "/app/ui//page.js",
        "/app/ui%5cpage.js",
        "/app/missing.js",
        "/app/outside.js",
        "/app/ui",
    ],
)
def test_static_refuses_traversal_and_unknown_files(
    client: TestClient, web_dir: Path, path: str
) -> None:
    """Only existing files of known types inside web/ are served; the rest is 404."""
    (web_dir / ".hidden.js").write_text("x")
    (web_dir / "outside.js").symlink_to(web_dir.parent / "secret.js")
    (web_dir.parent / "secret.js").write_text("secret")
    client.app.state.web = WebAssets(web_dir=web_dir)  # type: ignore[attr-defined]
    assert 200 == client.get("/app/ui/page.js").status_code
    response = client.get(path)
    assert 404 == response.status_code
    assert b"secret" not in response.content


@needs_node_modules
def test_vendor_serves_runtime_dependencies_only(client: TestClient) -> None:
    """A module of a package.json dependency is served as JavaScript; devDependencies, other
    packages, non-module files and traversal are 404."""
    module = client.get("/vendor/fast-json-patch/index.mjs")
    assert 200 == module.status_code
    assert (NODE_MODULES / "fast-json-patch" / "index.mjs").read_bytes() == module.content
    assert "text/javascript; charset=utf-8" == module.headers["content-type"]
    assert "etag" in module.headers
    for path in (
        "/vendor/fake-indexeddb/build/esm/index.js",  # a devDependency
        "/vendor/left-pad/index.js",
        "/vendor/fast-json-patch/package.json",
        "/vendor/fast-json-patch/../fake-indexeddb/package.json",
        "/vendor/fast-json-patch/%2e%2e/%2e%2e/package.json",
        "/vendor/fast-json-patch",
    ):
        assert 404 == client.get(path).status_code, path


def test_vendor_without_node_modules_is_a_clear_503(client: TestClient, tmp_path: Path) -> None:
    """Without node_modules, a dependency's module is a problem+json 503 naming the fix."""
    (tmp_path / "package.json").write_text('{"dependencies": {"fast-json-patch": "3.1.1"}}')
    client.app.state.web = WebAssets(project_dir=tmp_path)  # type: ignore[attr-defined]
    response = client.get("/vendor/fast-json-patch/index.mjs")
    assert (503, "application/problem+json") == (
        response.status_code,
        response.headers["content-type"],
    )
    assert "./scripts/bootstrap" in response.json()["detail"]
    assert 404 == client.get("/vendor/not-a-dependency/index.mjs").status_code


@needs_node_modules
def test_manifest_lists_every_shell_file_and_each_is_served(client: TestClient) -> None:
    """The manifest holds the shell, web/ modules and the import map's vendor modules (with
    their relative imports), never sw.js; every listed URL answers 200 with that hash."""
    manifest = client.get("/app/manifest.json")
    assert ("no-cache", 200) == (manifest.headers["cache-control"], manifest.status_code)
    files = {f["url"]: f["sha256"] for f in manifest.json()["files"]}
    assert "/app/index.html" == manifest.json()["shell"]
    assert {
        "/app/index.html",
        "/vendor/fast-json-patch/index.mjs",
        "/vendor/fast-json-patch/module/core.mjs",
        "/vendor/fast-json-patch/module/helpers.mjs",
    } <= set(files)
    assert "/app/sw.js" not in files
    assert not any(u.endswith(".test.js") or "/tests/" in u for u in files)
    for url, sha in files.items():
        response = client.get(url)
        assert (200, sha) == (response.status_code, hashlib.sha256(response.content).hexdigest())


def test_manifest_version_follows_the_files(client: TestClient, web_dir: Path) -> None:
    """Changing any shell file changes the manifest version; tests are not listed."""
    client.app.state.web = WebAssets(web_dir=web_dir)  # type: ignore[attr-defined]
    before = client.get("/app/manifest.json").json()
    assert {"/app/app.js", "/app/index.html", "/app/ui/page.js"} <= {
        f["url"] for f in before["files"]
    }
    assert "/app/tests/page.test.js" not in {f["url"] for f in before["files"]}
    (web_dir / "ui" / "page.js").write_text("export const page = 2;\n")
    assert before["version"] != client.get("/app/manifest.json").json()["version"]


def test_service_worker_is_stamped_with_the_build(client: TestClient, web_dir: Path) -> None:
    """/sw.js may control the whole origin, is never cached stale, and carries the manifest
    version, so a deploy changes its bytes and the browser installs it."""
    client.app.state.web = WebAssets(web_dir=web_dir)  # type: ignore[attr-defined]
    version = client.get("/app/manifest.json").json()["version"]
    worker = client.get("/sw.js")
    assert ("/", "no-cache") == (
        worker.headers["service-worker-allowed"],
        worker.headers["cache-control"],
    )
    assert worker.headers["content-type"].startswith("text/javascript")
    assert f"const BUILD = '{version}';\n" == worker.text
    (web_dir / "app.js").write_text("// changed\n")
    assert worker.text != client.get("/sw.js").text


def test_real_service_worker_has_the_build_placeholder() -> None:
    """The shipped sw.js names its cache after the stamped build."""
    source = (routes_web.WEB_DIR / "sw.js").read_text()
    assert routes_web.BUILD_PLACEHOLDER in source


def test_shell_preloads_every_module_it_may_import(client: TestClient) -> None:
    """index.html preloads every JavaScript module of the app and the vendored ones, so the
    browser fetches them in parallel instead of one level of the import graph at a time."""
    shell = client.get("/app/index.html").text
    preloaded = set(re.findall(r'<link rel="modulepreload" href="([^"]+)">', shell))
    manifest = client.get("/app/manifest.json").json()
    modules = {
        f["url"]
        for f in manifest["files"]
        if f["url"].endswith((".js", ".mjs")) and f["url"] != "/app/app.js"
    }
    assert modules == preloaded
    for url in preloaded:
        assert 200 == client.get(url).status_code, url
