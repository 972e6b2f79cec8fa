"""What a ModuleX call can end in, other than an answer mxsync can use.

Kept free of httpx so that code which only needs to tell these failures apart (the
executor, audit, the key-test classifier) does not load the HTTP stack.
"""

from __future__ import annotations

from mxsync.errors import MxsyncError

# Error statuses named after what they mean to a user; the rest are "error".
_KINDS = {400: "invalid", 401: "unauthorized", 402: "billing", 403: "forbidden", 404: "not-found",
          409: "conflict", 422: "invalid", 429: "rate-limited"}


def _mentions_missing_org(detail: str) -> bool:
    text = detail.lower()
    return "organization" in text and any(w in text for w in ("required", "missing", "header"))


class ApiError(MxsyncError):
    """The service answered with an error status (or an answer mxsync cannot use)."""

    def __init__(self, status: int, detail: str, method: str, path: str, org: str | None,
                 *, hint: str | None = None) -> None:
        where = f" for org {org}" if org else ""
        self.kind = ("missing-org" if status in (400, 401) and _mentions_missing_org(detail)
                     else _KINDS.get(status, "server" if status >= 500 else "error"))
        what = {"conflict": "a conflict", "missing-org": "the organization is missing"}.get(self.kind)
        said = f"answered {status} ({what}): {detail}" if what else f"answered {status}: {detail}"
        if hint is None and self.kind == "missing-org":
            hint = ("ModuleX did not take the X-Organization-ID header (it answers 400 or 401 for "
                    "that); check the org id in the manifest or --org")
        super().__init__(f"ModuleX API {method} {path}{where} {said}", hint=hint)
        self.status = status
        self.detail = detail
        self.method = method
        self.path = path
        self.org = org


class MalformedAnswer(ApiError):
    """A success status whose body is not the shape the call needs: named, never a KeyError."""

    def __init__(self, status: int, what: str, method: str, path: str, org: str | None) -> None:
        super().__init__(status, f"the answer is not what the API contract says: {what}",
                         method, path, org,
                         hint="the service (or something between it and mxsync) sent an unexpected "
                              "answer; re-run with --debug, and report it if it persists")
        self.kind = "malformed"


class ResponseTooLarge(ApiError):
    """The answer passed the size cap: stopped reading rather than holding it in memory."""

    def __init__(self, status: int, what: str, method: str, path: str, org: str | None) -> None:
        super().__init__(status, what, method, path, org,
                         hint="no ModuleX answer needs this much; check --api-url, or raise the "
                              "client's max_response_bytes if a very large org really needs it")
        self.kind = "too-large"


class Unreachable(MxsyncError):
    """No usable answer: connection refused, DNS, TLS, time-outs, or waits past their bound."""


class OutcomeUnknown(MxsyncError):
    """A non-idempotent call may or may not have taken effect."""
