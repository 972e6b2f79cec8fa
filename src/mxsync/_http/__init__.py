"""The HTTP policy under every client mxsync has (ModuleX, xAI's Management API).

One job a module: `guard` (which URLs may carry a secret), `proxies` (which proxy, if any),
`pool` (connections), `bounded_body` (an answer read counted and capped, compressed and
unpacked), `retry_after` (what a server's `Retry-After` is worth), `retry` (the pure
decision to send again, with its minimum and total waits), `paging` (a listing that must
end), `error_text` (a server's error as one redacted line) and `core` (the sending loop
that carries all of them out). The clients in `api.py` and `xai_management.py` only say
which endpoints exist and how their answers read.
"""
