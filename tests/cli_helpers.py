"""Running `mxsync` the way a user or CI does: a real process, its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


def mxsync(*args: str, env: dict[str, str], timeout: float = 120, stdin: str | None = None,
           cwd: Path | None = None) -> Run:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("MODULEX_", "XAI_", "NO_COLOR", "MXSYNC_"))}
    proc = subprocess.run([sys.executable, "-m", "mxsync", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=timeout,
                          input=stdin if stdin is not None else "", cwd=cwd)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def write_manifest(path: Path, orgs: list[dict[str, Any]], owner: str = "test",
                   **top: Any) -> str:
    doc = {"version": 1, "owner": owner, **top, "orgs": orgs}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def drain(master: int) -> bytes:
    """Everything a pseudo-terminal showed, until the program on it has closed it."""
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the other side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return b"".join(chunks)
