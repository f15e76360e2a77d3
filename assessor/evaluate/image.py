"""Evaluators for image evidence (CIS section 4): each names the offending items."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from assessor.errors import EvaluationError
from assessor.evaluate.functions import Outcome
from assessor.vocab import Status

SHOWN = 10  # items named in a message; the evidence holds them all
_ROOT_USER = re.compile(r"^((root|0)(:.*)?)?$")
# package index refreshes: alone in a step they leave a stale index in a cached layer
_UPDATE = re.compile(
    r"\b(?:apt-get|apt)\s+(?:-\S+\s+)*update\b|\bapk\s+(?:-\S+\s+)*update\b|"
    r"\b(?:yum|dnf|microdnf)\s+(?:-\S+\s+)*(?:makecache|check-update)\b|"
    r"\bzypper\s+(?:-\S+\s+)*(?:refresh|ref)\b"
)
_INSTALL = re.compile(
    r"\b(?:install|upgrade|dist-upgrade|full-upgrade|add)\b|\b(?:yum|dnf|microdnf)\s+(?:-\S+\s+)*update\b"
)


def _get(data: Any, path: str) -> Any:
    value = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise EvaluationError(f"evidence {path!r} is absent")
        value = value[part]
    return value


def _items(data: Any, path: str) -> tuple[list[Any], int]:
    value = _get(data, path)
    if isinstance(value, dict) and "items" in value:
        items = value.get("items") or []
        return list(items), int(value.get("count", len(items)))
    if isinstance(value, list):
        return value, len(value)
    raise EvaluationError(f"evidence {path!r} is not a list")


def _show(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    if "mode" in item:  # a file
        extra = f", {item['bits']}" if item.get("bits") else ""
        owner = f"uid {item['uid']}:{item['gid']}"
        return f"{item['path']} ({item['type']} {item['mode']}, {owner}{extra})"
    if "fingerprint" in item:  # a secret: where, what, and a fingerprint, never the value
        layer = f", layer {str(item['layer'])[:19]}" if item.get("layer") else ""
        # short secrets have no fingerprint (it could be brute-forced back to the value)
        what = ", ".join(str(item[k]) for k in ("secret", "fingerprint") if item.get(k))
        return f"{item['where']} ({item['key']}, {what}{layer})"
    return ", ".join(f"{k}={v}" for k, v in item.items())


def _listing(items: list[Any], count: int) -> str:
    shown = "; ".join(_show(i) for i in items[:SHOWN])
    more = count - min(len(items), SHOWN)
    return shown + (f"; and {more} more" if more > 0 else "")


def image_none_found(data: Any, args: Mapping[str, Any]) -> Outcome:
    """Fail when the list at ``args.evidence`` has items, naming them after ``args.found``."""
    items, count = _items(data, str(args["evidence"]))
    if count:
        return Outcome(Status.FAIL, f"{count} {args['found']}: {_listing(items, count)}")
    return Outcome(Status.PASS, str(args.get("none", f"no {args['found']}")))


def _files(n: int) -> str:
    return f"{n} setuid/setgid file{'' if n == 1 else 's'}"


def image_setuid_reviewed(data: Any, args: Mapping[str, Any]) -> Outcome:
    """CIS Docker 1.8.0 4.8 (a Manual recommendation): its audit lists the executables with
    setuid or setgid permissions and asks the reviewer to make sure each one actually needs
    them; its remediation keeps the bits only where an executable requires them. So the files
    are listed for review (``manual``) unless the organisation gave ``args.allowed``, its
    reviewed list of absolute paths: then a file outside the list fails and a list that
    covers every file passes. No such file passes."""
    allowed = args.get("allowed") or []
    if not isinstance(allowed, list) or not all(
        isinstance(a, str) and a.startswith("/") for a in allowed
    ):
        raise EvaluationError("args.allowed must be a list of absolute paths")
    items, count = _items(data, "files.setuid")
    if not count:
        return Outcome(Status.PASS, "no setuid or setgid file in the image")
    unlisted = count - len(items)  # past the collector's max_findings: not named
    if not allowed:
        return Outcome(
            Status.MANUAL,
            f"{_files(count)} to review (CIS 4.8: keep the bits only where the executable "
            f"needs them; no organisation allow-list is set): {_listing(items, count)}",
        )
    outside = [i for i in items if not isinstance(i, dict) or i.get("path") not in allowed]
    inside = [str(i["path"]) for i in items if i not in outside]
    listed = f"allow-listed: {'; '.join(inside[:SHOWN]) or 'none'}"
    if outside:
        return Outcome(
            Status.FAIL,
            f"{_files(len(outside))} outside the allow-list: "
            f"{_listing(outside, len(outside))} | {listed}",
        )
    if unlisted:
        return Outcome(
            Status.MANUAL,
            f"{_files(count)}: the evidence names {len(items)}, all on the allow-list; "
            f"{unlisted} more to review ({listed})",
        )
    return Outcome(
        Status.PASS, f"{_files(count)}, all {count} on the allow-list: {'; '.join(inside)}"
    )


def image_user_not_root(data: Any, args: Mapping[str, Any]) -> Outcome:
    user = _get(data, "config.User")
    if not isinstance(user, str):
        raise EvaluationError("evidence 'config.User' is not a string")
    if not user:
        return Outcome(Status.FAIL, "no USER instruction: containers of this image run as root")
    if _ROOT_USER.match(user):
        return Outcome(Status.FAIL, f"USER is {user!r}: containers of this image run as root")
    return Outcome(Status.PASS, f"USER is {user!r}")


def image_healthcheck(data: Any, args: Mapping[str, Any]) -> Outcome:
    check = _get(data, "config.Healthcheck")
    if check is None:
        return Outcome(Status.FAIL, "no HEALTHCHECK instruction")
    test = check.get("Test") if isinstance(check, dict) else None
    if not test or test[0] == "NONE":
        return Outcome(Status.FAIL, "HEALTHCHECK NONE: the health check is disabled")
    return Outcome(Status.PASS, "HEALTHCHECK " + " ".join(str(t) for t in test)[:200])


def _steps(data: Any) -> list[dict[str, Any]]:
    steps = _get(data, "history")
    if not isinstance(steps, list):
        raise EvaluationError("evidence 'history' is not a list")
    return [s for s in steps if isinstance(s, dict)]


def _step(s: dict[str, Any]) -> str:
    return f"step {s.get('step')}: {str(s.get('created_by', ''))[:160]}"


def image_update_alone(data: Any, args: Mapping[str, Any]) -> Outcome:
    steps = _steps(data)
    alone = [
        s
        for s in steps
        if s.get("instruction") == "RUN"
        and _UPDATE.search(str(s.get("run", "")))
        and not _INSTALL.search(str(s.get("run", "")))
    ]
    if alone:
        return Outcome(
            Status.FAIL,
            f"{len(alone)} package index update(s) without an install in the same step: "
            + "; ".join(_step(s) for s in alone[:SHOWN]),
        )
    if not steps:
        return Outcome(Status.PASS, "the image records no build history")
    return Outcome(Status.PASS, f"no update step alone in {len(steps)} recorded build steps")


# what an ADD step did, as the image collector classifies it (collectors/image/meta.py)
_ADD_SOURCES = ("remote", "local", "local-archive", "base-rootfs")


def image_copy_not_add(data: Any, args: Mapping[str, Any]) -> Outcome:
    """CIS Docker 1.8.0 4.9: COPY rather than ADD. The audit reads each image's history
    (``docker history``) for ADD instructions; every ADD in the image's build steps fails,
    a remote one (a URL fetched without verification) named first as the worst case. The
    one exception is the ``ADD file:... in /`` (or ``ADD rootfs.tar /``) that lays down a
    base image's root filesystem as its first layer: reported, not judged."""
    adds = [s for s in _steps(data) if s.get("instruction") == "ADD"]
    by: dict[str, list[dict[str, Any]]] = {k: [] for k in _ADD_SOURCES}
    for s in adds:
        source = (s.get("add") or {}).get("source")
        if source not in by:
            raise EvaluationError(f"ADD at step {s.get('step')} has no known source: {source!r}")
        by[str(source)].append(s)
    base = by["base-rootfs"]
    base_note = (
        f"base root filesystem, not judged: {'; '.join(_step(s) for s in base[:SHOWN])}"
        if base
        else ""
    )
    kinds = (
        ("remote", "ADD of a remote URL (fetched unverified: the worst case)"),
        ("local", "ADD of local files where COPY would do"),
        ("local-archive", "ADD unpacking a local archive (COPY it and unpack in a RUN step)"),
    )
    parts = [
        f"{len(by[k])} {what}: " + "; ".join(_step(s) for s in by[k][:SHOWN])
        for k, what in kinds
        if by[k]
    ]
    if parts:
        return Outcome(Status.FAIL, " | ".join(parts + ([base_note] if base_note else [])))
    if base:
        return Outcome(Status.PASS, f"no ADD in the image's own build steps ({base_note})")
    return Outcome(Status.PASS, "no ADD instruction in the recorded build steps")


def image_age(data: Any, args: Mapping[str, Any]) -> Outcome:
    max_days = int(args.get("max_days", 180))
    created = _get(data, "created")
    age = _get(data, "age_days")  # the collector always writes it (null: no build time)
    if not created or age is None or str(created) < "1980":
        return Outcome(
            Status.NOT_APPLICABLE,
            "the image records no build time (or the epoch, as reproducible builds do)",
        )
    if age > max_days:
        return Outcome(
            Status.FAIL, f"built {age} days ago ({created}); rebuild at least every {max_days} days"
        )
    return Outcome(Status.PASS, f"built {age} days ago ({created})")
