"""One orchestration module per command: settle the inputs, read, plan or act.

Each is I/O around pure parts (planner, audit checks, importer); the CLI calls
one function per command and renders what it returns.
"""
