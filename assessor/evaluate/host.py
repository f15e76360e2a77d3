"""Evaluators for host evidence (CIS section 1): audit rules, file modes and owners."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assessor.catalog.schema import Op
from assessor.errors import EvaluationError
from assessor.evaluate.functions import Outcome
from assessor.evaluate.operators import OPERATORS
from assessor.vocab import Status


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


def _not_on_host(names: list[str]) -> str:
    """Why a file rule is not applicable, naming what was looked for."""
    if len(names) == 1:
        return f"{names[0]} does not exist on this host"
    return f"none of {', '.join(names)} exists on this host"


def _nothing_named(args: Mapping[str, Any]) -> str:
    """Why a file rule whose evidence names no file at all is not applicable."""
    why = [f"the {u} unit is not installed" for u in args.get("units", [])]
    if args.get("tls"):
        keys = " or ".join(str(k) for k in args["tls"])
        why.append(f"dockerd's configuration names no {keys} file")
    if args.get("data_root"):
        why.append("Docker's data root is not known")
    return "; ".join(why) or "none of the files this rule checks exists on this host"


def _candidate_paths(data: Any, args: Mapping[str, Any]) -> list[str]:
    """The host paths a rule names: ``paths``, systemd ``units``, ``data_root``, ``tls`` keys.
    A key the rule names but the evidence lacks (``systemd.units``, ``docker.data_root``,
    ``docker.tls_files``) is an error, never an empty list (no verdict on missing evidence)."""
    paths = [str(p) for p in args.get("paths", [])]
    doc = data if isinstance(data, dict) else {}
    systemd = doc.get("systemd")
    if args.get("units") and not (isinstance(systemd, dict) and "units" in systemd):
        raise EvaluationError("evidence 'systemd.units' is absent")
    units = (systemd or {}).get("units") or {}
    paths.extend(
        str(units[u]["path"])
        for u in args.get("units", [])
        if isinstance(units.get(u), dict) and units[u].get("path")
    )
    docker = doc.get("docker")
    wanted = [k for k in ("data_root", "tls_files") if args.get(k.removesuffix("_files"))]
    for key in wanted:
        if not (isinstance(docker, dict) and key in docker):
            raise EvaluationError(f"evidence 'docker.{key}' is absent")
    docker = docker or {}
    if args.get("data_root") and docker.get("data_root"):
        paths.append(str(docker["data_root"]))
    for key in args.get("tls", []):
        value = (docker.get("tls_files") or {}).get(key)
        if value:
            paths.append(str(value))
    return paths


def _covers(rule: Mapping[str, Any], real: str) -> bool:
    """Whether an exit-list rule's path matches ``real`` as the kernel matches it: a ``path``
    watch (AUDIT_WATCH) that one inode, a ``dir`` watch (AUDIT_DIR) the tree below it."""
    resolved = rule.get("resolved") or rule.get("path")
    if not resolved:
        return False
    resolved = _norm(str(resolved))
    if rule.get("watch") == "dir":
        return real == resolved or real.startswith(resolved.rstrip("/") + "/")
    return real == resolved


def _decide(rules: Sequence[Mapping[str, Any]], real: str) -> tuple[Mapping[str, Any] | None, str]:
    """The rule that decides whether ``real`` is audited: the first matching rule in list
    order (auditctl -l order; a ``never`` rule first suppresses what follows). Returns the
    deciding rule (None: no rule) and why."""
    for rule in rules:
        action, where = rule.get("action"), rule.get("list")
        unconditional = not rule.get("filters") and rule.get("syscalls", "all") == "all"
        if where == "task" and action == "never" and unconditional:
            return rule, "suppresses syscall auditing for every task"
        if where != "exit":
            continue
        if rule.get("path") is None:
            if action == "never" and unconditional:
                return rule, "suppresses every syscall event"
            continue
        if _covers(rule, real):
            return rule, "audits it" if action == "always" else "suppresses it"
    return None, "no rule"


def _rule_text(rule: Mapping[str, Any]) -> str:
    text = str(rule.get("text") or "")
    if not text:
        kind = "-F dir=" if rule.get("watch") == "dir" else "-F path="
        text = f"-a {rule.get('action')},{rule.get('list')} {kind}{rule.get('path')}"
    elif rule.get("action") == "never" and not text.startswith("-a"):
        # auditctl -l prints a path rule with a permission filter as '-w PATH -p PERMS', whatever
        # its action; the kernel's list (read over netlink) says it is a never rule
        text += " (action never)"
    return f"'{text}' ({rule.get('origin')})"


def _near_miss(rules: Sequence[Mapping[str, Any]], real: str) -> str:
    """A path rule on a directory above ``real`` that does not reach it (``-F path=``)."""
    for rule in rules:
        resolved = _norm(str(rule.get("resolved") or rule.get("path") or "/"))
        if (
            rule.get("watch") == "path"
            and rule.get("path")
            and real.startswith(resolved.rstrip("/") + "/")
        ):
            return f"; {_rule_text(rule)} watches {resolved} itself only, not what is below it"
    return ""


def host_audit_watched(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Every installed copy of a file (at any of ``paths``) is audited (CIS 1.1.3-1.1.18
    audit: ``auditctl -l`` lists a rule for it; the benchmark asks only that a rule exists,
    so permissions are named, not judged).

    Each path is resolved once against the host root (``/usr/sbin`` a link to ``/usr/bin`` is
    one file), and matched as the kernel matches: a ``-w``/``-F path=`` watch on that file, a
    ``-w``/``-F dir=`` watch on a directory above it; the first matching rule decides, so a
    ``-a never`` rule before the watch means not audited. On a live host the loaded rules
    count, and only while auditd runs; on an offline root, the rules files auditd would load.
    Not applicable when none is installed."""
    files = _files(data)
    audit = _audit_evidence(data)
    present = _installed(data, args, files, audit["real_paths"])
    if not present:
        where = [*args.get("paths", []), *(f"the {u} unit" for u in args.get("units", []))]
        if args.get("data_root"):
            where.append("Docker's data root")
        return Outcome(Status.NOT_APPLICABLE, "nothing to audit: " + _not_on_host(where))
    read = _rules_read(audit, present)
    if isinstance(read, Outcome):
        return read
    rules = [r for r in audit["rules"] if isinstance(r, dict)]
    missing: list[str] = []
    audited: list[str] = []
    for real, names in present.items():
        rule, why = _decide(rules, real)
        if rule is None:
            missing.append(f"no rule watches {_label(real, names)}{_near_miss(rules, real)}")
        elif rule.get("action") != "always":
            missing.append(f"{_label(real, names)} is not audited: {_rule_text(rule)} {why}")
        else:
            text = str(rule.get("text") or "")
            own_perms = rule.get("perms") and "-p " not in text and "perm=" not in text
            perms = f" (permissions {rule.get('perms')})" if own_perms else ""
            audited.append(f"{_label(real, names)} by {_rule_text(rule)}{perms}")
    if missing:
        return Outcome(Status.FAIL, "; ".join(missing) + f" (read: {read})")
    return Outcome(Status.PASS, "audited: " + "; ".join(audited) + f" (read: {read})")


def _audit_evidence(data: Any) -> dict[str, Any]:
    """The host evidence's audit part, with every key the collector writes (and, on a live
    host, the ones only a live host has)."""
    audit = data.get("audit")
    if not isinstance(audit, dict):
        raise EvaluationError("evidence 'audit' is absent")
    # what the collector always writes; on a live host also auditd, the listing and status
    needed = ("rules", "source", "live", "files", "file_rules", "real_paths")
    for key in (*needed, "auditd", "loaded", "status"):
        # auditd, loaded and status are None on an offline root, and must be read on a live one
        if key not in audit or (audit.get("live") and audit[key] is None):
            raise EvaluationError(f"evidence 'audit.{key}' is absent")
    return audit


def _installed(
    data: Any, args: Mapping[str, Any], files: Mapping[str, Any], real_paths: Mapping[str, Any]
) -> dict[str, list[str]]:
    """The files installed at any of the candidate paths: real file -> its installed names."""
    present: dict[str, list[str]] = {}
    units = ((data.get("systemd") or {}).get("units") or {}) if isinstance(data, dict) else {}
    unit_files = {
        str(u["path"]): u.get("file") or {} for u in units.values() if isinstance(u, dict)
    }
    for path in _candidate_paths(data, args):
        stat = files.get(path) or unit_files.get(path) or {}
        if stat.get("exists"):
            real = _norm(str(real_paths.get(path) or stat.get("link_target") or path))
            names = present.setdefault(real, [])
            if _norm(path) not in names:
                names.append(_norm(path))
    return present


def _label(real: str, names: list[str]) -> str:
    return ", ".join(names) + ("" if real in names else f" (the file {real})")


def _rules_read(audit: Mapping[str, Any], present: Mapping[str, list[str]]) -> Outcome | str:
    """Where the rules judged come from (for the message), or the outcome when on a live host
    nothing can be audited (auditd missing or stopped, auditing off)."""
    if not audit.get("live"):
        shown = [str(f.get("path")) for f in audit.get("files") or [] if f.get("loaded_by_auditd")]
        return (
            "the rules files of an offline root, "
            + (", ".join(shown) if shown else "none found")
            + "; whether they are loaded cannot be seen"
        )
    daemon = audit.get("auditd") or {}
    context = _file_context(audit, present)
    if not daemon.get("installed"):
        return Outcome(Status.FAIL, f"auditd is not installed, so nothing is audited{context}")
    if not daemon.get("running"):
        return Outcome(Status.FAIL, f"auditd is not running, so nothing is audited{context}")
    if (audit.get("status") or {}).get("enabled") == 0:
        return Outcome(Status.FAIL, "auditing is disabled in the kernel (auditctl -s: enabled 0)")
    if audit.get("source") != "kernel":
        loaded = audit.get("loaded") or {}
        raise EvaluationError(
            f"the loaded audit rules could not be read ({loaded.get('command')} exit "
            f"{loaded.get('returncode')}: {loaded.get('stderr')})"
        )
    return "the rules loaded in the kernel (auditctl -l)"


def _file_context(audit: Mapping[str, Any], present: Mapping[str, list[str]]) -> str:
    """What the rules files say about the files, for a host where nothing is loaded."""
    rules = [r for r in audit.get("file_rules") or [] if isinstance(r, dict)]
    said: list[str] = []
    for real, names in present.items():
        rule, _ = _decide(rules, real)
        if rule is not None and rule.get("action") == "always":
            origin = str(rule.get("origin") or "").rsplit(":", 1)[0]
            said.append(f"{origin} has a watch on {', '.join(names)}, but nothing is loaded")
        else:
            said.append(f"the rules files have no watch on {', '.join(names)}")
    return "; " + "; ".join(said) if said else ""


def _owner(stat: Mapping[str, Any]) -> str:
    return f"{stat.get('user', stat.get('uid'))}:{stat.get('group', stat.get('gid'))}"


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
        if stats:
            reason = _not_on_host([str(s.get("path")) for s in stats])
        elif args.get("registry_certs"):
            reason = "no registry certificate under /etc/docker/certs.d exists on this host"
        else:
            reason = _nothing_named(args)
        return Outcome(Status.NOT_APPLICABLE, reason)
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
        return Outcome(Status.FAIL, "; ".join(bad))
    shown = ", ".join(f"{s.get('path')} {s.get('mode')} {_owner(s)}" for s in existing[:5])
    more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
    return Outcome(Status.PASS, f"{shown}{more}")


def _mount_text(mount: Mapping[str, Any]) -> str:
    if mount.get("device") is None and mount.get("fstype") is None:
        return f"{mount.get('point')} (no mount table entry names it)"
    return f"{mount.get('point')} ({mount.get('device')}, {mount.get('fstype')})"


def host_data_root_partition(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Docker's data root is itself a mount point of a filesystem of its own (CIS 1.1.1 audit:
    ``mountpoint -- "$(docker info -f '{{ .DockerRootDir }}')"``). A bind mount of a directory
    of the filesystem around it (dockerd bind-mounts its data root onto itself) is a mount
    point but not a separate partition, so it fails; so does a data root that lies below a
    separate mount (``/var``) without being one."""
    docker = data.get("docker") if isinstance(data, dict) else None
    if not isinstance(docker, dict):
        raise EvaluationError("evidence 'docker' is absent")
    for key in (
        "data_root",
        "data_root_from",
        "data_root_real",
        "data_root_mount",
        "data_root_parent_mount",
    ):
        if key not in docker:
            raise EvaluationError(f"evidence 'docker.{key}' is absent")
    read = (data.get("mounts") or {}).get("source")
    if read is None:
        raise EvaluationError("evidence 'mounts.source' is absent")
    root, real, mount = docker["data_root"], docker["data_root_real"], docker["data_root_mount"]
    if real is None:
        return Outcome(Status.NOT_APPLICABLE, f"Docker's data root {root} does not exist")
    if not isinstance(mount, dict):
        raise EvaluationError("evidence 'docker.data_root_mount' is absent")
    named = f"{root}" + ("" if root == real else f" (the directory {real})")
    if mount.get("point") != real:
        return Outcome(
            Status.FAIL,
            f"Docker's data root {named} is not a mount point: it lies on {_mount_text(mount)}"
            f" (read: {read})",
        )
    parent = docker.get("data_root_parent_mount") or {}
    same_dev = mount.get("dev") is not None and mount.get("dev") == parent.get("dev")
    bind = "bind" in str(mount.get("options") or "").split(",")
    if same_dev or bind:
        return Outcome(
            Status.FAIL,
            f"Docker's data root {named} is a mount point, but a bind mount of "
            f"{mount.get('root') or 'a directory'} of {mount.get('device')}, the filesystem "
            f"that holds {parent.get('point')}: not a separate partition (read: {read})",
        )
    return Outcome(
        Status.PASS,
        f"Docker's data root {named} is its own mount: {_mount_text(mount)} (read: {read})",
    )
