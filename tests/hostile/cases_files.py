"""Output paths: reports, exports, catalog exports and keys (issue 17, item 7).

An output is written to a new file with an unpredictable name, created without following
links, then renamed over the destination (assessor/outfile.py). A symlink planted where the
temporary file used to be (``.NAME.PID.tmp``) or at any other name must never be written
through; a destination that cannot be written is one line, before any work.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.hostile.corpus import Case, Ctx

ROOT = Path(__file__).resolve().parents[2]
VALID_OCI = ROOT / "tests" / "fixtures" / "hostile" / "valid-oci"
VICTIM = b"root-owned secret, mode 0600\n"


def _assessment(ctx: Ctx) -> None:
    """A stored assessment to export: a scan of a tiny OCI layout."""
    env = {**os.environ, "ASSESSOR_DB": ctx.db, "HOME": str(ctx.work), "ASSESSOR_CACHE_DIR": ""}
    subprocess.run(
        [sys.executable, "-m", "assessor", "scan", f"image:oci:{VALID_OCI}"],
        cwd=ctx.work,
        env={**env, **ctx.env},
        capture_output=True,
        check=False,
        timeout=60,
    )


def _victim(ctx: Ctx) -> Path:
    victim = ctx.work / "victim"
    victim.mkdir(exist_ok=True)
    path = victim / "shadow"
    path.write_bytes(VICTIM)
    path.chmod(0o600)
    return path


def _plant_pid_links(folder: Path, name: str, target: Path, count: int = 1500) -> None:
    """Symlinks at the old temporary names ``.NAME.PID.tmp`` for the next ``count`` pids."""
    last = int(Path("/proc/sys/kernel/ns_last_pid").read_text())
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    for pid in range(last + 1, last + 1 + count):
        (folder / f".{name}.{(pid % pid_max) or 1}.tmp").symlink_to(target)


def _victim_intact(ctx: Ctx, out: str, err: str) -> None:
    victim = ctx.work / "victim" / "shadow"
    assert victim.read_bytes() == VICTIM, "the planted link was written through"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600


def _export_with_links(cmd: str) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        victim = _victim(ctx)
        out = ctx.work / "out"
        out.mkdir()
        if cmd == "export":
            _assessment(ctx)
        _plant_pid_links(out, "result.xml" if cmd != "export" else "result.json", victim)
        for guess in ("result.json.tmp", ".result.json.tmp", "result.tmp", ".result.xml.tmp"):
            (out / guess).symlink_to(victim)
        if cmd == "export":
            return ["export", "--format", "json", "-o", "out/result.json"]
        return ["controls", "export", "--format", "xccdf", "-o", "out/result.xml"]

    return build


def _check_written(name: str, mode: int | None = 0o644) -> Callable[[Ctx, str, str], None]:
    def check(ctx: Ctx, out: str, err: str) -> None:
        _victim_intact(ctx, out, err)
        path = ctx.work / "out" / name
        st = path.lstat()
        assert stat.S_ISREG(st.st_mode) and st.st_size > 0, "no output file"
        if mode is not None:
            assert stat.S_IMODE(st.st_mode) == mode, oct(st.st_mode)
        leftovers = [p.name for p in (ctx.work / "out").iterdir() if not p.is_symlink()]
        assert leftovers == [name], leftovers  # no temporary file left behind

    return check


def _link_at_destination(ctx: Ctx) -> list[str]:
    victim = _victim(ctx)
    out = ctx.work / "out"
    out.mkdir()
    (out / "catalog.xml").symlink_to(victim)
    return ["controls", "export", "--format", "xccdf", "-o", "out/catalog.xml"]


def _link_replaced(ctx: Ctx, out: str, err: str) -> None:
    _victim_intact(ctx, out, err)
    dest = ctx.work / "out" / "catalog.xml"
    assert not dest.is_symlink() and dest.stat().st_size > 0  # the link itself was replaced


def _keep_mode(ctx: Ctx) -> list[str]:
    out = ctx.work / "out"
    out.mkdir()
    (out / "catalog.xml").write_bytes(b"old")
    (out / "catalog.xml").chmod(0o640)
    return ["controls", "export", "--format", "xccdf", "-o", "out/catalog.xml"]


def _keys_with_links(ctx: Ctx) -> list[str]:
    victim = _victim(ctx)
    keys = ctx.work / "out"
    keys.mkdir(mode=0o700)
    for name in ("signing-key.pem", "signing-cert.pem", "key.pem", "cert.pem"):
        _plant_pid_links(keys, name, victim, count=400)
    return ["keys", "init", "--dir", "out", "--name", "corpus"]


def _keys_private(ctx: Ctx, out: str, err: str) -> None:
    _victim_intact(ctx, out, err)
    keys = [p for p in (ctx.work / "out").iterdir() if not p.is_symlink()]
    assert keys, "no key written"
    for p in keys:
        if "key" in p.name:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, (p.name, oct(p.stat().st_mode))


def _export_to(dest: str, *, make_dir: bool = False) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        if make_dir:
            (ctx.work / "out").mkdir()
        return ["controls", "export", "--format", "xccdf", "-o", dest]

    return build


def _export_json_to(dest: str) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        _assessment(ctx)
        return ["export", "--format", "json", "-o", dest]

    return build


def _report_to_missing(ctx: Ctx) -> list[str]:
    return ["report", "--format", "html", "-o", "nowhere/report.html"]


def _assert_mode(ctx: Ctx, name: str, mode: int) -> None:
    path = ctx.work / "out" / name
    assert path.read_bytes() != b"old"
    assert stat.S_IMODE(path.stat().st_mode) == mode, oct(path.stat().st_mode)


def _device(name: str, minor: int) -> Callable[[Ctx], list[str]]:
    """A device node like /dev/null or /dev/full, made in the case's own folder: a bug that
    replaced the destination must not replace the machine's real /dev/null (a FIFO stands in
    where mknod is not allowed)."""

    def build(ctx: Ctx) -> list[str]:
        path = ctx.work / name
        try:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        except PermissionError:
            os.mkfifo(path)
        return ["controls", "export", "--format", "xccdf", "-o", name]

    return build


def _assert_special(path: Path) -> None:
    mode = path.lstat().st_mode
    assert stat.S_ISCHR(mode) or stat.S_ISFIFO(mode), "the device node was replaced"


CASES = [
    Case("files-export-symlink-at-temp-name", "files",
         "symlinks to a 0600 file at .result.json.PID.tmp for the next 1500 pids, and other names",
         _export_with_links("export"), 0, None, check=_check_written("result.json")),
    Case("files-controls-export-symlink-at-temp-name", "files",
         "symlinks at .result.xml.PID.tmp for the next 1500 pids (controls export)",
         _export_with_links("controls"), 0, None, check=_check_written("result.xml")),
    Case("files-symlink-at-destination", "files", "-o names a symlink to a 0600 file",
         _link_at_destination, 0, None, check=_link_replaced),
    Case("files-existing-mode-kept", "files", "the destination exists with mode 0640",
         _keep_mode, 0, None, check=lambda ctx, o, e: _assert_mode(ctx, "catalog.xml", 0o640)),
    Case("files-keys-symlinks-at-temp-names", "files",
         "symlinks at the keys' old temporary names for the next 400 pids",
         _keys_with_links, 0, None, check=_keys_private),
    Case("files-missing-folder", "files", "-o in a folder that does not exist",
         _export_to("missing/sub/catalog.xml"), 2,
         r"^assessor: error: missing/sub/catalog\.xml: cannot write: no such directory: "
         r"missing/sub$"),
    Case("files-export-missing-folder", "files", "export -o in a folder that does not exist",
         _export_json_to("missing/result.json"), 2, r"cannot write: no such directory: missing$"),
    Case("files-report-missing-folder", "files", "report -o in a missing folder (no assessment "
         "needed: refused first)", _report_to_missing, 2, r"cannot write: no such directory: nowhere$"),
    Case("files-output-is-a-folder", "files", "-o names an existing folder",
         _export_to("out", make_dir=True), 2, r"^assessor: error: out: is a folder; give a file"),
    Case("files-dev-full", "files", "-o a copy of /dev/full (char 1,7) made in the case folder",
         _device("full", 7), 2, r"^assessor: error: full: not a regular file",
         check=lambda ctx, o, e: _assert_special(ctx.work / "full")),
    Case("files-dev-null-not-replaced", "files", "-o a copy of /dev/null (root could replace "
         "the node)", _device("null", 3), 2, r"^assessor: error: null: not a regular file",
         check=lambda ctx, o, e: _assert_special(ctx.work / "null")),
    Case("files-unwritable-folder", "files", "-o in a read-only folder (/sys)",
         _export_to("/sys/catalog.xml"), 2, r"^assessor: error: /sys/catalog\.xml: cannot "),
    Case("files-parent-is-a-file", "files", "-o below a regular file",
         lambda ctx: (ctx.work / "f").write_text("x") and _export_to("f/catalog.xml")(ctx), 2,
         r"^assessor: error: f/catalog\.xml: cannot write: f is not a folder"),
]  # fmt: skip
