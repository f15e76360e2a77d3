"""The few files whose content the image reader looks at, and what it keeps of them.

Only files chosen by path are read, each up to a bound: private keys and credential files
(to report them, by path and fingerprint, never their content), ``.env`` files (the names of
secret-looking keys), and package databases (which packages are installed). Everything else
in a layer is indexed by its header alone.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assessor.collectors.limits import Limits
from assessor.evidence import secret_fingerprint
from assessor.redact import find, is_placeholder, key_kind

Finding = dict[str, Any]
Analyse = Callable[[str, bytes, int], list[Finding]]

_PRIVATE_KEY = re.compile(rb"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----")
_SSH_KEY_NAMES = frozenset(
    {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity"}
)
_KEY_SUFFIXES = (".pem", ".key", ".p8", ".priv")
_KEYSTORE_SUFFIXES = (".p12", ".pfx")

# credential files by path suffix, with the content that shows a credential is really there
# (None: the file's presence is the finding)
_CREDENTIAL_FILES: dict[str, tuple[str, re.Pattern[bytes] | None]] = {
    ".aws/credentials": ("aws-credentials", re.compile(rb"(?i)aws_secret_access_key\s*=\s*\S")),
    # bounded, and no "/" in the password part: each "://" is read once (git percent-encodes)
    ".git-credentials": ("git-credentials", re.compile(rb"://[^:/\s@]{1,256}:[^@\s/]{1,1024}@")),
    ".netrc": ("netrc", re.compile(rb"(?i)\bpassword\s+\S")),
    ".docker/config.json": (
        "docker-credentials",
        re.compile(rb'"(auth|identitytoken|registrytoken)"\s*:\s*"[^"]+'),
    ),
    ".npmrc": ("npm-credentials", re.compile(rb"(?i)(_authToken|_auth|_password)\s*=\s*\S")),
    ".pypirc": ("pypi-credentials", re.compile(rb"(?i)\bpassword\s*[:=]\s*\S")),
    ".kube/config": (
        "kubeconfig-credentials",
        re.compile(rb"(?i)\b(token|client-key-data|password)\s*:\s*\S"),
    ),
    ".config/gcloud/application_default_credentials.json": ("gcloud-credentials", None),
    ".config/gcloud/credentials.db": ("gcloud-credentials", None),
    ".azure/accessTokens.json": ("azure-credentials", None),
    ".azure/msal_token_cache.json": ("azure-credentials", None),
}

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d/"
APK_INSTALLED = "lib/apk/db/installed"
RPM_DATABASES = frozenset(
    {
        "var/lib/rpm/Packages",
        "var/lib/rpm/Packages.db",
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/Packages.db",
    }
)


@dataclass(frozen=True, slots=True)
class Reader:
    limit: int  # bytes read from the start of the file
    analyse: Analyse


def file_fingerprint(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()[:12]


def _private_key(path: str, data: bytes, size: int) -> list[Finding]:
    m = _PRIVATE_KEY.search(data)
    if not m:
        return []
    end = data.find(b"-----END", m.end())
    block = data[m.start() : end if end > 0 else len(data)]
    kind = (m.group(1) or b"").decode("ascii", "replace").strip() or "PKCS#8"
    return [
        {
            "kind": "private-key",
            "path": path,
            "detail": f"{kind} private key",
            "fingerprint": file_fingerprint(block),
        }
    ]


def _keystore(path: str, data: bytes, size: int) -> list[Finding]:
    return [
        {
            "kind": "keystore",
            "path": path,
            "detail": "PKCS#12 keystore",
            "fingerprint": file_fingerprint(data),
        }
    ]


def _credentials(kind: str, pattern: re.Pattern[bytes] | None) -> Analyse:
    def analyse(path: str, data: bytes, size: int) -> list[Finding]:
        if pattern is not None and not pattern.search(data):
            return []
        return [{"kind": kind, "path": path, "detail": kind, "fingerprint": file_fingerprint(data)}]

    return analyse


# KEY=value; the value is stripped in Python (a lazy ``(.*?)\s*$`` re-reads a run of spaces
# from each of its positions)
_ENV_LINE = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]{0,255})[ \t]*=(.*)")


def _env_file(path: str, data: bytes, size: int) -> list[Finding]:
    """The secret-named (or secret-shaped) keys of a ``.env`` file, each with the fingerprint
    of its value when that value is long enough to have one (never the value)."""
    keys: list[dict[str, Any]] = []
    for line in data.decode("utf-8", "replace").splitlines():
        m = _ENV_LINE.match(line)
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip().strip("'\"")
        if not value or is_placeholder(value):
            continue
        if key_kind(key) is not None or find(value):
            keys.append({"key": key, "fingerprint": secret_fingerprint(value)})
    if not keys:
        return []
    return [
        {
            "kind": "env-file",
            "path": path,
            "detail": "secret-looking keys: " + ", ".join(k["key"] for k in keys),
            "keys": keys,
            "fingerprint": file_fingerprint(data),
        }
    ]


def _paragraphs(text: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                out.append(current)
                current = {}
            continue
        if line[0] in " \t":
            continue  # continuation lines (descriptions, conffiles)
        key, sep, value = line.partition(":")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        out.append(current)
    return out


def _dpkg(path: str, data: bytes, size: int) -> list[Finding]:
    packages = [
        {"name": p["Package"], "version": p.get("Version", "")}
        for p in _paragraphs(data.decode("utf-8", "replace"))
        if "Package" in p and (p.get("Status", "install ok installed").endswith(" installed"))
    ]
    return [_packages("dpkg", path, packages, len(data) < size)]


def _apk(path: str, data: bytes, size: int) -> list[Finding]:
    packages: list[dict[str, str]] = []
    name = version = ""
    for line in [*data.decode("utf-8", "replace").splitlines(), ""]:
        if not line.strip():
            if name:
                packages.append({"name": name, "version": version})
            name = version = ""
        elif line.startswith("P:"):
            name = line[2:].strip()
        elif line.startswith("V:"):
            version = line[2:].strip()
    return [_packages("apk", path, packages, len(data) < size)]


def _rpm(path: str, data: bytes, size: int) -> list[Finding]:
    # the rpm database is a Berkeley DB, NDB or SQLite file of binary headers; its presence
    # is recorded, its package list is not read (run `rpm -qa` in the image to list it)
    return [_packages("rpm", path, None, False)]


def _packages(
    manager: str, path: str, packages: list[dict[str, str]] | None, truncated: bool
) -> Finding:
    return {
        "kind": "packages",
        "manager": manager,
        "path": path,
        "packages": packages,
        "truncated": truncated,
    }


_CREDENTIAL_BASENAMES = frozenset(posixpath.basename(s) for s in _CREDENTIAL_FILES)
_PACKAGE_PREFIXES = ("var/lib/dpkg/", "lib/apk/", "var/lib/rpm/", "usr/lib/sysimage/")


def reader_for(path: str, size: int, limits: Limits) -> Reader | None:
    """Which analysis, if any, a regular file at ``path`` gets (called for every file)."""
    base = path.rpartition("/")[2]
    if not (
        base in _CREDENTIAL_BASENAMES
        or base in _SSH_KEY_NAMES
        or base.startswith((".env", "ssh_host_"))
        or base.endswith((*_KEY_SUFFIXES, *_KEYSTORE_SUFFIXES, ".env"))
        or path.startswith(_PACKAGE_PREFIXES)
    ):
        return None
    secret_limit = limits.max_secret_file_bytes
    if path == DPKG_STATUS or path.startswith(DPKG_STATUS_D):
        return Reader(limits.max_package_db_bytes, _dpkg)
    if path == APK_INSTALLED:
        return Reader(limits.max_package_db_bytes, _apk)
    if path in RPM_DATABASES:
        return Reader(0, _rpm)
    base = posixpath.basename(path)
    if (
        base in _SSH_KEY_NAMES
        or (base.startswith("ssh_host_") and base.endswith("_key"))
        or base.endswith(_KEY_SUFFIXES)
    ):
        return Reader(secret_limit, _private_key)
    if base.endswith(_KEYSTORE_SUFFIXES):
        return Reader(secret_limit, _keystore)
    if base == ".env" or base.startswith(".env.") or base.endswith(".env"):
        return Reader(secret_limit, _env_file)
    for suffix, (kind, pattern) in _CREDENTIAL_FILES.items():
        if path == suffix or path.endswith("/" + suffix):
            return Reader(secret_limit, _credentials(kind, pattern))
    return None
