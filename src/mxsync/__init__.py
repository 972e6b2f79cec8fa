"""mxsync: manage ModuleX xAI credentials as code.

Kept import-free on purpose: `mxsync --version` and `--help` must start fast, so
heavy modules (httpx, jsonschema, the emulator) load only in the
command that needs them.
"""

__version__ = "0.1.0"
