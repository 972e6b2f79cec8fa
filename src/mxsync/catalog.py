"""`mxsync catalog`: the xAI models an org can use, with a local cache.

The service caches catalog reads for up to 10 minutes, so a local copy younger than
that is as fresh as a new read and saves a round trip.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

CACHE_TTL_S = 600


def cache_file(api_url: str, org: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mxsync"
    digest = hashlib.sha256(f"{api_url}|{org}".encode()).hexdigest()[:16]
    return base / f"catalog-{digest}.json"


def read_cache(path: Path, now: float) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fetched = data.get("fetched_at")
    if not isinstance(fetched, (int, float)) or not 0 <= now - fetched < CACHE_TTL_S:
        return None
    return data


def write_cache(path: Path, detail: dict[str, Any], now: float) -> None:
    """Unique temporary files, so concurrent `catalog --refresh` runs never collide."""
    from mxsync.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps({"fetched_at": now, "detail": detail}))


def models_table(detail: dict[str, Any]) -> str:
    rows = [("MODEL", "NAME", "MAX INPUT", "MAX OUTPUT", "VISION", "INPUT $/1M", "OUTPUT $/1M")]
    for m in detail.get("models") or []:
        price = m.get("pricing") or {}

        def money(key: str, price: dict[str, Any] = price) -> str:
            value = price.get(key)
            return f"{value:.2f}" if isinstance(value, (int, float)) else "-"

        def count(key: str, m: dict[str, Any] = m) -> str:
            value = m.get(key)
            return f"{value:,}" if isinstance(value, int) else "-"

        rows.append((str(m.get("id")), str(m.get("display_name") or m.get("name") or "-"),
                     count("max_input_tokens"), count("max_output_tokens"),
                     {True: "yes", False: "no"}.get(m.get("supports_vision"), "-"),
                     money("input_per_million"), money("output_per_million")))
    from mxsync.render.table import table

    return "\n".join(table(rows, right={2, 3, 5, 6}))
