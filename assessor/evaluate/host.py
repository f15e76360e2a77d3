"""Evaluators for host evidence (CIS section 1): audit rules, file modes and owners."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assessor.catalog.schema import Op
from assessor.errors import EvaluationError
from assessor.evaluate.functions import Outcome, register
from assessor.evaluate.operators import OPERATORS


def _norm(path: str) -> str:
    path = "/" + path.strip("/")
    while "//" in path:
        path = path.replace("//", "/")
    return path


def _files(data: Any) -> dict[str, Any]:
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise EvaluationError("evidence 'files' is absent")
    return files


def _candidate_paths(data: Any, args: Mapping[str, Any]) -> list[str]:
    """The host paths a rule names: ``paths``, systemd ``units``, ``data_root``, ``tls`` keys."""
    paths = [str(p) for p in args.get("paths", [])]
    units = ((data.get("systemd") or {}).get("units") or {}) if isinstance(data, dict) else {}
    paths.extend(
        str(units[u]["path"])
        for u in args.get("units", [])
        if isinstance(units.get(u), dict) and units[u].get("path")
    )
    docker = (data.get("docker") or {}) if isinstance(data, dict) else {}
    if args.get("data_root") and docker.get("data_root"):
        paths.append(str(docker["data_root"]))
    for key in args.get("tls", []):
        value = (docker.get("tls_files") or {}).get(key)
        if value:
            paths.append(str(value))
    return paths


@register("host_audit_watched")
def host_audit_watched(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Every installed copy of a file (at any of ``paths``) is watched by an audit rule.

    A watch on the file, on the target of a symbolic link to it, or on a directory above it
    (auditctl watches directories recursively) counts. Not applicable when none is installed.
    """
    files = _files(data)
    audit = data.get("audit")
    if not isinstance(audit, dict) or "watched" not in audit:
        raise EvaluationError("evidence 'audit.watched' is absent")
    watched = {_norm(str(w)) for w in audit.get("watched") or []}
    present: dict[str, list[str]] = {}  # real file -> its installed names
    units = ((data.get("systemd") or {}).get("units") or {}) if isinstance(data, dict) else {}
    unit_files = {
        str(u["path"]): u.get("file") or {} for u in units.values() if isinstance(u, dict)
    }
    for path in _candidate_paths(data, args):
        stat = files.get(path) or unit_files.get(path) or {}
        if stat.get("exists"):
            real = _norm(str(stat.get("link_target") or path))
            present.setdefault(real, []).append(_norm(path))
    if not present:
        where = [*args.get("paths", []), *(f"unit {u}" for u in args.get("units", []))]
        if args.get("data_root"):
            where.append("Docker's data root")
        return Outcome("not_applicable", "not installed: " + ", ".join(where))

    def covered(path: str) -> bool:
        return any(path == w or path.startswith(w.rstrip("/") + "/") for w in watched)

    missing = [
        ", ".join(names) + ("" if real in names else f" (a link to {real})")
        for real, names in present.items()
        if not any(map(covered, [*names, real]))
    ]
    source = audit.get("source")
    if missing:
        read_from = {"auditctl": "auditctl -l", "files": "/etc/audit rule files"}.get(
            str(source), "no audit rules found"
        )
        return Outcome("fail", f"no audit rule watches {'; '.join(missing)} (read: {read_from})")
    return Outcome("pass", "audited: " + ", ".join(n for ns in present.values() for n in ns))


def _owner(stat: Mapping[str, Any]) -> str:
    return f"{stat.get('user', stat.get('uid'))}:{stat.get('group', stat.get('gid'))}"


@register("host_file_permissions")
def host_file_permissions(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Each existing file the rule names (``paths``, ``units``, ``tls`` keys, or every file
    under /etc/docker/certs.d with ``registry_certs``) has at most ``max_mode`` and one of the
    ``owners`` (``user:group``). Not applicable when none exists. Messages name file and mode."""
    files = _files(data)
    stats = [files.get(p) or {"path": p} for p in _candidate_paths(data, args)]
    if args.get("registry_certs"):
        docker = data.get("docker") or {}
        if "registry_certs" not in docker:
            raise EvaluationError("evidence 'docker.registry_certs' is absent")
        stats.extend(c for c in docker.get("registry_certs") or [] if isinstance(c, dict))
    existing = [s for s in stats if s.get("exists")]
    if not existing:
        names = [str(s.get("path")) for s in stats] or ["/etc/docker/certs.d/*"]
        return Outcome("not_applicable", "no such file: " + ", ".join(names))
    max_mode = args.get("max_mode")
    owners = [str(o) for o in args.get("owners", [])]

    bad: list[str] = []
    for s in existing:
        problems = []
        if max_mode and not OPERATORS[Op.MODE_AT_MOST](s.get("mode"), max_mode):
            problems.append(f"mode {s.get('mode')} (at most {max_mode})")
        if owners and not any(OPERATORS[Op.OWNER_IS](s, o) for o in owners):
            problems.append(f"owner {_owner(s)} (expected {' or '.join(owners)})")
        if problems:
            bad.append(f"{s.get('path')}: " + ", ".join(problems))
    if bad:
        return Outcome("fail", "; ".join(bad))
    shown = ", ".join(f"{s.get('path')} {s.get('mode')} {_owner(s)}" for s in existing[:5])
    more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
    return Outcome("pass", f"{shown}{more}")
