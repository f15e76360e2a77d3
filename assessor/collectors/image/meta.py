"""What an image's config and history say: user, health check, ports, build steps, secrets.

The config is hostile JSON: every field is type-checked before use, and every string that
could carry a secret (ENV, labels, command lines, build steps and their build arguments) goes
through the Redactor before it becomes evidence.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from assessor.errors import ImageError
from assessor.evidence import Redactor

# a classic-builder step: optional "|N ARG=v ..." build arguments, then the shell form
# (found with str.find: the old lazy-args regex took minutes over a run of blanks)
_SHELL_FORM = "/bin/sh -c "
_BUILD_ARGS = re.compile(r"\|\d{1,9}\s")
_INSTRUCTIONS = frozenset(
    {
        *("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL"),
        *("MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"),
    }
)
# classic builder: ADD of local content is "file:<hash>", "dir:<hash>" or "multi:<hash>";
# ADD of a URL is the downloaded content's bare hash
_ADD_CLASSIC_LOCAL = re.compile(r"^(?:file|dir|multi):[0-9a-f]+ in (?P<dest>\S+)")
_ADD_CLASSIC_REMOTE = re.compile(r"^[0-9a-f]{64} in (?P<dest>\S+)")
_URL = re.compile(r"^(?:--\S+\s+)*(?P<url>https?://\S+|git@\S+)", re.IGNORECASE)
_ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst)$", re.IGNORECASE)
REMOTE_SHELL_PORTS = {
    "22": "ssh",
    "23": "telnet",
    "512": "rexec",
    "513": "rlogin",
    "514": "rsh",
    "3389": "rdp",
    "5900": "vnc",
}


def _field(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = doc.get(key)
    if value is not None and not isinstance(value, kind):
        raise ImageError(f"{where}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _strings(value: Any, where: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ImageError(f"{where}: expected a list of strings")
    return value


def parse_created(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
    if not m:
        return None
    frac = (m.group(2) or "")[:7]
    zone = m.group(3) or "Z"
    try:
        value = datetime.fromisoformat(m.group(1) + frac + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    return value.astimezone(UTC)


def redact_step(text: str, redactor: Redactor, location: str) -> str:
    """A build step's text (a shell command line, with the classic builder's ``|N ARG=v``
    build arguments in front) with its secrets redacted: secret-named ``KEY=VALUE`` words and
    flags, the password flags of known programs, headers, URL passwords and token shapes."""
    return redactor.shell(text, location)


def _classic_rest(text: str) -> str | None:
    """What follows the first ``/bin/sh -c `` of a classic builder's step (after its
    ``|N ARG=v ...`` build arguments, if any), or None."""
    if text.startswith(_SHELL_FORM):
        return text[len(_SHELL_FORM) :]
    m = _BUILD_ARGS.match(text)
    if m is None:
        return None
    i = text.find(_SHELL_FORM, m.end() - 1)
    while i >= 0 and not text[i - 1].isspace():
        i = text.find(_SHELL_FORM, i + 1)
    return None if i < 0 else text[i + len(_SHELL_FORM) :]


def parse_step(created_by: str) -> tuple[str, str]:
    """(INSTRUCTION, its arguments) of a history step, from either builder's notation."""
    text = created_by.strip()
    rest = _classic_rest(text)
    if rest is not None:
        rest = rest.strip()
        if rest.startswith("#(nop)"):
            rest = rest[len("#(nop)") :].strip()
            word, _, args = rest.partition(" ")
            if word.upper() in _INSTRUCTIONS:
                return word.upper(), args.strip()
            return "", rest
        return "RUN", rest
    if text.endswith("# buildkit"):
        text = text[: -len("# buildkit")].rstrip()
    word, _, args = text.partition(" ")
    if word.upper() in _INSTRUCTIONS:
        return word.upper(), args.strip()
    return "", text


def _add_source(args: str, first_layer: bool) -> dict[str, str]:
    m = _ADD_CLASSIC_LOCAL.match(args)
    if m:
        if first_layer and m["dest"] == "/":
            return {"source": "base-rootfs"}
        return {"source": "local"}
    m = _ADD_CLASSIC_REMOTE.match(args)
    if m:
        return {"source": "remote"}
    m = _URL.match(args)
    if m:
        return {"source": "remote", "url": m["url"]}
    words = [w for w in args.split() if not w.startswith("--")]
    sources = words[:-1] or words
    if sources and all(_ARCHIVE.search(s) for s in sources):
        # a base image's root filesystem: its first layer, an archive unpacked at /
        base = first_layer and len(words) > 1 and words[-1] == "/"
        return {"source": "base-rootfs" if base else "local-archive"}
    return {"source": "local"}


def history(config: dict[str, Any], redactor: Redactor, where: str) -> list[dict[str, Any]]:
    raw = _field(config, "history", list, where) or []
    steps: list[dict[str, Any]] = []
    seen_layer = False
    for i, h in enumerate(raw):
        if not isinstance(h, dict):
            raise ImageError(f"{where}: history[{i}] is not an object")
        created_by = _field(h, "created_by", str, f"{where}: history[{i}]") or ""
        empty = bool(_field(h, "empty_layer", bool, f"{where}: history[{i}]"))
        instruction, args = parse_step(created_by)
        location = f"history[{i}]"
        step: dict[str, Any] = {
            "step": i + 1,
            "created_by": redact_step(created_by, redactor, location),
            "instruction": instruction,
            "empty_layer": empty,
        }
        comment = _field(h, "comment", str, f"{where}: history[{i}]")
        if comment:
            step["comment"] = redactor.text(comment, f"{location}.comment")
        if instruction == "ADD":
            step["add"] = _add_source(args, first_layer=not seen_layer)
        if instruction == "RUN":
            step["run"] = redact_step(args, redactor, location)
        seen_layer = seen_layer or not empty
        steps.append(step)
    return steps


def config_evidence(
    config: dict[str, Any], redactor: Redactor, where: str, now: datetime | None = None
) -> dict[str, Any]:
    """Evidence from the image config document (already parsed as a JSON object)."""
    inner = _field(config, "config", dict, where) or {}
    cw = f"{where}: config"
    env = _strings(_field(inner, "Env", list, cw), f"{cw}.Env") or []
    labels = _field(inner, "Labels", dict, cw) or {}
    if not all(isinstance(v, str) for v in labels.values()):
        raise ImageError(f"{cw}.Labels: expected string values")
    health = _healthcheck(_field(inner, "Healthcheck", dict, cw), redactor, cw)
    entrypoint = _strings(_field(inner, "Entrypoint", list, cw), f"{cw}.Entrypoint") or []
    ports = sorted(str(p) for p in (_field(inner, "ExposedPorts", dict, cw) or {}))
    user = _field(inner, "User", str, cw) or ""
    created = parse_created(config.get("created"))
    now = now or datetime.now(UTC)
    remote_shells = [
        f"{p} ({REMOTE_SHELL_PORTS[p.partition('/')[0]]})"
        for p in ports
        if p.partition("/")[0] in REMOTE_SHELL_PORTS
    ]
    return {
        "architecture": _field(config, "architecture", str, where) or "",
        "os": _field(config, "os", str, where) or "",
        "variant": _field(config, "variant", str, where) or "",
        "author": redactor.text(_field(config, "author", str, where) or "", "author"),
        "created": created.isoformat().replace("+00:00", "Z") if created else None,
        "age_days": (now - created).days if created else None,
        "config": {
            "User": user,
            "Healthcheck": health,
            "ExposedPorts": ports,
            "Env": redactor.env(env, "config.Env"),
            "Labels": redactor.mapping(labels, "config.Labels"),
            "Entrypoint": redactor.args(entrypoint, "config.Entrypoint"),
            # Cmd is the arguments of the Entrypoint's program when there is one
            "Cmd": redactor.args(
                _strings(_field(inner, "Cmd", list, cw), f"{cw}.Cmd") or [],
                "config.Cmd",
                entrypoint[0] if entrypoint else None,
            ),
            "WorkingDir": _field(inner, "WorkingDir", str, cw) or "",
            "Volumes": sorted(_field(inner, "Volumes", dict, cw) or {}),
            "OnBuild": [
                redact_step(s, redactor, "config.OnBuild")
                for s in _strings(_field(inner, "OnBuild", list, cw), f"{cw}.OnBuild") or []
            ],
        },
        "remote_shell_ports": remote_shells,
        "history": history(config, redactor, where),
    }


def _healthcheck(
    health: dict[str, Any] | None, redactor: Redactor, cw: str
) -> dict[str, Any] | None:
    """The health check: its test command redacted, and its timings."""
    if health is None:
        return None
    return {
        "Test": redactor.healthcheck(
            _strings(health.get("Test"), f"{cw}.Healthcheck.Test") or [],
            "config.Healthcheck.Test",
        ),
        **{
            k: v
            for k, v in health.items()
            if k in ("Interval", "Timeout", "Retries", "StartPeriod")
        },
    }


def diff_ids(config: dict[str, Any], where: str) -> list[str]:
    rootfs = _field(config, "rootfs", dict, where) or {}
    ids = _strings(rootfs.get("diff_ids"), f"{where}: rootfs.diff_ids")
    if ids is None:
        raise ImageError(f"{where}: config has no rootfs.diff_ids")
    return ids
