"""A paged listing that must end: at most `max_pages` pages, and never the same cursor twice.

A server can keep a listing going for ever by handing out a new `paginationToken` on
every page, by repeating one, or by never letting an `offset` reach its `total_count`.
The guard counts pages and remembers cursors; the client words the error.
"""

from __future__ import annotations

from collections.abc import Hashable


class PagingError(Exception):
    """The listing would not end; `str()` says why."""


class PageGuard:
    """Call `next(cursor)` before fetching each page (the first one included)."""

    __slots__ = ("_seen", "max_pages", "pages")

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages
        self.pages = 0
        self._seen: set[Hashable] = set()

    def next(self, cursor: Hashable) -> None:
        if self.pages >= self.max_pages:
            raise PagingError(f"paging did not end after {self.max_pages:,} pages")
        if cursor in self._seen:
            raise PagingError(f"the server sent page cursor {str(cursor)[:40]!r} a second time "
                              "(paging would never end)")
        self._seen.add(cursor)
        self.pages += 1
