"""The one vocabulary of plan and apply summaries.

`Plan: 1 to create, 0 to replace, 0 to delete, 1 default to change.` and `Apply complete:
1 created, 0 replaced, 0 deleted, 1 default changed.` name the same categories, with the
same words, in the same order, as Terraform's `Plan: 1 to add` / `Resources: 1 added` do:
a reader matches the two lines word by word. Both lines, both JSON summaries
(`Plan.summary`, `ApplyReport.counts`) and apply's progress count (`progress_total`) read
the categories from here, so none can drift from the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mxsync.render.words import plural

if TYPE_CHECKING:
    from mxsync.plan import Plan

Tense = Literal["plan", "apply"]


@dataclass(frozen=True)
class Category:
    """One counted category. `keys` are the summary's JSON keys it adds up; `verb` is said
    as `N to create` / `N created`, `noun` as `N defaults to change` / `N defaults changed`."""

    keys: tuple[str, ...]
    verb: str = ""
    done: str = ""
    noun: str = ""
    always: bool = False  # shown with a zero too (the counts a reader looks for)

    def words(self, n: int, tense: Tense) -> str:
        if self.noun:
            return plural(n, self.noun) + (" to change" if tense == "plan" else " changed")
        return f"{n} to {self.verb}" if tense == "plan" else f"{n} {self.done}"


# Credentials first, in the order of Terraform's add/change/destroy, then the org's own
# changes: its default and its settings (visible models, the Assistant).
CATEGORIES: tuple[Category, ...] = (
    Category(("create",), "create", "created", always=True),
    Category(("replace",), "replace", "replaced", always=True),
    Category(("update",), "update", "updated"),
    Category(("adopt",), "adopt", "adopted"),
    Category(("delete",), "delete", "deleted", always=True),
    Category(("set_default",), noun="default", always=True),
    Category(("set_models", "set_assistant"), noun="setting"),
)


def summary_parts(counts: Mapping[str, int], tense: Tense) -> list[str]:
    """Each category's words, in the one order; a category that may be absent (updates,
    adoptions, settings) is left out when its count is zero."""
    parts = []
    for category in CATEGORIES:
        n = sum(counts.get(key, 0) for key in category.keys)
        if n or category.always:
            parts.append(category.words(n, tense))
    return parts


def counted(counts: Mapping[str, int]) -> int:
    """How many items the summary counts: what apply's progress counts to."""
    return sum(counts.get(key, 0) for category in CATEGORIES for key in category.keys)


def progress_total(plan: Plan) -> int:
    """The total of apply's progress line: the items the plan's summary counts (each shown
    as one line of the apply report), not the steps besides them (tests, mints, revokes)."""
    return counted(plan.summary())
