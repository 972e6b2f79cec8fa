"""The ModuleX token goes only where the operator says: a URL that only a manifest or a
saved plan names is refused before anything is sent. A capturing server on loopback
proves that nothing reached it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key


class Capture(ThreadingHTTPServer):
    """Answers 500 to everything and remembers every Authorization header it was sent."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                outer.seen.append(self.headers.get("Authorization", ""))
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def capture() -> Iterator[Capture]:
    server = Capture()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _manifest(tmp_path: Path, org: TestOrg, url: str) -> str:
    return write_manifest(tmp_path / "mxsync.yaml", [{"id": org.id, "xai": {
        "default": "k", "credentials": [{"name": "k", "api_key_env": "XAI_KEY_K"}]}}],
        api={"url": url})


def test_a_pull_requests_api_url_gets_no_token(capture: Capture, new_org: OrgFactory,
                                               tmp_path: Path) -> None:
    org = new_org()
    manifest = _manifest(tmp_path, org, capture.url)
    env = {"MODULEX_API_KEY": org.token, "XAI_KEY_K": fake_key()}
    run = mxsync("plan", "-f", manifest, env=env)
    assert run.code == 1
    assert "refusing to send the ModuleX token" in run.err
    assert f"{capture.url}" in run.err and "MXSYNC_ALLOW_URLS" in run.err
    assert capture.seen == []
    # The operator pointing elsewhere does not make the manifest's URL acceptable either.
    run = mxsync("plan", "-f", manifest, "--api-url", org.url, env=env)
    assert run.code == 1 and capture.seen == []


def test_the_operator_may_allow_the_manifests_url(capture: Capture, new_org: OrgFactory,
                                                  tmp_path: Path) -> None:
    org = new_org()
    manifest = _manifest(tmp_path, org, capture.url)
    run = mxsync("plan", "-f", manifest, env={"MODULEX_API_KEY": org.token,
                                              "XAI_KEY_K": fake_key(),
                                              "MXSYNC_ALLOW_URLS": capture.url + "/"})
    assert run.code == 1  # the capturing server answers 500
    assert capture.seen and capture.seen[0] == f"Bearer {org.token}"


def test_an_edited_saved_plan_cannot_redirect_the_token(capture: Capture, new_org: OrgFactory,
                                                        tmp_path: Path) -> None:
    org = new_org()
    manifest = write_manifest(tmp_path / "mxsync.yaml", [{"id": org.id, "xai": {
        "default": "k", "credentials": [{"name": "k", "api_key_env": "XAI_KEY_K"}]}}])
    env = {"MODULEX_API_KEY": org.token, "XAI_KEY_K": fake_key()}
    plan_file = tmp_path / "plan.json"
    made = mxsync("plan", "-f", manifest, "--out", str(plan_file), env={
        **env, "MODULEX_BASE_URL": org.url})
    assert made.code == 0, made.err
    doc = json.loads(plan_file.read_text())
    doc["api_url"] = capture.url
    plan_file.write_text(json.dumps(doc))
    run = mxsync("apply", str(plan_file), env=env)
    assert run.code == 1
    assert "refusing to send the ModuleX token" in run.err
    assert capture.seen == []
    assert org.xai() == []


def test_a_manifests_management_url_gets_no_management_key(capture: Capture, new_org: OrgFactory,
                                                           tmp_path: Path) -> None:
    org = new_org()
    manifest = write_manifest(tmp_path / "mxsync.yaml", [{"id": org.id, "xai": {
        "default": "m", "credentials": [{"name": "m", "mint": {
            "acls": ["api-key:model:*", "api-key:endpoint:chat"]}}]}}],
        xai_management={"team_id": "team-x", "url": capture.url})
    run = mxsync("plan", "-f", manifest, env={"MODULEX_API_KEY": org.token,
                                              "MODULEX_BASE_URL": org.url,
                                              "XAI_MANAGEMENT_KEY": "mgmt-canary-0123456789"})
    assert run.code == 1
    assert "refusing to send the xAI management key" in run.err
    assert "xai_management.url" in run.err and "XAI_MANAGEMENT_URL" in run.err
    assert capture.seen == []


def test_the_operators_management_url_flag_lets_the_manifests_url_through(
        capture: Capture, new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    manifest = write_manifest(tmp_path / "mxsync.yaml", [{"id": org.id, "xai": {
        "default": "m", "credentials": [{"name": "m", "mint": {
            "acls": ["api-key:model:*", "api-key:endpoint:chat"]}}]}}],
        xai_management={"team_id": "team-x", "url": capture.url})
    run = mxsync("plan", "-f", manifest, "--management-url", capture.url,
                 env={"MODULEX_API_KEY": org.token, "MODULEX_BASE_URL": org.url,
                      "XAI_MANAGEMENT_KEY": "mgmt-canary-0123456789"})
    assert run.code == 1  # the capturing server answers 500
    assert capture.seen and capture.seen[0] == "Bearer mgmt-canary-0123456789"
