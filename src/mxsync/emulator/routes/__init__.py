"""The emulator's routers, one module per area of the API; `mxsync.emulator.app` mounts them.

Each module has a `router(ctx)` that closes over the shared `EmulatorContext`, so a
handler reaches the world without a lookup per request.
"""
