"""`mxsync catalog`: an org's xAI models as a table, or the catalog's JSON as read."""

from __future__ import annotations

from typing import Any

from mxsync.views import View


class CatalogText(View):
    def show(self, detail: dict[str, Any], org: str, source: str) -> None:
        from mxsync.catalog import models_table
        from mxsync.render.safe import printable

        self.out(f"xAI models in the catalog of {printable(org)} ({source}); prices in USD per "
                 "1M tokens, billed by xAI to your key (BYOK)")
        self.out(models_table(detail))


class CatalogJson(CatalogText):
    def show(self, detail: dict[str, Any], org: str, source: str) -> None:
        import json

        self.out(json.dumps(detail, indent=2))


VIEWS: dict[str, type[CatalogText]] = {"text": CatalogText, "json": CatalogJson}
