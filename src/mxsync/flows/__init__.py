"""One orchestration module per command: settle the inputs, read, plan or act.

Each is I/O around pure parts (planner, audit checks, importer); the CLI calls
one function per command and renders what it returns.
"""

# The manifest plan, apply and audit read when no -f is given (kept here, free of imports,
# because the CLI's option defaults need it before any flow is loaded).
DEFAULT_MANIFEST = "mxsync.yaml"
