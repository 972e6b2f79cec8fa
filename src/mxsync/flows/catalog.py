"""`mxsync catalog`: an org's xAI models, from the local cache when it is fresh enough."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from mxsync.api import ApiError
from mxsync.errors import MxsyncError
from mxsync.flows.common import OrgDirectory, RunOptions, api_url, client_for, did_you_mean
from mxsync.manifest.model import DEFAULT_TOKEN_ENV
from mxsync.secrets import read_token


def read_catalog(org: str | None, options: RunOptions, refresh: bool,
                 token_env: str = DEFAULT_TOKEN_ENV) -> tuple[dict[str, Any], str, str]:
    """The org's xAI catalog: (detail, org, where it came from)."""
    from mxsync import catalog

    token = read_token(token_env)
    url = api_url(options.api_url, None)

    async def run() -> tuple[dict[str, Any], str, str]:
        async with client_for(None, options) as client:
            directory = OrgDirectory(client)
            chosen = org
            if chosen is None:
                manageable = await directory.manageable(token)
                if not manageable:
                    raise MxsyncError("the token is not owner or admin of any org",
                                      hint="pass --org ID of an org where it is")
                chosen = manageable[0]
            path = catalog.cache_file(url, chosen)
            now = time.time()
            cached = None if refresh else catalog.read_cache(path, now)
            if cached is not None:
                age = int(now - cached["fetched_at"])
                return cached["detail"], chosen, f"cached {age} s ago; --refresh reads it again"
            try:
                detail = await client.provider_detail(token, chosen, "xai")
            except ApiError as exc:
                if exc.status not in (401, 403):
                    raise
                manageable = await directory.manageable(token)
                raise MxsyncError(
                    f"the token in ${token_env} cannot read the catalog of org {chosen} "
                    f"({exc.status}: {exc.detail})",
                    hint=f"{did_you_mean(chosen, manageable)}orgs it can read: "
                         f"{', '.join(manageable) or 'none'}") from None
            catalog.write_cache(path, detail, now)
            return detail, chosen, "read now"

    return asyncio.run(run())
