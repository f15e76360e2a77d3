"""Capture the golden fixtures of the host audit-rule and data-root rules (CIS 1.1.1, 1.1.3-1.1.18)
from the host collector's own output on real states this script stages.

    sudo .venv/bin/python scripts/capture_host_fixtures.py

Needs root, a running dockerd and auditd (scripts/test-setup.sh installs it). It loads audit
rules keyed ``assessor-fixture-<uuid>`` and removes exactly those, stops and restarts auditd
once (for the "auditd stopped" state), and mounts tmpfs under a temporary directory. Each
state is scanned once; each rule's verdict on it names the fixture file
(tests/rules/<rule>/<status>-<state>.json). The states and the verdict each must give are
listed in STATES; a verdict that differs stops the script before anything is written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # noqa: TID251 - a staging script run by hand, not the scanner
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from assessor.catalog import load_catalog
from assessor.collectors.host import HostCollector
from assessor.evaluate import evaluate_rule
from assessor.evidence import Evidence
from assessor.targets import parse_target

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "tests" / "rules"
CATALOG = load_catalog()
AUDIT_RULES = sorted(r for r in CATALOG.rules if r.startswith("host-audit-"))
DATA_ROOT_RULE = "host-docker-data-root-separate-partition"
KEY = f"assessor-fixture-{uuid.uuid4().hex[:12]}"
# the paths CIS 1.1.3-1.1.18 name, as this machine (Debian's docker.io) installs them
LIVE_PATHS = {
    "host-audit-dockerd": "/usr/sbin/dockerd",
    "host-audit-run-containerd": "/run/containerd",
    "host-audit-docker-data-root": "/var/lib/docker",
    "host-audit-etc-docker": "/etc/docker",
    "host-audit-docker-service": "/usr/lib/systemd/system/docker.service",
    "host-audit-containerd-sock": "/run/docker/containerd/containerd.sock",
    "host-audit-docker-sock": "/run/docker.sock",
    "host-audit-etc-default-docker": "/etc/default/docker",
    "host-audit-containerd-config": "/etc/containerd/config.toml",
    "host-audit-containerd": "/usr/bin/containerd",
    "host-audit-containerd-shim": "/usr/bin/containerd-shim",
    "host-audit-containerd-shim-runc-v1": "/usr/bin/containerd-shim-runc-v1",
    "host-audit-containerd-shim-runc-v2": "/usr/bin/containerd-shim-runc-v2",
    "host-audit-runc": "/usr/sbin/runc",
}
OFFLINE_FILES = (
    "etc/docker/daemon.json",
    "etc/default/docker",
    "etc/sysconfig/docker",
    "etc/containerd/config.toml",
    "run/containerd/containerd.sock",
    "run/docker.sock",
    "usr/lib/systemd/system/docker.service",
    *(
        f"usr/bin/{n}"
        for n in (
            "dockerd",
            "containerd",
            "containerd-shim",
            "containerd-shim-runc-v1",
            "containerd-shim-runc-v2",
            "runc",
        )
    ),
)
OFFLINE_WATCHES = (
    "/usr/bin/dockerd",
    "/run/containerd",
    "/var/lib/docker",
    "/etc/docker",
    "/usr/lib/systemd/system/docker.service",
    "/run/docker.sock",
    "/etc/default/docker",
    "/etc/sysconfig/docker",
    "/etc/containerd/config.toml",
    "/usr/bin/containerd",
    "/usr/bin/containerd-shim",
    "/usr/bin/containerd-shim-runc-v1",
    "/usr/bin/containerd-shim-runc-v2",
    "/usr/bin/runc",
)


def auditctl(*args: str) -> None:
    done = subprocess.run(["auditctl", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"auditctl {' '.join(args)}: {done.stderr.strip()}")


class Loaded:
    """Rules loaded for one state, removed one by one (never auditctl -D)."""

    def __init__(self) -> None:
        self.undo: list[list[str]] = []

    def watch(self, path: str) -> None:
        auditctl("-w", path, "-p", "wa", "-k", KEY)
        self.undo.append(["-W", path, "-p", "wa", "-k", KEY])

    def add(self, action: str, *fields: str) -> None:
        spec = [x for f in fields for x in ("-F", f)]
        auditctl("-a", action, *spec, "-k", KEY)
        self.undo.append(["-d", action, *spec, "-k", KEY])

    def clear(self) -> None:
        for undo in reversed(self.undo):
            auditctl(*undo)
        self.undo.clear()


def scan(target: str) -> dict[str, Any]:
    (evidence,) = HostCollector().collect(parse_target(target))
    doc = evidence.document()
    plain: dict[str, Any] = json.loads(json.dumps(doc))  # JSON types, as a fixture holds them
    return plain


def running() -> bool:
    return subprocess.run(["pgrep", "-x", "auditd"], capture_output=True).returncode == 0


def stage_offline(base: Path, name: str, with_files: bool, rules: str) -> Path:
    root = base / name
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/sbin").symlink_to("bin")  # merged /usr: /usr/sbin is /usr/bin
    (root / "var").mkdir()
    (root / "var/run").symlink_to("../run")
    if with_files:
        for rel in OFFLINE_FILES:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text("{}\n" if rel.endswith(".json") else "")
        (root / "var/lib/docker").mkdir(parents=True)
    (root / "etc/audit/rules.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/audit/rules.d/docker.rules").write_text(rules)
    return root


def main() -> int:
    if os.geteuid() != 0 or shutil.which("auditctl") is None:
        print("needs root and auditd (scripts/test-setup.sh)", file=sys.stderr)
        return 2
    if not running():
        subprocess.run(["service", "auditd", "start"], capture_output=True, check=True)
    states: dict[str, dict[str, Any]] = {}
    loaded = Loaded()
    base = Path(tempfile.mkdtemp(prefix="assessor-fixtures-"))
    mounted: list[Path] = []
    try:
        for path in LIVE_PATHS.values():
            loaded.watch(path)
        states["loaded"] = scan("host:/")
        loaded.clear()
        states["nothing-loaded"] = scan("host:/")
        # CIS 1.1.8: -F path= on the folder of containerd.sock is that folder only
        loaded.add("always,exit", "path=/run/docker/containerd", "perm=wa")
        states["path-rule-on-its-folder"] = scan("host:/")
        loaded.clear()
        loaded.add("always,exit", "dir=/run/docker/containerd", "perm=wa")
        states["dir-rule-on-its-folder"] = scan("host:/")
        loaded.clear()
        for path in LIVE_PATHS.values():
            loaded.add("never,exit", f"path={path}")
            loaded.watch(path)
        states["never-rule-before-the-watch"] = scan("host:/")
        loaded.clear()
        rules_file = Path(f"/etc/audit/rules.d/{KEY}.rules")
        rules_file.write_text("".join(f"-w {p} -p wa -k {KEY}\n" for p in LIVE_PATHS.values()))
        try:
            subprocess.run(["service", "auditd", "stop"], capture_output=True, check=False)
            states["auditd-stopped"] = scan("host:/")
        finally:
            rules_file.unlink()
            subprocess.run(["service", "auditd", "start"], capture_output=True, check=False)
        watches = "".join(f"-w {p} -k docker\n" for p in OFFLINE_WATCHES)
        states["offline-rules-file"] = scan(f"host:{stage_offline(base, 'a', True, watches)}")
        other = "-w /etc/hostname -p wa -k other\n"
        states["offline-other-rules-only"] = scan(f"host:{stage_offline(base, 'b', True, other)}")
        empty = stage_offline(base, "c", False, watches)
        states["offline-not-installed"] = scan(f"host:{empty}")
        # CIS 1.1.1
        own = base / "root-own-mount"
        (own / "var/lib/docker").mkdir(parents=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(own / "var/lib/docker")],
            check=True,
        )
        mounted.append(own / "var/lib/docker")
        states["offline-tmpfs-data-root"] = scan(f"host:{own}")
        var = base / "root-var-mount"
        (var / "var/lib/docker").mkdir(parents=True)
        (var / "etc").mkdir()
        (var / "etc/fstab").write_text("/dev/sdb1 /var ext4 defaults 0 2\n")
        states["offline-var-partition"] = scan(f"host:{var}")
        plain = base / "root-plain"
        (plain / "var/lib/docker").mkdir(parents=True)
        states["offline-no-mount"] = scan(f"host:{plain}")
        states["offline-no-data-root"] = states["offline-not-installed"]
        states["live-dockerd-bind-mount"] = states["nothing-loaded"]
    finally:
        loaded.clear()
        for point in reversed(mounted):
            subprocess.run(["umount", str(point)], check=False)
        shutil.rmtree(base, ignore_errors=True)

    plan = expected()
    written = 0
    for (rule_id, state), status in plan.items():
        result = evaluate_rule(CATALOG.rules[rule_id], Evidence.from_document(states[state]))
        if result.status.value != status:
            raise SystemExit(
                f"{rule_id} on {state}: {result.status.value}, expected {status}: {result.message}"
            )
    states_named = {f"-{state}.json" for state in states}
    for folder in [*AUDIT_RULES, DATA_ROOT_RULE]:
        for old in (RULES_DIR / folder).glob(
            "*.json"
        ):  # this script's own, not tests/rules/capture.py's
            if "-captured-" not in old.name and any(old.name.endswith(n) for n in states_named):
                old.unlink()
    for (rule_id, state), status in plan.items():
        out = RULES_DIR / rule_id / f"{status}-{state}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(states[state], indent=1, sort_keys=True) + "\n")
        written += 1
    print(f"wrote {written} fixtures")
    return 0


def expected() -> dict[tuple[str, str], str]:
    """The verdict each rule must give on each state."""
    plan: dict[tuple[str, str], str] = {}
    for rule in AUDIT_RULES:
        live = rule in LIVE_PATHS
        plan[(rule, "offline-rules-file")] = "pass"
        plan[(rule, "offline-other-rules-only")] = "fail"
        plan[(rule, "offline-not-installed")] = "not_applicable"
        if live:
            plan[(rule, "loaded")] = "pass"
            plan[(rule, "nothing-loaded")] = "fail"
            plan[(rule, "auditd-stopped")] = "fail"
            plan[(rule, "never-rule-before-the-watch")] = "fail"
        else:
            plan[(rule, "loaded")] = "not_applicable"
    plan[("host-audit-containerd-sock", "path-rule-on-its-folder")] = "fail"
    plan[("host-audit-containerd-sock", "dir-rule-on-its-folder")] = "pass"
    plan[(DATA_ROOT_RULE, "offline-tmpfs-data-root")] = "pass"
    plan[(DATA_ROOT_RULE, "offline-var-partition")] = "fail"
    plan[(DATA_ROOT_RULE, "offline-no-mount")] = "fail"
    plan[(DATA_ROOT_RULE, "live-dockerd-bind-mount")] = "fail"
    plan[(DATA_ROOT_RULE, "offline-no-data-root")] = "not_applicable"
    return plan


if __name__ == "__main__":
    sys.exit(main())
