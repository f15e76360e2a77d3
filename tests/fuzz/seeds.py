"""Build the seed corpus of each fuzz target from the repository's own fixtures.

    python tests/fuzz/seeds.py OUT_DIR

writes OUT_DIR/<target>/ (one file per seed, at most MAX_SEED bytes each):
- layer: every blob of the hostile image corpus (tests/fixtures/hostile/*/blobs) and of a
  freshly built valid sample image (tools/sample_image.py); the layer reader ignores the
  ones that are not layers after a cheap refusal;
- archive: the docker-archive tarballs of the hostile corpus (*.tar);
- image_json: the JSON blobs and index.json files of those layouts, and manifest+config pairs;
- yaml: every rule and framework file under controls/, and the waiver examples of docs/audit.md;
- targets: the target strings of tests/hostile/cases_targets.py and the valid forms;
- redact: environment, command lines and URLs in the shapes of issue 17.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "fixtures" / "hostile"
MAX_SEED = 256 * 1024


def _write(out: Path, data: bytes) -> None:
    if len(data) <= MAX_SEED:
        out.mkdir(parents=True, exist_ok=True)
        (out / hashlib.sha256(data).hexdigest()[:16]).write_bytes(data)


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def _images(tmp: Path) -> list[Path]:
    sample = tmp / "sample"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sample_image.py"), str(sample)],
        check=True,
        capture_output=True,
    )
    return [sample, *sorted(p for p in HOSTILE.iterdir() if (p / "blobs").is_dir())]


def _tars() -> list[bytes]:
    """Small layers in each tar dialect, with the member kinds the reader treats apart."""
    out = []
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
            for name, kind, extra in (
                ("etc", tarfile.DIRTYPE, ""),
                ("etc/passwd", tarfile.REGTYPE, "root:x:0:0::/root:/bin/sh\n"),
                ("etc/.wh.shadow", tarfile.REGTYPE, ""),
                ("bin/su", tarfile.REGTYPE, "x"),
                ("bin/sh", tarfile.SYMTYPE, "busybox"),
                ("bin/hard", tarfile.LNKTYPE, "bin/su"),
                ("dev/null", tarfile.CHRTYPE, ""),
                ("app/.env", tarfile.REGTYPE, "API_TOKEN=abc\n"),
                ("d/" + "long-name/" * 12 + "f", tarfile.REGTYPE, "x"),
            ):
                info = tarfile.TarInfo(name)
                info.type = kind
                info.mode = 0o4755 if name == "bin/su" else 0o644
                data = extra.encode() if kind == tarfile.REGTYPE else b""
                if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                    info.linkname = extra
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        out.append(buf.getvalue())
        out.append(gzip.compress(buf.getvalue(), mtime=0))
    return out


def build(out: Path) -> None:
    for data in _tars():
        _write(out / "layer", data)
    with tempfile.TemporaryDirectory() as tmp:
        for layout in _images(Path(tmp)):
            docs = []
            for blob in sorted((layout / "blobs").rglob("*")):
                if not blob.is_file():
                    continue
                data = blob.read_bytes()[: MAX_SEED + 1]
                if _is_json(data):
                    docs.append(data)
                    _write(out / "image_json", data)
                else:
                    _write(out / "layer", data)
            index = layout / "index.json"
            if index.is_file():
                _write(out / "image_json", index.read_bytes())
            if docs:  # the documents of one layout together: index/manifest, then config
                _write(out / "image_json", b"\0\0".join(docs))
    for doc in (  # the shapes of issue 17 item 5: deep nesting, huge numbers, odd types
        b'{"schemaVersion": 2, "config": {"digest": "sha256:' + b"0" * 64 + b'", "size": 1e400}}',
        b'{"config": {"Labels": {"a": "b"}, "Env": ["A=1"], "Healthcheck": {"Test": ["CMD"]}}}',
        b'{"rootfs": {"diff_ids": ["sha256:'
        + b"0" * 64
        + b'"]}, "history": [{"created_by": "x"}]}',
        b'{"manifests": [{"digest": "sha256:' + b"1" * 64 + b'", "size": ' + b"9" * 5000 + b"}]}",
        b'{"config": ' * 2000 + b"{}" + b"}" * 2000,
        b"[" * 5000 + b"]" * 5000,
    ):
        _write(out / "image_json", doc)
    for tar in sorted(HOSTILE.glob("*.tar")):
        _write(out / "archive", tar.read_bytes()[: MAX_SEED + 1])
    for y in sorted((ROOT / "controls").rglob("*.yaml")):
        _write(out / "yaml", y.read_bytes())
    audit = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    for block in re.findall(r"```ya?ml\n(.*?)```", audit, re.S):
        _write(out / "yaml", block.encode())
    for text in (  # the shapes of issue 17 item 6: aliases, recursion, unknown tags
        'a: &a ["x", "x"]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n',
        "- &r [*r]\n",
        "- rule: x\n  reason: !!binary aGVsbG8=\n  expires: 2026-13-01\n",
        "id: x\ntitle: !!python/object:os.system x\n",
        "waivers:\n  - {rule: a, resource: '*', reason: r, approver: b, expires: 2027-01-01}\n",
        "? [a, b]\n: c\n",
    ):
        _write(out / "yaml", text.encode())
    targets = [
        "host:/",
        "host:/srv/root",
        "engine:unix:///var/run/docker.sock",
        "engine:tcp://127.0.0.1:2376",
        "engine:tcp://[::1]:2376",
        "image:docker-archive:app.tar",
        "image:docker-archive:app.tar:app:1",
        "image:oci:dir:tag",
        "image:docker-daemon:busybox:latest",
        "image:docker://127.0.0.1:5000/app:1",
        "image:docker://registry.example.com/ns/app@sha256:" + "0" * 64,
        "registry:https://127.0.0.1:5000",
        "registry:http://[::1]:5000",
    ]
    cases = (ROOT / "tests" / "hostile" / "cases_targets.py").read_text(encoding="utf-8")
    targets += re.findall(r'\("target-[^"]+", "([^"]*)"', cases)
    for t in targets:
        _write(out / "targets", t.encode())
    for text in (
        "DB_PASSWORD=hunter2\nPATH=/usr/bin",
        "mysql -uroot -phunter2 --password=hunter2 db",
        "PGPASSWORD=x psql -h db\0--token=abc",
        "https://user:p%40ss@host/x redis://:pw@cache:6379",
        "Server=db;Database=x;User Id=sa;Password=hunter2;",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
        "AKIAABCDEFGHIJKLMNOP ghp_" + "a" * 36 + " xoxb-1234567890-abc",
        "traefik.http.middlewares.auth.basicauth.users=admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/",
        "sh -c 'curl -H \"Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.sig\" http://x'",
    ):
        _write(out / "redact", text.encode())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: seeds.py OUT_DIR")
    build(Path(sys.argv[1]))
