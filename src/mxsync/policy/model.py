"""What a policy evaluation found: the messages of each rule, with the file that said them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["deny", "warn"]


@dataclass(frozen=True, order=True)
class PolicyMessage:
    """One message of a `deny`/`violation` (kind "deny") or `warn` rule (kind "warn").

    `files` are the policy files whose rules said it: one in the usual case; several when
    only the files of the namespace together produce it (a rule using a helper elsewhere)."""

    kind: Kind
    namespace: str
    rule: str
    msg: str
    files: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def file(self) -> str:
        return ", ".join(self.files) or "(policies)"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "rule": self.rule,
                "msg": self.msg, "file": self.file, "details": self.details}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicyMessage:
        kind: Kind = "deny" if data.get("kind") == "deny" else "warn"
        file = str(data.get("file") or "")
        details = data.get("details")
        return cls(kind=kind, namespace=str(data.get("namespace") or ""),
                   rule=str(data.get("rule") or kind), msg=str(data.get("msg") or ""),
                   files=tuple(f for f in file.split(", ") if f),
                   details=details if isinstance(details, dict) else {})


@dataclass(frozen=True)
class PolicyResult:
    """Every message of every rule of the chosen namespaces, and which rules ran."""

    files: tuple[str, ...]
    namespaces: tuple[str, ...]
    messages: tuple[PolicyMessage, ...] = ()

    @property
    def denies(self) -> list[PolicyMessage]:
        return [m for m in self.messages if m.kind == "deny"]

    @property
    def warnings(self) -> list[PolicyMessage]:
        return [m for m in self.messages if m.kind == "warn"]

    @property
    def denied(self) -> bool:
        return bool(self.denies)

    def to_json(self) -> dict[str, Any]:
        return {"files": list(self.files), "namespaces": list(self.namespaces),
                "denied": self.denied,
                "summary": {"deny": len(self.denies), "warn": len(self.warnings)},
                "messages": [m.to_json() for m in self.messages]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicyResult:
        messages = data.get("messages")
        return cls(files=tuple(str(f) for f in data.get("files") or ()),
                   namespaces=tuple(str(n) for n in data.get("namespaces") or ()),
                   messages=tuple(PolicyMessage.from_json(m) for m in messages or ()
                                  if isinstance(m, dict)))
