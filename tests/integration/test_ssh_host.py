"""ssh://: this machine read through a throwaway sshd on 127.0.0.1 (SFTP for its files and
/proc, commands for what has no file) gives the results ``host:/`` and the local engine give;
every way it fails is one line naming the target, within the timeout."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assessor.collectors._access import LOCAL
from assessor.collectors.options import SshSettings
from assessor.errors import TargetUnreachableError
from assessor.regularfile import NotRegularFileError, TooLargeError
from assessor.targets import parse_target
from tests.conftest import SOCKET, Docker, missing, run_cli, sql
from tests.sshd import Sshd, start_sshd

pytestmark = [
    pytest.mark.docker,
    # asyncssh, imported here for the SFTP tests, imports cryptography's DSA types (the CLI
    # quiets the same note: assessor.cli.quiet_library_warnings)
    pytest.mark.filterwarnings("ignore:DSA is deprecated"),
]

NO_AGENT = {"SSH_AUTH_SOCK": ""}  # only the key a test names
# a sudo that allows (drops -n and --, runs the rest) and one that refuses as sudo does when
# a password would be needed; put first on the sessions' PATH by the sshd's SetEnv
ALLOWING_SUDO = '#!/bin/sh\n[ "$1" = -n ] && shift\n[ "$1" = -- ] && shift\nexec "$@"\n'
REFUSING_SUDO = "#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n"
PATH_REST = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    yield from start_sshd(tmp_path_factory.mktemp("sshd"))


def _sudo_sshd(d: Path, script: str) -> Iterator[Sshd]:
    (d / "bin").mkdir()
    (d / "bin" / "sudo").write_text(script)
    (d / "bin" / "sudo").chmod(0o755)
    yield from start_sshd(d, f"SetEnv PATH={d / 'bin'}:{PATH_REST}\n")


def _target(sshd: Sshd, query: str = "") -> str:
    return f"ssh://root@127.0.0.1:{sshd.port}{query}"


def _results(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(r["rule"], r["resource"], r["status"]) for r in doc["results"]}


def _seen_by_both(
    a: set[tuple[str, str, str]], b: set[tuple[str, str, str]]
) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
    """The results of the resources both scans saw. The one difference allowed: other test
    sessions share this dockerd, and a container or image they create or remove between the
    two scans is in one of them only (the machine, its engine and this test's objects must be
    in both)."""
    both = {r[1] for r in a} & {r[1] for r in b}
    return {r for r in a if r[1] in both}, {r for r in b if r[1] in both}


def _evidence(db: str, kind: str) -> dict[str, Any]:
    ((body,),) = sql(db, "SELECT body FROM evidence WHERE kind = :kind", kind=kind)
    return json.loads(zlib.decompress(body))  # type: ignore[no-any-return]


def test_ssh_scan_gives_the_results_of_host_and_engine_here(
    sshd: Sshd, docker: Docker, tmp_path: Path
) -> None:
    """The acceptance test of ssh://: the same (rule, resource, status) as host:/ and the
    local socket, with no difference to explain."""
    docker.create("sshmachpriv", "--privileged")
    docker.create("sshmachnet", "--net=host", start=True)
    db = f"sqlite:///{tmp_path / 'ssh.db'}"
    via_ssh = run_cli("scan", _target(sshd), *sshd.args(), "--format", "json", db=db,
                      env=NO_AGENT)  # fmt: skip
    assert via_ssh.code == 0, via_ssh.err
    local = run_cli("scan", "host:/", f"engine:unix://{SOCKET}", "--format", "json",
                    db=f"sqlite:///{tmp_path / 'local.db'}")  # fmt: skip
    assert local.code == 0, local.err
    remote, here = _seen_by_both(_results(via_ssh.json()), _results(local.json()))
    assert remote == here, sorted(remote ^ here)
    kinds = {r["rule"].split("-")[0] for r in via_ssh.json()["results"]}
    assert {"host", "engine", "container", "image"} <= kinds
    ours = {r for r in remote if docker.label[:8] in r[1]}
    assert ("container-privileged-disabled", next(r[1] for r in ours if "sshmachpriv" in r[1]),
            "fail") in ours  # fmt: skip
    assert {r[1].split(" ")[0] for r in ours} >= {
        f"sshmachpriv-{docker.label[:8]}", f"sshmachnet-{docker.label[:8]}",
        f"docker-daemon:{docker.image}"}  # fmt: skip
    # the machine and its engine were judged in both (not left out as seen by one only)
    # (manual rules answer for "*")
    assert {r[1] for r in remote if r[0].startswith("host-")} == {os.uname().nodename, "*"}
    assert {r for r in remote if r[0].startswith("engine-")}
    # two targets stored: the machine and its engine, named without the key or sudo
    stored = sql(db, "SELECT uri, kind, status FROM target ORDER BY uri")
    assert stored == [
        (f"engine:ssh://root@127.0.0.1:{sshd.port}", "engine", "collected"),
        (f"ssh://root@127.0.0.1:{sshd.port}", "host", "collected"),
    ], stored


def _logins(sshd: Sshd) -> int:
    return sshd.log.read_text().count("Accepted publickey for root")


def test_host_evidence_says_how_it_was_read(sshd: Sshd, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    before = _logins(sshd)
    run = run_cli("scan", _target(sshd), *sshd.args(), db=db, env=NO_AGENT)
    assert run.code in (0, 1), run.err
    # the machine and its engine, read at once, over one login
    assert _logins(sshd) - before == 1, sshd.log.read_text()[-2000:]
    engine = _evidence(db, "engine")["data"]
    assert (
        engine["connection"]["ssh"]["host_key"] == _evidence(db, "host")["data"]["read"]["host_key"]
    )
    data = _evidence(db, "host")["data"]
    read = data["read"]
    assert (read["user"], read["host"], read["port"], read["sudo"]) == (
        "root", "127.0.0.1", sshd.port, False)  # fmt: skip
    assert read["files"] == "SFTP" and read["host_key"].startswith("ssh-ed25519 SHA256:")
    # the kernel's audit list does not cross SSH: auditctl -l run there, and said so
    assert data["audit"]["loaded"]["read"] == "auditctl -l over SSH"
    assert data["live"] is True and data["root"] == "/"
    assert data["system"]["hostname"] == os.uname().nodename
    assert data["kernel"]["release"] == os.uname().release
    assert data["system"]["arch"] == os.uname().machine
    # /proc read in chunks of explicit size (its files say they hold 0 bytes)
    assert data["mounts"]["entries"] and data["sysctl"]


def _access(sshd: Sshd) -> Any:
    from assessor.collectors.ssh_access import ssh_access

    settings = SshSettings(str(sshd.known_hosts), str(sshd.key), 5.0)
    return ssh_access(parse_target(_target(sshd)), settings)


def test_remote_reads_are_bounded_and_hostile_files_refused(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FIFO is refused without opening it (an open would block the SFTP server), a file
    past the bound is refused by its size, /proc reads whole, a missing file is absent."""
    monkeypatch.setenv("SSH_AUTH_SOCK", "")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 5000)
    (tmp_path / "many").mkdir()
    for i in range(50):
        (tmp_path / "many" / str(i)).touch()
    (tmp_path / "link").symlink_to(big)
    with _access(sshd) as access:
        started = time.monotonic()
        with pytest.raises(NotRegularFileError, match="a FIFO"):
            access.read_file(str(fifo), 1 << 20)
        assert time.monotonic() - started < 5
        with pytest.raises(TooLargeError):
            access.read_file(str(big), 4096)
        assert access.read_file(str(big), 5000)[0] == big.read_bytes()
        with pytest.raises(NotRegularFileError, match="a symlink"):
            access.read_file(str(tmp_path / "link"), 1 << 20, follow=False)
        with pytest.raises(FileNotFoundError):
            access.read_file(str(tmp_path / "absent"), 10)
        assert access.read_live(str(tmp_path / "absent")) is None
        assert len(access.listdir(str(tmp_path / "many"), 7)) == 7
        assert access.readlink(str(tmp_path / "link")) == str(big)
        assert stat.S_ISLNK(access.lstat(str(tmp_path / "link")).mode)
        there, here = access.stat(str(big)), LOCAL.stat(str(big))
        assert (there.mode, there.uid, there.gid, there.size) == (
            here.mode,
            here.uid,
            here.gid,
            here.size,
        )
        assert int(there.mtime) == int(here.mtime)  # SFTP v3: whole seconds
        # a /proc file says 0 bytes; read in explicit chunks it is the file
        assert access.stat("/proc/self/mountinfo").size == 0
        mounts = access.read_live("/proc/1/mountinfo")
        assert mounts and mounts == LOCAL.read_live("/proc/1/mountinfo")
        assert access.read_bytes("/proc/1/cmdline", 1 << 16) == LOCAL.read_bytes(
            "/proc/1/cmdline", 1 << 16
        )
        assert access.which("sh") and access.which("no-such-program") is None
        done = access.run(["sh", "-c", "echo out; echo err >&2; exit 3"], 5)
        assert done is not None and (done.returncode, done.stdout, done.stderr) == (
            3, "out\n", "err\n")  # fmt: skip
        huge = access.run(["sh", "-c", "head -c 6000000 /dev/zero"], 10)
        assert huge is not None and len(huge.stdout) == 4 << 20  # _proc.MAX_OUTPUT
        assert access.run(["sleep", "30"], 1) is None  # a command past its time


@pytest.fixture(scope="module")
def sudo_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    yield from _sudo_sshd(tmp_path_factory.mktemp("sudo"), ALLOWING_SUDO)


def test_sudo_reads_through_sudo(sudo_sshd: Sshd, tmp_path: Path) -> None:
    """?sudo=1: the SFTP server and the commands run through sudo -n (here a sudo that
    allows), and the results are those of the plain login."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    run = run_cli("scan", _target(sudo_sshd, "?sudo=1"), *sudo_sshd.args(), "--format", "json",
                  db=db, env=NO_AGENT)  # fmt: skip
    assert run.code == 0, run.err
    data = _evidence(db, "host")["data"]
    assert data["read"]["sudo"] is True
    assert data["read"]["files"] == "SFTP (sftp-server run with sudo -n)"
    assert data["audit"]["loaded"]["read"] == "auditctl -l over SSH with sudo -n"
    plain = run_cli("scan", _target(sudo_sshd), *sudo_sshd.args(), "--format", "json",
                    db=f"sqlite:///{tmp_path / 'b.db'}", env=NO_AGENT)  # fmt: skip
    assert plain.code == 0, plain.err
    assert _results(run.json()) == _results(plain.json())
    stored = sql(db, "SELECT uri FROM target WHERE kind = 'host'")
    assert stored == [(_target(sudo_sshd),)]  # sudo is how, not which host


def test_refused_sudo_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "refusing").mkdir()
    gen = _sudo_sshd(tmp_path / "refusing", REFUSING_SUDO)
    refusing = next(gen)
    try:
        target = _target(refusing)
        run = run_cli("scan", target, *refusing.args(), "--ssh-sudo",
                      db=f"sqlite:///{tmp_path / 'a.db'}", env=NO_AGENT)  # fmt: skip
    finally:
        gen.close()
    _refused(run, target, "sudo was refused (sudo: a password is required)")
    assert "NOPASSWD" in run.err


def _refused(run: Any, target: str, want: str) -> None:
    assert run.code == 3, (run.code, run.err)
    assert "Traceback" not in run.err
    errors = [line for line in run.err.splitlines() if line.startswith("assessor: error:")]
    assert any(target in e and want in e for e in errors), run.err


def test_login_failures_name_the_target(sshd: Sshd, tmp_path: Path) -> None:
    """A key the host refuses, a host key not in known_hosts: both targets (the machine and
    its engine) are unreachable, each with its line."""
    target = _target(sshd)
    run = run_cli("scan", target, "--known-hosts", str(sshd.known_hosts), "--ssh-key",
                  str(sshd.other_key), db=f"sqlite:///{tmp_path / 'a.db'}", env=NO_AGENT)  # fmt: skip
    _refused(run, target, "login as root refused")
    _refused(run, "engine:" + target, "login as root refused")
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    run = run_cli("scan", target, "--known-hosts", str(empty), "--ssh-key", str(sshd.key),
                  db=f"sqlite:///{tmp_path / 'b.db'}", env=NO_AGENT)  # fmt: skip
    _refused(run, target, "host key is not one")


def test_an_inventory_hosts_key_file_is_its_login(sshd: Sshd, tmp_path: Path) -> None:
    """ansible_ssh_private_key_file: the host logs in with its own key, over --ssh-key (here
    the refused one), for the machine and its engine; a host given a key the server refuses
    is unreachable with that key named."""
    inventory = tmp_path / "hosts"
    inventory.write_text(
        "[good]\n"
        f"127.0.0.1:{sshd.port} ansible_user=root ansible_ssh_private_key_file={sshd.key}\n"
        "[refused]\n"
        f"localhost:{sshd.port} ansible_host=127.0.0.1 ansible_user=nobody "
        f"ansible_ssh_private_key_file={sshd.other_key}\n"
    )
    db = f"sqlite:///{tmp_path / 'a.db'}"
    run = run_cli("scan", "-i", str(inventory), "--known-hosts", str(sshd.known_hosts),
                  "--ssh-key", str(sshd.other_key), db=db, env=NO_AGENT)  # fmt: skip
    assert run.code == 3, run.err
    assert "private_key" not in run.err  # honoured, so not in the warning of what is not
    good = f"ssh://root@127.0.0.1:{sshd.port}"
    stored = dict(sql(db, "SELECT uri, status FROM target"))
    assert stored[good] == stored["engine:" + good] == "collected", stored
    refused = f"ssh://nobody@127.0.0.1:{sshd.port}"
    _refused(run, refused, f"login as nobody refused with {sshd.other_key}")


def test_a_host_that_stops_answering_ends_within_the_timeout(tmp_path: Path) -> None:
    """A server that logs in, then never answers SFTP: the machine's target fails after
    --ssh-timeout with that reason, and the scan ends."""
    (tmp_path / "hang").mkdir()
    gen = start_sshd(tmp_path / "hang", "Subsystem sftp /bin/sleep 20\n")
    hanging = next(gen)
    try:
        target = _target(hanging)
        started = time.monotonic()
        run = run_cli("scan", target, *hanging.args(), "--ssh-timeout", "2",
                      db=f"sqlite:///{tmp_path / 'a.db'}", env=NO_AGENT)  # fmt: skip
        took = time.monotonic() - started
    finally:
        gen.close()
    _refused(run, target, "no answer within 2 s")
    assert took < 15, f"{took:.1f} s for a 2 s timeout"


def test_unreachable_host_raises_one_error(tmp_path: Path) -> None:
    from assessor.collectors.ssh_access import ssh_access

    settings = SshSettings(str(tmp_path / "no-known-hosts"), None, 2.0)
    with (
        pytest.raises(TargetUnreachableError, match="no known_hosts file"),
        ssh_access(parse_target("ssh://root@127.0.0.1:1"), settings),
    ):
        pass


NOBODY_SFTP = (
    "Subsystem sftp /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups "
    "/usr/lib/openssh/sftp-server\n"
)


def test_a_file_the_login_may_not_read_is_unreadable_not_fatal(tmp_path: Path) -> None:
    """An SFTP server that runs as nobody (as a login without sudo would read): a root-only
    file is refused as PermissionError, its stat still read, and the scan goes on."""
    if not os.access("/usr/bin/setpriv", os.X_OK):
        missing("setpriv (util-linux), to run the test SFTP server as nobody")
    (tmp_path / "sshd").mkdir()
    gen = start_sshd(tmp_path / "sshd", NOBODY_SFTP)
    nobody = next(gen)
    shared = Path(tempfile.mkdtemp(prefix="assessor-ssh-test-"))
    try:
        shared.chmod(0o755)
        secret = shared / "secret"
        secret.write_text("root only\n")
        secret.chmod(0o600)
        settings = SshSettings(str(nobody.known_hosts), str(nobody.key), 5.0)
        from assessor.collectors.ssh_access import ssh_access

        with ssh_access(parse_target(_target(nobody)), settings) as access:
            with pytest.raises(PermissionError, match="Permission denied"):
                access.read_file(str(secret), 100)
            assert access.read_live(str(secret)) is None
            assert stat.S_IMODE(access.stat(str(secret)).mode) == 0o600
        db = f"sqlite:///{tmp_path / 'a.db'}"
        run = run_cli("scan", _target(nobody), *nobody.args(), db=db, env=NO_AGENT)
        assert run.code in (0, 1), run.err
        assert "Traceback" not in run.err
        stored = sql(db, "SELECT kind, status FROM target ORDER BY kind")
        assert stored == [("engine", "collected"), ("host", "collected")], stored
    finally:
        gen.close()
        shutil.rmtree(shared)


def test_a_host_without_sftp_is_named_and_its_engine_still_read(tmp_path: Path) -> None:
    """No SFTP server: the machine's target says so; its engine is read all the same (its
    dockerd's settings not, and said why)."""
    (tmp_path / "sshd").mkdir()
    gen = start_sshd(tmp_path / "sshd", "Subsystem sftp /nonexistent/sftp-server\n")
    bare = next(gen)
    try:
        db = f"sqlite:///{tmp_path / 'a.db'}"
        run = run_cli("scan", _target(bare), *bare.args(), db=db, env=NO_AGENT)
    finally:
        gen.close()
    _refused(run, _target(bare), "the host has no SFTP server to read its files with")
    stored = sql(db, "SELECT kind, status FROM target ORDER BY kind")
    assert stored == [("engine", "collected"), ("host", "unreachable")], stored
    daemon = _evidence(db, "engine")["data"]["daemon"]
    assert daemon["found"] is False
    assert daemon["read"]["process_read"].startswith("not read over SSH: engine:ssh://")
    assert "no SFTP server" in daemon["read"]["process_read"]
