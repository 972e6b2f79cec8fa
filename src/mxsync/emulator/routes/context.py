"""What every router shares: the world, the options, and the fault layer's counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Header

from mxsync.emulator.store import User, World

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from mxsync.emulator.faults import FaultLayer, Stats


@dataclass
class EmulatorContext:
    world: World
    xai_upstream: str | None = None
    # Set by `build_asgi` once the fault layer wraps the app; the stats live there
    # because that layer also counts what never reaches FastAPI (injected faults).
    layer: FaultLayer | None = None
    # `--max-page-size`: the service may cap a credential page below the limit asked.
    max_page_size: int | None = None

    @property
    def stats(self) -> Stats:
        if self.layer is None:
            raise RuntimeError("the emulator app runs without its fault layer")
        return self.layer.stats

    def caller(self) -> Callable[..., Awaitable[User]]:
        """Dependency: a valid token. Async, so it runs on the event loop, not in a thread."""
        world = self.world

        async def caller(authorization: str | None = Header(None),
                         x_api_key: str | None = Header(None)) -> User:
            return world.authenticate(authorization, x_api_key)

        return caller

    def scoped(self) -> Callable[..., Awaitable[tuple[User, str]]]:
        """Dependency of every credential, catalog and settings route: a valid token, an org
        header, and the owner or admin role in that org."""
        world = self.world

        async def scoped(authorization: str | None = Header(None),
                         x_api_key: str | None = Header(None),
                         x_organization_id: str | None = Header(None)) -> tuple[User, str]:
            user = world.authenticate(authorization, x_api_key)
            return user, world.authorize(user, x_organization_id)

        return scoped
