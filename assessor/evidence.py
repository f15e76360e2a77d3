"""Evidence documents: what a collector observed, canonical JSON, SHA-256, secret redaction.

An evidence document is ``{kind, target, resource, data, redactions}``. Its hash is the
SHA-256 of that document's canonical JSON (sorted keys, no spaces, UTF-8), so the same
observation is stored once however many assessments share it. ``collected_at`` is kept
beside the document (on the link from an assessment's target to the evidence), not in it.

Secrets are redacted *before* an Evidence exists: the key name, a short fingerprint and the
place it was found are kept, never the value.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = Any  # a JSON value: dict, list, str, int, float, bool or None

# Key names that hold secrets (case-insensitive, anywhere in the name).
_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"credential|auth[_-]?(?:token|key|secret|pass)|session[_-]?key|signing[_-]?key|client[_-]?key|pwd|cookie)",
    re.IGNORECASE,
)
# In environment variables, *_AUTH names a credential too (REGISTRY_AUTH, NPM_AUTH).
_ENV_AUTH = re.compile(r"auth", re.IGNORECASE)
# Values that are secrets whatever their key is called.
_SECRET_VALUE = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}|"
    r"\bglpat-[A-Za-z0-9_-]{20,}|\bxox[abpors]-[A-Za-z0-9-]{10,}|"
    r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.)"
)
# PASSWORD_FILE=/run/secrets/db names where a secret is, not the secret
_PATH_KEY = re.compile(r"(_FILE|_PATH|_DIR)$", re.IGNORECASE)
SECRET_KEY_NAME = _SECRET_KEY  # public names for collectors that look for secrets themselves
SECRET_VALUE = _SECRET_VALUE
# user:password@ in URLs (proxies, registries).
_URL_USERINFO = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@"
)
# --password=VALUE, --token VALUE style arguments on a command line.
_ARG_SECRET = re.compile(
    r"^(?P<flag>--?[A-Za-z0-9_-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key)[A-Za-z0-9_-]*)=(?P<value>.+)$",
    re.IGNORECASE,
)


def _is_path_setting(key: str, value: str) -> bool:
    return bool(_PATH_KEY.search(key)) and value.startswith("/") and " " not in value


def fingerprint(value: str) -> str:
    """A short, stable fingerprint of a secret: enough to see it recur, not to recover it."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def redacted(value: str) -> str:
    return f"<redacted {fingerprint(value)}>"


@dataclass(frozen=True, slots=True)
class Redaction:
    """Where a secret was found and removed."""

    location: str
    key: str
    fingerprint: str

    def to_json(self) -> dict[str, str]:
        return {"location": self.location, "key": self.key, "fingerprint": self.fingerprint}


@dataclass(slots=True)
class Redactor:
    """Collects redactions while a collector builds one evidence document."""

    found: list[Redaction] = field(default_factory=list)

    def _record(self, location: str, key: str, value: str) -> str:
        self.found.append(Redaction(location, key, fingerprint(value)))
        return redacted(value)

    def text(self, value: str, location: str, key: str = "") -> str:
        """Redact secrets inside free text (URL passwords, known token shapes)."""

        def _url(m: re.Match[str]) -> str:
            hidden = self._record(location, key or "url-password", m["pw"])
            return f"{m['scheme']}{m['user']}:{hidden}@"

        value = _URL_USERINFO.sub(_url, value)
        if _SECRET_VALUE.search(value):
            return self._record(location, key or "secret-value", value)
        return value

    def key_value(self, key: str, value: str, location: str) -> str:
        """Redact a value whose key names a secret, or whose text looks like one."""
        if value and _SECRET_KEY.search(key) and not _is_path_setting(key, value):
            return self._record(location, key, value)
        return self.text(value, location, key)

    def env(self, entries: list[str], location: str) -> list[str]:
        """Redact ``KEY=VALUE`` environment entries, keeping each key."""
        out: list[str] = []
        for entry in entries:
            key, sep, value = entry.partition("=")
            if not sep:
                out.append(entry)
            elif value and _ENV_AUTH.search(key) and not _is_path_setting(key, value):
                out.append(f"{key}={self._record(f'{location}.{key}', key, value)}")
            else:
                out.append(f"{key}={self.key_value(key, value, f'{location}.{key}')}")
        return out

    def tree(self, value: Any, location: str, key: str = "") -> Any:
        """Redact every secret-looking string in a nested JSON value (config files)."""
        if isinstance(value, dict):
            return {k: self.tree(v, f"{location}.{k}", str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.tree(v, f"{location}[{i}]", key) for i, v in enumerate(value)]
        if isinstance(value, str):
            return self.key_value(key, value, location)
        return value

    def args(self, argv: list[str], location: str) -> list[str]:
        """Redact ``--password=VALUE`` and ``--password VALUE`` on a command line."""
        out: list[str] = []
        secret_next: str | None = None
        for arg in argv:
            if secret_next is not None:
                out.append(self._record(location, secret_next, arg))
                secret_next = None
                continue
            m = _ARG_SECRET.match(arg)
            if m:
                out.append(f"{m['flag']}={self._record(location, m['flag'], m['value'])}")
            elif (
                arg.startswith("-")
                and "=" not in arg
                and _SECRET_KEY.search(arg)
                and arg.lstrip("-")
            ):
                out.append(arg)
                secret_next = arg
            else:
                out.append(self.text(arg, location))
        return out

    def mapping(self, values: dict[str, Any], location: str) -> dict[str, Any]:
        """Redact string values of a flat mapping (labels, options) by key and by shape."""
        return {
            k: self.key_value(k, v, f"{location}.{k}") if isinstance(v, str) else v
            for k, v in values.items()
        }


def canonical_json(value: JSON) -> bytes:
    """Canonical JSON: sorted keys, no insignificant space, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation of one resource, already redacted."""

    kind: str
    target: str
    resource: str
    data: dict[str, Any]
    collected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    redactions: tuple[Redaction, ...] = ()

    def document(self) -> dict[str, Any]:
        """The hashed document (``collected_at`` is kept beside it, see module doc)."""
        return {
            "kind": self.kind,
            "target": self.target,
            "resource": self.resource,
            "data": self.data,
            "redactions": [r.to_json() for r in self.redactions],
        }

    def canonical(self) -> bytes:
        return canonical_json(self.document())

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    @classmethod
    def from_document(cls, doc: dict[str, Any], collected_at: datetime | None = None) -> Evidence:
        """Rebuild evidence from a stored or fixture document."""
        return cls(
            kind=str(doc["kind"]),
            target=str(doc.get("target", "")),
            resource=str(doc["resource"]),
            data=dict(doc["data"]),
            collected_at=collected_at or datetime.now(UTC),
            redactions=tuple(
                Redaction(str(r["location"]), str(r["key"]), str(r["fingerprint"]))
                for r in doc.get("redactions", [])
            ),
        )
