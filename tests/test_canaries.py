"""The canary sweep: recognisable fake keys, tokens of an odd shape and a management key
go through every command in every output format (with --debug), and no canary — nor any
8-character piece of one — comes out: not on stdout or stderr, not in the saved plan,
the imported manifest, the JUnit report or the CI step summary.

Key tests go to a stand-in that echoes what it was sent, one character short of the key
(ModuleX scrubs the exact key from a test's message, so only a piece reaches mxsync:
mxsync must catch it by itself).
"""

from __future__ import annotations

import base64
import json
import random
import string
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from mxsync import ownership
from mxsync.secrets import SENSITIVE, fingerprint
from tests.cli_helpers import Run, mxsync, write_manifest
from tests.conftest import start_emulator, stop_emulator
from tests.hostile.server import Handler, HostileServer, Reply, Seen, json_reply

# Letters that are not hex digits, so no piece of a canary can match an id or a fingerprint.
_ALPHABET = "ghjkmnpqrstuvwxyzGHJKMNPQRSTUVWXYZ"
OWNER = "canary-owner"


def _random(n: int) -> str:
    return "".join(random.choices(_ALPHABET, k=n))


def canary_key() -> str:
    """A fake xAI key; CANARY sits past the first 8 characters, which ModuleX shows in a
    masked key (`xai-abcd...wxyz`) and which are therefore not secret."""
    return f"xai-{_random(6)}CANARY{_random(24)}"


def canary_token() -> str:
    """A token of no known shape (no mx_live_ prefix): only the run's own values catch it."""
    return f"{_random(5)}.CANARY~{_random(20)}"


def pieces(secret: str) -> Iterator[str]:
    """Every 8-character piece of a secret, except a key's own masked prefix."""
    for i in range(len(secret) - 7):
        piece = secret[i:i + 8]
        if not (i == 0 and secret.startswith("xai-")):
            yield piece


def echoing_standin(valid: set[str]) -> Handler:
    """xAI for the emulator's key tests: a completion for the `valid` keys; for any other,
    an error that repeats the key it was sent minus its last character, and the request."""

    def handle(seen: Seen) -> Reply:
        key = seen.headers.get("authorization", "").removeprefix("Bearer ")
        if key in valid:
            return json_reply({"id": "c-1", "model": "grok-4-fast", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "ok"}}]})
        return json_reply({"error": {"message": f"Incorrect API key provided: {key[:-1]}; "
                                                f"received {seen.raw()[:400]}"}}, status=400)

    return handle


@dataclass
class Sweep:
    url: str
    good: str  # an org where the keys go to the stand-in and pass
    echo: str  # an org whose keys are tested at the echoing gateway
    echo_url: str
    secrets: list[str]
    env: dict[str, str]
    tmp: Path
    outputs: list[tuple[str, str]] = field(default_factory=list)

    def run(self, *args: str, expect: tuple[int, ...] = (0,), **env: str) -> Run:
        run = mxsync("--debug", *args, env={**self.env, **env})
        self.outputs.append((" ".join(args), run.out + run.err))
        assert run.code in expect, (args, run.both)  # (--debug: an error comes with its traceback)
        return run

    def file(self, path: Path) -> None:
        self.outputs.append((str(path), path.read_text(errors="replace")))


@pytest.fixture
def sweep(tmp_path: Path) -> Iterator[Sweep]:
    keys = {n: canary_key() for n in ("ok1", "ok2", "echo1", "echo2", "stored", "mgmt")}
    with HostileServer(echoing_standin({keys["ok1"], keys["ok2"]})) as gateway:
        emulator = start_emulator("--xai-upstream", f"{gateway.url}/v1", rate_limit=0)
        emulator_url = emulator.url
        token, other_token = canary_token(), canary_token()
        good, echo = f"org-good-{_random(8)}", f"org-echo-{_random(8)}"
        stored = {"integration_name": "xai", "display_name": "stored", "api_key": keys["stored"],
                  "is_default": True,
                  "metadata": ownership.managed_metadata({}, OWNER, "stored",
                                                         fingerprint(keys["stored"]), None)}
        httpx.post(f"{emulator_url}/_emulator/world", json={
            "users": [{"token": token, "id": f"u-{good}", "email": "c@example.com",
                       "memberships": {good: "owner", echo: "admin"}},
                      {"token": other_token, "id": f"u-{echo}", "email": "d@example.com",
                       "memberships": {echo: "owner"}}],
            "orgs": [{"id": good, "name": "good", "credentials": []},
                     {"id": echo, "name": "echo", "credentials": [stored]}],
        }).raise_for_status()
        env = {"MODULEX_BASE_URL": emulator_url, "MODULEX_API_KEY": token,
               "OTHER_TOKEN": other_token, "XAI_MANAGEMENT_KEY": keys["mgmt"],
               "K_OK1": keys["ok1"], "K_OK2": keys["ok2"], "K_ECHO1": keys["echo1"],
               "K_ECHO2": keys["echo2"], "K_STORED": keys["stored"],
               "XDG_CACHE_HOME": str(tmp_path / "cache"),
               "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
        try:
            yield Sweep(emulator_url, good, echo, gateway.url,
                        [*keys.values(), token, other_token], env, tmp_path)
        finally:
            log = stop_emulator(emulator)
    assert "CANARY" not in log


def manifest(s: Sweep, name: str = "m.yaml") -> str:
    return write_manifest(s.tmp / name, [
        {"id": s.good, "xai": {"default": "ok1", "credentials": [
            {"name": "ok1", "api_key_env": "K_OK1"},
            {"name": "ok2", "api_key_env": "K_OK2", "metadata": {"team": "canary"}}]}},
        {"id": s.echo, "token_env": "OTHER_TOKEN", "xai": {"credentials": [
            {"name": "stored", "api_key_env": "K_STORED"},
            {"name": "echo1", "api_key_env": "K_ECHO1"},
            {"name": "echo2", "api_key_env": "K_ECHO2"}]}},
    ], owner=OWNER)


@pytest.mark.slow
def test_no_canary_leaves_by_any_command_or_format(sweep: Sweep) -> None:
    s = sweep
    path = manifest(s)
    # validate, including a manifest that pastes keys where names belong and as a mapping key
    s.run("validate", "-f", path)
    s.run("validate", "-f", path, "--check-env", "--json")
    minted = s.tmp / "minted.yaml"
    minted.write_text(yaml.safe_dump({
        "version": 1, "owner": OWNER, "xai_management": {"team_id": "team-c"},
        "orgs": [{"id": s.good, "xai": {"credentials": [
            {"name": "m", "mint": {"acls": ["api-key:model:*"]}}]}}]}))
    s.run("validate", "-f", str(minted), "--check-env")
    pasted = s.tmp / "pasted.yaml"
    pasted.write_text(
        f"version: 1\norgs:\n  - id: {s.good}\n    xai:\n      credentials:\n"
        f"        - name: p\n          api_key_env: {s.env['K_OK1']}\n"
        f"        - name: q\n          api_key: {s.env['K_OK2']}\n"
        f"          {s.env['K_ECHO1']}: x\n"
        f"    token_env: {s.env['MODULEX_API_KEY']}\n")
    s.run("validate", "-f", str(pasted), expect=(1,))
    s.run("validate", "-f", str(pasted), "--json", expect=(1,))

    # plan in every format, saved, shown
    planfile = s.tmp / "plan.json"
    s.run("plan", "-f", path)
    s.run("plan", "-f", path, "--json")
    s.run("plan", "-f", path, "--format", "markdown")
    s.run("plan", "-f", path, "--out", str(planfile), "--detailed-exitcode", expect=(2,))
    s.file(planfile)
    s.run("show", str(planfile))
    s.run("show", str(planfile), "--json")

    # apply: the saved plan (text), then the manifest (json); the echo org's tests fail
    applied = s.run("apply", str(planfile), expect=(1,))
    assert "key test failed: xAI answered 400" in applied.out  # the echo did come back
    s.run("apply", "-f", path, "--auto-approve", expect=(1,))
    s.run("apply", "-f", path, "--auto-approve", "--json", expect=(1,))

    # audit in every format, with the stored key tested at the echoing gateway
    for fmt in ("table", "json", "markdown", "junit"):
        run = s.run("audit", "-f", path, "--test-keys", "--format", fmt, expect=(1,))
        if fmt == "json":
            codes = {f["code"] for f in json.loads(run.out)["findings"]}
            assert "key-invalid" in codes  # the echoed message reached the report
    s.run("audit", "--all-orgs", "--test-keys", "--format", "markdown", expect=(1,))
    s.file(Path(s.env["GITHUB_STEP_SUMMARY"]))

    # import (to stdout and to a file, with --adopt) and the catalog
    s.run("import", "--all-orgs")
    imported = s.tmp / "imported.yaml"
    s.run("import", "--org", s.echo, "--adopt", "-o", str(imported), expect=(0, 1),
          MODULEX_API_KEY=s.env["OTHER_TOKEN"])
    s.file(imported)
    s.run("catalog")
    s.run("catalog", "--org", s.echo, "--json", "--refresh")
    for cached in (s.tmp / "cache").rglob("*"):
        if cached.is_file():
            s.file(cached)

    assert len(s.outputs) >= 25
    leaks = {}
    for where, text in s.outputs:
        for secret in s.secrets:
            found = next((p for p in pieces(secret) if p in text), None)
            if found:
                at = text.index(found)
                leaks.setdefault(where, text[max(0, at - 120):at + 60])
    assert not leaks, "\n\n".join(f"{where}:\n...{around}..." for where, around in leaks.items())
    assert not [where for where, text in s.outputs if "CANARY" in text]


def test_pieces_catch_what_they_should() -> None:
    """The sweep's own check: any 8 characters of a secret are found, its masked prefix is
    not counted."""
    key = canary_key()
    assert key[:8] not in set(pieces(key))
    assert key[1:9] in set(pieces(key)) and key[-8:] in set(pieces(key))
    assert not set(string.hexdigits) & set(_ALPHABET)  # no piece can be part of an id


def _shapeless_token() -> str:
    """A token the reader accepts whose body has no known shape: 40 lower-case letters (no
    hex digit, so no piece of it can be part of an id or a fingerprint)."""
    return "".join(random.choices("ghjkmnpqrstuvwxyz", k=40))


def _echoes(secret: str) -> list[str]:
    """How a server may hand a secret back: upper-cased, base64 (both alphabets, alone and
    inside a longer blob) and URL-encoded."""
    raw = secret.encode()
    return [secret.upper(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
            base64.b64encode(b"Bearer " + raw).decode(), urllib.parse.quote(secret, safe=""),
            "".join(f"%{b:02X}" for b in raw)]


def _hidden(secret: str) -> list[str]:
    """What must not come out for `secret`: its 8-character pieces, in every echoed form."""
    found = set(pieces(secret))
    for echo in _echoes(secret):
        found |= {echo[i:i + 16] for i in range(0, max(1, len(echo) - 15), 4)}
    return sorted(found)


def test_the_runs_own_secrets_in_live_names_never_come_out(emulator_url: str,
                                                          tmp_path: Path) -> None:
    """The ModuleX token (of no known shape) and a key, put by someone into live display
    names, labels and xAI key names, as they are and as a server may echo them back
    (upper-cased, base64, URL-encoded), are in no output of any command in any format
    and in no file mxsync writes -- also with --debug."""
    from tests.xai_helpers import MINT_ACLS, new_team

    token, key = _shapeless_token(), canary_key()
    org = f"org-names-{_random(8)}"
    team = new_team(emulator_url)
    echoes = [*_echoes(token), *_echoes(key)]
    labels = {f"echo{i}": value for i, value in enumerate(echoes)}
    stored = {"integration_name": "xai", "display_name": f"stored {token}", "api_key": key,
              "is_default": True,
              "metadata": ownership.managed_metadata({"note": token, **labels}, OWNER, "stored",
                                                     fingerprint(key), None)}
    strays = [{"integration_name": "xai", "display_name": f"by hand {echo}",
               "api_key": canary_key(), "metadata": {"copied": echo, "token": token}}
              for echo in [token, *echoes[:3]]]
    httpx.post(f"{emulator_url}/_emulator/world", json={
        "users": [{"token": token, "id": f"u-{org}", "email": "n@example.com",
                   "memberships": {org: "owner"}}],
        "orgs": [{"id": org, "name": f"names {token.upper()}",
                  "credentials": [stored, *strays]}],
    }).raise_for_status()
    for i, name in enumerate([token, token.upper(), _echoes(token)[1], key]):
        team.mint(f"stray-{i}-{name}")
    path = write_manifest(tmp_path / "m.yaml", [
        {"id": org, "token_env": "TOKEN", "xai": {"default": "stored", "credentials": [
            {"name": "stored", "api_key_env": "K_STORED", "metadata": {"team": "a"}},
            {"name": "minted", "mint": {"acls": MINT_ACLS}}]}},
    ], owner=OWNER, api={"url": emulator_url},
        xai_management={"team_id": team.id, "key_env": "MGMT", "url": team.url})
    summary = tmp_path / "summary.md"
    env = {"MODULEX_BASE_URL": emulator_url, "MODULEX_API_KEY": token, "TOKEN": token,
           "K_STORED": key, "MGMT": team.token, "XAI_MANAGEMENT_URL": team.url,
           "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "GITHUB_STEP_SUMMARY": str(summary)}
    outputs: list[tuple[str, str]] = []

    def run(*args: str, expect: tuple[int, ...] = (0, 1, 2)) -> None:
        done = mxsync("--debug", *args, env=env)
        outputs.append((" ".join(args), done.out + done.err))
        assert done.code in expect, (args, done.code)

    planfile, imported = tmp_path / "plan.json", tmp_path / "imported.yaml"
    run("plan", "-f", path)
    run("plan", "-f", path, "--json")
    run("plan", "-f", path, "--format", "markdown")
    run("plan", "-f", path, "--out", str(planfile), "--detailed-exitcode", expect=(2,))
    run("show", str(planfile))
    run("show", str(planfile), "--json")
    for fmt in ("table", "json", "markdown", "junit"):
        run("audit", "-f", path, "--format", fmt)
        run("audit", "--org", org, "--format", fmt)
    run("import", "--org", org)
    run("import", "--org", org, "-o", str(imported), expect=(0,))
    run("catalog", "--org", org, "--json", "--refresh")
    written = [planfile, imported, summary,
               *(p for p in (tmp_path / "cache").rglob("*") if p.is_file())]
    assert len(written) >= 4
    outputs += [(str(p), p.read_text(errors="replace")) for p in written]
    leaks = {}
    for secret in (token, key):
        for piece in _hidden(secret):
            for where, text in outputs:
                if piece.lower() in text.lower() and where not in leaks:
                    at = text.lower().index(piece.lower())
                    leaks[where] = f"{piece!r}: ...{text[max(0, at - 100):at + 60]}..."
    assert not leaks, "\n\n".join(f"{where}: {around}" for where, around in leaks.items())
    assert not [where for where, text in outputs if "CANARY" in text]
    # the planted labels and display names did come out, redacted
    assert sum(SENSITIVE in text for _, text in outputs) >= 20
    assert any("echo5" in t for _, t in outputs) and any("by hand" in t for _, t in outputs)
