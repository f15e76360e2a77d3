"""What a scan shows while it runs (assessor/cli/_progress.py): never on standard output;
``--progress plain`` one line per target as it ends; ``auto`` nothing when standard error is
not a terminal, and on a terminal each ended target above a status line of the counts."""

from __future__ import annotations

import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, run_cli


def _fleet(tmp_path: Path) -> tuple[list[str], Path]:
    targets = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        targets.append(f"host:{tmp_path / name}")
    targets.append(f"host:{tmp_path / 'absent'}")
    inv = tmp_path / "fleet.txt"
    inv.write_text("\n".join(targets) + "\n")
    (tmp_path / "known_hosts").write_text("")
    return targets, inv


def test_plain_is_one_line_per_target_on_stderr(tmp_path: Path, db: str) -> None:
    targets, inv = _fleet(tmp_path)
    run = run_cli("scan", "-i", str(inv), "--progress", "plain", "--format", "json", db=db)
    assert run.code == 3
    assert {r["target"] for r in run.json()["results"]} == set(targets[:2])  # stdout: JSON only
    lines = [line for line in run.err.splitlines() if line.startswith("assessor: [")]
    assert len(lines) == 3
    assert sorted(line.split("] ", 1)[0] for line in lines) == [
        "assessor: [1/3",
        "assessor: [2/3",
        "assessor: [3/3",
    ]
    ended = {line.split(" ")[3]: line.split(" ")[2] for line in lines}
    assert ended == {targets[0]: "collected", targets[1]: "collected", targets[2]: "unreachable"}
    failed = next(line for line in lines if "unreachable" in line)
    assert failed.endswith(f"s): {tmp_path / 'absent'} is not a directory")
    # the same from the environment; and auto, when not a terminal, shows nothing
    env_run = run_cli("scan", "-i", str(inv), db=db, env={"ASSESSOR_PROGRESS": "plain"})
    assert len([x for x in env_run.err.splitlines() if x.startswith("assessor: [")]) == 3
    quiet = run_cli("scan", "-i", str(inv), db=db)
    assert "assessor: [" not in quiet.err and "targets done" not in quiet.err
    assert quiet.err.splitlines() == [
        f"assessor: error: {targets[2]}: {tmp_path / 'absent'} is not a directory"
    ]


def test_on_a_terminal_the_counts_and_each_ended_target(tmp_path: Path, db: str) -> None:
    targets, inv = _fleet(tmp_path)
    # a host whose sshd never speaks: read for 6 s (--ssh-timeout), so the status line shows it
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    mute = f"engine:ssh://root@127.0.0.1:{silent.getsockname()[1]}"
    targets.append(mute)
    inv.write_text("\n".join(targets) + "\n")
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(ASSESSOR_DB=db, COLUMNS="500", TERM="xterm")  # no status line cut
    with (tmp_path / "out.json").open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assessor", "scan", "-i", str(inv), "--format", "json",
             "--ssh-timeout", "6", "--known-hosts", str(tmp_path / "known_hosts")],
            stdout=out, stderr=follower, env=env, cwd=ROOT,
        )  # fmt: skip
        os.close(follower)
        shown = b""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=60) == 3
    os.close(leader)
    silent.close()
    text = shown.decode(errors="replace")
    # the status line: the counts, and the names of the targets being read
    seen = text.replace("\r", "\n")  # shown when an assertion fails
    # (which of the two failures comes first depends on the machine's load)
    assert re.search(r"/4 targets done( · 1 failed)? · reading [^\r\n]*" + re.escape(mute), text), (
        seen
    )
    assert re.search(r"/4 targets done · [12] failed", text), seen
    for t in targets[:2]:
        assert f"collected {t} (" in text, seen
    assert f"unreachable {targets[2]} (" in text, seen
    assert re.search(re.escape(f"unreachable {mute} (") + r"\d+\.\d s\): ssh to", text), seen
    assert (tmp_path / "out.json").read_text().startswith("{")  # stdout untouched
