"""Running the emulator: in the foreground (`mxsync emulator`) or in a thread (`demo`)."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mxsync.emulator.faults import FaultPlan
from mxsync.emulator.store import FixtureError, World
from mxsync.errors import MxsyncError

SERVICE_RATE_LIMIT = 60  # calls a minute per ModuleX token, as the service has by default
MISSING_ORG_STATUSES = (400, 401)


@dataclass
class EmulatorOptions:
    host: str = "127.0.0.1"
    port: int = 0
    fixture: Path | None = None
    state: Path | None = None
    latency_ms: float = 0.0
    faults: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    hold_s: float = 30.0
    xai_upstream: str | None = None
    xai_propagation_s: float = 0.0
    log_level: str = "warning"
    # Requests per window for tokens without their own limit: 60, the service's default;
    # None (the CLI's `--rate-limit 0`) for none.
    rate_limit: int | None = SERVICE_RATE_LIMIT
    rate_window_s: float = 60.0
    retry_after_format: str = "seconds"  # or "http-date"
    max_page_size: int | None = None  # cap credential pages below the limit asked
    missing_org_status: int = 400  # the API reference's answer; the product page says 401


DEFAULT_FIXTURE = "data/emulator-fixture.yaml"
DEMO_TOKEN = "mx_live_demo_admin_0123456789abcdef"  # the default world's fake token


def default_fixture_text() -> str:
    """The built-in demo world, shipped as package data so that a wheel has it too."""
    from importlib.resources import files

    return files("mxsync").joinpath(DEFAULT_FIXTURE).read_text(encoding="utf-8")


def uses_default_world(options: EmulatorOptions) -> bool:
    return options.fixture is None and not (options.state is not None and options.state.exists())


def load_world(options: EmulatorOptions) -> World:
    """`--state` wins when its file exists: the emulator then resumes where it stopped.
    Without it and without `--fixture`, the world is the built-in demo world.
    `--fixture` with a state file that exists is refused: the fixture would not be used."""
    if options.state is not None and options.state.exists():
        if options.fixture is not None:
            raise MxsyncError(
                f"--fixture {options.fixture} would not be used: the state file {options.state} "
                "already holds a world, and the emulator resumes from it",
                hint=f"delete {options.state} to start again from the fixture, or drop "
                     "--fixture to resume the saved world")
        world = World.from_json(json.loads(options.state.read_text(encoding="utf-8")))
    else:
        import yaml

        world = World()
        if options.fixture is not None:
            source, text = str(options.fixture), options.fixture.read_text(encoding="utf-8")
        else:
            source, text = "the built-in demo world", default_fixture_text()
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            world.merge_fixture(yaml.load(text, Loader=loader) or {})
        except FixtureError as exc:
            raise MxsyncError(f"{source}: {exc}",
                              hint="fix the fixture; `mxsync emulator --print-fixture` "
                                   "shows the format") from None
    world.state_file = options.state
    world.xai.propagation_s = options.xai_propagation_s
    world.missing_org_status = options.missing_org_status
    world.save()
    return world


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn writes the head and the body of an answer separately; without NODELAY, Nagle's
    # algorithm holds the body until the client's delayed ACK (~40 ms per request). Accepted
    # sockets inherit the option. Measured: 114 -> see benchmarks/RESULTS.md requests/s.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            # One line on purpose: the whole story and the fix.
            raise MxsyncError(f"port {port} on {host} is already in use: stop what listens "
                              "there, or pick another with --port N (--port 0 picks a free "
                              "one)") from None
        raise MxsyncError(f"cannot listen on {host}:{port}: {exc.strerror}",
                          hint="check --host and --port") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _server(options: EmulatorOptions, world: World) -> tuple[Any, socket.socket]:
    import uvicorn

    from mxsync.emulator.app import build_asgi
    from mxsync.emulator.ratelimit import RateLimitOptions

    plan = None
    if options.faults:
        plan = FaultPlan(rates=options.faults, seed=options.seed, hold_s=options.hold_s)
    limits = RateLimitOptions(
        per_minute=options.rate_limit,
        window_s=options.rate_window_s,
        retry_after_format="http-date" if options.retry_after_format == "http-date" else "seconds",
    )
    asgi = build_asgi(world, latency_ms=options.latency_ms, plan=plan,
                      xai_upstream=options.xai_upstream, limits=limits,
                      max_page_size=options.max_page_size)
    config = uvicorn.Config(
        asgi,
        http="h11",  # the fault layer drops connections through h11's transport
        ws="none",
        lifespan="off",
        log_level=options.log_level,
        access_log=options.log_level in ("debug", "info"),
        timeout_keep_alive=30,
        backlog=2048,
    )
    return uvicorn.Server(config), _bind(options.host, options.port)


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve_forever(options: EmulatorOptions) -> None:
    """Print the base URL as one line on stdout once listening, then log to stderr.

    The `--state` file is locked for as long as the emulator runs (see
    `mxsync.emulator.state_lock`)."""
    from mxsync.emulator.state_lock import locked_state

    with locked_state(options.state):
        default = uses_default_world(options)  # before loading: loading writes the state file
        world = load_world(options)
        server, sock = _server(options, world)
        # The welcome first: whoever waits for the URL line has it by then.
        print(_welcome(options, world, default), file=sys.stderr, flush=True)
        print(base_url(sock), flush=True)
        logging.basicConfig(stream=sys.stderr, level=options.log_level.upper())
        asyncio.run(server.serve(sockets=[sock]))


def _welcome(options: EmulatorOptions, world: World, default: bool) -> str:
    """What world is served and, when it holds the built-in demo user, its fake token.
    Tokens of a user's own fixture are the user's: they are never printed."""
    orgs = ", ".join(world.orgs) or "none"
    saved = f" It is saved to {options.state}." if options.state is not None else ""
    token = f" Its fake token: {DEMO_TOKEN}." if DEMO_TOKEN in world.users else ""
    if default:
        return (f"No --fixture: serving the built-in demo world (orgs {orgs}).{token}{saved} "
                "See it with `mxsync emulator --print-fixture`.")
    if options.fixture is not None:
        return f"Serving the world of {options.fixture} (orgs {orgs}).{saved}"
    return (f"Resuming the world saved in {options.state} (orgs {orgs}).{token} "
            f"To start afresh, stop the emulator and delete {options.state}.")


class BackgroundEmulator:
    """An emulator on a free loopback port, in a daemon thread, for `mxsync demo`."""

    def __init__(self, options: EmulatorOptions) -> None:
        self.world = load_world(options)
        self._server, self._sock = _server(options, self.world)
        self.url = base_url(self._sock)
        self._thread = threading.Thread(target=self._run, name="mxsync-emulator", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def __enter__(self) -> BackgroundEmulator:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator stopped while starting")
            self._thread.join(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(5)
