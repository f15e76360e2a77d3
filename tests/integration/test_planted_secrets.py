"""Planted secrets (issue 17, item 3): nothing a target holds reaches any output in clear.

Real containers (through the Engine API) and real image tarballs carry one unique random value
per secret shape and place: environment, labels, command and entrypoint in exec and shell form,
health checks, image history and build arguments, files in layers, and shapes no list names
(``--client-secret`` of a made-up tool, ``MYAPP_AUTHKEY``, an ``X-Api-Key`` header, an ftp URL,
an ``apiKey`` inside JSON in a label). The real CLI scans the engine, the images (one also
loaded into the daemon) and ``host:/`` into a scratch database, then writes signed HTML and PDF
reports, every export, ``results`` (JSON and table) and ``scan --format json``. An offline root
(``host:DIR``) carries credentials in daemon.json and the docker.service unit; a running exec
session carries one in its arguments; credentials given on the command line (in a target
string, with ``--creds``) are planted too. A container named like a GitHub token checks resource
names, in a test of its own.

Every needle of every planting (the whole value and each random part of it) is then looked for
in every cell of every table (evidence bodies decompressed), the PDF text and its inflated
streams, the HTML, each export (raw and unescaped) and every CLI output: zero hits, and one run
lists every (shape, planted where, found where). The redacted form must stay actionable: each
planted place holds a ``<redacted:`` marker and the evidence's redactions name it, and the
image-no-secrets rule still fails on the planted images.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import subprocess
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SOCKET, Docker, Run, missing, run_cli
from tests.secretcorpus import (
    Corpus,
    Finder,
    Planting,
    Spot,
    inflate_pdf_streams,
    pdf_utf16_strings,
    tar_bytes,
    variants,
    write_docker_archive,
    write_oci_layout,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ENGINE = f"engine:unix://{SOCKET}"
HOUR_NS = 3600 * 10**9
LOOP = "while :; do sleep 60; done"


# --------------------------------------------------------------------------------------------
# Staging containers through the Engine API (exact argv, no shell quoting, values > 128 KiB)


class Api:
    def __init__(self, docker: Docker) -> None:
        self.docker = docker
        self.client = httpx.Client(
            transport=httpx.HTTPTransport(uds=SOCKET), base_url="http://docker", timeout=60
        )
        self.created: list[str] = []
        self.execs: list[str] = []

    def inspect(self) -> list[tuple[str, str]]:
        """What dockerd holds for each staged container (its inspect JSON)."""
        out = []
        for cid in self.created:
            r = self.client.get(f"/containers/{cid}/json")
            assert r.status_code == 200, r.text
            out.append((f"inspect of {cid[:12]}", r.text))
        for eid in self.execs:
            r = self.client.get(f"/exec/{eid}/json")
            assert r.status_code == 200, r.text
            out.append((f"exec inspect of {eid[:12]}", r.text))
        return out

    def exec(self, name: str, cmd: list[str]) -> None:
        """Start a detached exec session (the engine lists it in the container's ExecIDs)."""
        r = self.client.post(f"/containers/{name}/exec", json={"Cmd": cmd})
        assert r.status_code == 201, r.text
        eid = str(r.json()["Id"])
        s = self.client.post(f"/exec/{eid}/start", json={"Detach": True})
        assert s.status_code in (200, 204), s.text
        self.execs.append(eid)

    def create(self, name: str, body: dict[str, Any], start: bool) -> str:
        labels = {**body.pop("Labels", {}), "assessor.test": self.docker.label}
        full = f"{name}-{self.docker.label[:8]}"
        r = self.client.post(
            "/containers/create",
            params={"name": full},
            json={"Image": self.docker.image, "Labels": labels, "HostConfig": {}, **body},
        )
        assert r.status_code == 201, r.text
        cid = str(r.json()["Id"])
        self.created.append(cid)
        if start:
            s = self.client.post(f"/containers/{cid}/start")
            assert s.status_code in (204, 304), s.text
        return full


def _env_spots(resource: str, key: str, kind: str = "container") -> list[Spot]:
    base = ("Config", "Env") if kind == "container" else ("config", "Env")
    return [Spot(kind, resource, (*base, f"{key}="), key)]


def stage_containers(api: Api, corpus: Corpus) -> None:
    # 1. environment: key names that say secret, and shaped values under plain names
    env: list[str] = []
    name = api.docker.label[:8]
    res = f"planted-env-{name} ("
    for key, shape, template in (
        ("STRIPE_KEY", "stripe_key", "{}"),
        ("APP_KEY", "high_entropy", "base64:{}"),
        ("DB_PASSWORD", "password", "{}"),
        ("X_PASS", "password", "{}"),
        ("X_PWD", "password", "{}"),
        ("X_SECRET", "password", "{}"),
        ("X_TOKEN", "password", "{}"),
        ("X_CREDENTIALS", "password", "{}"),
        ("AWS_SECRET_ACCESS_KEY", "aws_secret_key", "{}"),
        ("REDIS_URL", "password", "redis://:{}@cache:6379/0"),
        ("DATABASE_URL", "password_with_slash_at", "postgres://app:{}@db:5432/app"),
        ("MSSQL", "password", "Server=db;User Id=sa;Password={};Database=app"),
        # not on the list: the detector must generalise
        ("MYAPP_AUTHKEY", "high_entropy", "{}"),
        ("FTP_MIRROR", "password", "ftp://mirror:{}@ftp.example.org/pub/"),
        ("FIRST_ID", "aws_access_key", "{}"),
        ("UPSTREAM_CI", "github_token", "{}"),
        ("CHAT_HOOK", "slack_token", "{}"),
        ("MAPS", "google_api_key", "{}"),
        ("ID_HINT", "jwt", "{}"),
        ("SERVER_BUNDLE", "private_key_pem", "{}"),
        ("SA_DOC", "gcp_service_account", "{}"),
    ):
        p = corpus.new(shape, f"container env {key}")
        p.spots += _env_spots(res, key)
        env.append(f"{key}={template.format(p.value)}")
    api.create("planted-env", {"Entrypoint": ["sh", "-c", LOOP], "Env": env}, start=True)

    # 2. labels: traefik basic auth, JSON with an apiKey, a service-account key, and a value too
    # big for the docker client (> 128 KiB) with a URL password at its end
    labels: dict[str, str] = {}
    res = f"planted-labels-{name} ("
    lorem = "lorem ipsum dolor sit amet " * 10_000  # 270 KB
    for key, shape, template in (
        ("traefik.http.middlewares.auth.basicauth.users", "apr1_users", "{}"),
        (
            "com.example.settings",
            "high_entropy",
            '{{"endpoint": "https://api.example.org", "apiKey": "{}", "retries": 3}}',
        ),
        ("com.example.sa", "gcp_service_account", "{}"),
        ("com.example.notes", "password", lorem + "clone https://deploy:{}@git.example.org/x.git"),
    ):
        p = corpus.new(shape, f"container label {key}")
        p.spots.append(Spot("container", res, ("Config", "Labels", key), key))
        labels[key] = template.format(p.value)
    api.create("planted-labels", {"Cmd": ["sleep", "600"], "Labels": labels}, start=False)

    # 3. exec form: secret flags after the program, the process running (host /proc sees it)
    res = f"planted-args-{name} ("
    cmd: list[str] = []
    for flag, joined in (
        ("--password", True),
        ("--password", False),
        ("--pwd", True),
        ("--credentials", True),
        ("--access-key", True),
        ("--secret", True),
        ("--token", True),
        ("--private-key", True),
        ("--client-secret", False),  # not on the list
    ):
        p = corpus.new("password", f"container exec-form Cmd {flag}{'=' if joined else ' '}")
        if joined:
            cmd.append(f"{flag}={p.value}")
        else:
            cmd += [flag, p.value]
        p.spots.append(Spot("container", res, ("Config", "Cmd", len(cmd) - 1), "Cmd"))
    full = api.create(
        "planted-args", {"Entrypoint": ["sh", "-c", LOOP, "app"], "Cmd": cmd}, start=True
    )
    # an exec session running in it with a secret in its arguments
    p = corpus.new("password", "container exec session argv --password=")
    api.exec(full, ["sh", "-c", "sleep 600", "maintenance", f"--password={p.value}"])

    # 4. mysql-style clients: -pVALUE in the entrypoint; -p VALUE in the command
    res = f"planted-mysql-{name} ("
    p = corpus.new("password", "container Entrypoint mysql -pVALUE")
    p.spots.append(Spot("container", res, ("Config", "Entrypoint", 5), "Entrypoint"))
    p2 = corpus.new("password", "container Cmd mysql -p VALUE")
    p2.spots.append(Spot("container", res, ("Config", "Cmd", 3), "Cmd"))
    api.create(
        "planted-mysql",
        {
            "Entrypoint": ["mysql", "-h", "db", "-u", "root", f"-p{p.value}"],
            "Cmd": ["-u", "root", "-p", p2.value, "appdb"],
        },
        start=False,
    )

    # 5. shell form inside sh -c, running
    res = f"planted-shell-{name} ("
    parts: list[str] = []
    for template, what in (
        ("PGPASSWORD={} psql -h db -U app -c 'select 1'", "PGPASSWORD=x psql"),
        ('curl -H "Authorization: Bearer {}" https://api.example.org/', "Bearer header"),
        ("curl https://deploy:{}@api.example.org/", "https URL password"),
        ("wget --header 'X-Api-Key: {}' http://svc.local/", "X-Api-Key header"),
        ("sync-tool --client-secret {} --region eu", "--client-secret of a made-up tool"),
    ):
        p = corpus.new("high_entropy" if "Key" in what else "password", f"container sh -c {what}")
        p.spots.append(Spot("container", res, ("Config", "Cmd", 2), "Cmd"))
        parts.append(template.format(p.value))
    api.create(
        "planted-shell",
        {"Entrypoint": None, "Cmd": ["sh", "-c", "; ".join([*parts, LOOP])]},
        start=True,
    )

    # 6. health checks: shell form (running) and exec form (created)
    res = f"planted-health-{name} ("
    p = corpus.new("password", "container health check CMD-SHELL mysql -pVALUE")
    p.spots.append(Spot("container", res, ("Config", "Healthcheck", "Test", 1), "Healthcheck"))
    api.create(
        "planted-health",
        {
            "Cmd": ["sleep", "600"],
            "Healthcheck": {
                "Test": ["CMD-SHELL", f"mysql -u root -p{p.value} -e 'select 1' || exit 1"],
                "Interval": HOUR_NS,
            },
        },
        start=True,
    )
    res = f"planted-health2-{name} ("
    p = corpus.new("password", "container health check CMD --password VALUE")
    p.spots.append(Spot("container", res, ("Config", "Healthcheck", "Test", 3), "Healthcheck"))
    api.create(
        "planted-health2",
        {
            "Cmd": ["sleep", "600"],
            "Healthcheck": {
                "Test": ["CMD", "/bin/check", "--password", p.value],
                "Interval": HOUR_NS,
            },
        },
        start=False,
    )


# --------------------------------------------------------------------------------------------
# An offline root (host:DIR): the daemon's settings and its systemd unit


def stage_offline_root(root: Path, corpus: Corpus, hostname: str) -> list[tuple[str, str]]:
    """Write the root; return its files' texts (the sources the values are planted in)."""
    res = hostname

    def new(shape: str, where: str, *path: str | int, hint: str) -> Planting:
        p = corpus.new(shape, f"offline root {where}")
        p.spots.append(Spot("host", res, path, hint))
        return p

    dj = ("docker", "daemon_json")
    proxy = new("password", "daemon.json proxies", *dj, "proxies", "http-proxy", hint="proxies")
    mirror = new(
        "password", "daemon.json registry-mirrors", *dj, "registry-mirrors", 0, hint="mirrors"
    )
    splunk = new("uuid_token", "daemon.json log-opts splunk-token", *dj, "log-opts",
                 "splunk-token", hint="splunk-token")  # fmt: skip
    unit = ("systemd", "units", "docker.service", "exec_start", 0)
    flag_token = new("uuid_token", "docker.service ExecStart --log-opt splunk-token=", *unit,
                     hint="exec_start")  # fmt: skip
    flag_mirror = new("password", "docker.service ExecStart --registry-mirror URL", *unit,
                      hint="exec_start")  # fmt: skip
    env_proxy = corpus.new("password", "offline root docker.service Environment=HTTPS_PROXY")
    daemon_json = json.dumps(
        {
            "proxies": {
                "http-proxy": f"http://proxyuser:{proxy.value}@proxy.example.org:3128",
                "no-proxy": "localhost,127.0.0.1",
            },
            "registry-mirrors": [f"https://mirror:{mirror.value}@mirror.example.org"],
            "log-driver": "splunk",
            "log-opts": {
                "splunk-token": splunk.value,
                "splunk-url": "https://splunk.example.org:8088",
            },
            "icc": False,
        },
        indent=2,
    )
    service = (
        "[Unit]\nDescription=Docker Application Container Engine\n\n[Service]\n"
        f'Environment="HTTPS_PROXY=http://proxyuser:{env_proxy.value}@proxy.example.org:3128"\n'
        f"ExecStart=/usr/bin/dockerd -H fd:// --log-opt splunk-token={flag_token.value} "
        f"--registry-mirror https://mirror:{flag_mirror.value}@mirror2.example.org\n"
    )
    files = {
        "etc/hostname": f"{hostname}\n",
        "etc/os-release": 'NAME="Debian GNU/Linux"\nID=debian\nPRETTY_NAME="Debian 12"\n',
        "etc/docker/daemon.json": daemon_json,
        "etc/systemd/system/docker.service": service,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return [(f"offline root /{name}", text) for name, text in files.items()]


# --------------------------------------------------------------------------------------------
# Images


def planted_image(corpus: Corpus, what: str) -> tuple[dict[str, Any], list[bytes]]:
    """An image config and layers carrying the shapes; spots are added by the caller."""

    def new(shape: str, where: str, *path: str | int, hint: str) -> Planting:
        p = corpus.new(shape, f"{what} {where}")
        p.spots.append(Spot("image", "", path, hint))
        return p

    api_token = new("password", "Env API_TOKEN", "config", "Env", "API_TOKEN=", hint="API_TOKEN")
    ghp = new(
        "github_token", "Env NEUTRAL_REF", "config", "Env", "NEUTRAL_REF=", hint="NEUTRAL_REF"
    )
    db_url = new(
        "password_with_slash_at", "Env DATABASE_URL", "config", "Env", "DATABASE_URL=",
        hint="DATABASE_URL",
    )  # fmt: skip
    traefik_key = "traefik.http.middlewares.auth.basicauth.users"
    apr1 = new("apr1_users", "label traefik", "config", "Labels", traefik_key, hint=traefik_key)
    api_key = new(
        "high_entropy", "label JSON apiKey", "config", "Labels", "com.example.settings",
        hint="com.example.settings",
    )  # fmt: skip
    cmd_token = new("password", "Cmd --token=", "config", "Cmd", 0, hint="Cmd")
    cmd_pw = new("password", "Cmd --password VALUE", "config", "Cmd", 2, hint="Cmd")
    ep_key = new("aws_access_key", "Entrypoint AKIA", "config", "Entrypoint", 2, hint="Entrypoint")
    health = new(
        "jwt", "Healthcheck Bearer", "config", "Healthcheck", "Test", 1, hint="Healthcheck"
    )
    arg = new("password", "history build arg |1 API_TOKEN=", "history", 1, "created_by",
              hint="history[1]")  # fmt: skip
    run_pw = new("password", "history RUN --password", "history", 2, "created_by",
                 hint="history[2]")  # fmt: skip
    npm = new("high_entropy", "history buildkit RUN |2 NPM_TOKEN=", "history", 3, "created_by",
              hint="history[3]")  # fmt: skip
    npm_gh = new("github_token", "history buildkit RUN |2 GH_HELPER=", "history", 3,
                 "created_by", hint="history[3]")  # fmt: skip
    env_step = new("stripe_key", "history ENV STRIPE_KEY=", "history", 4, "created_by",
                   hint="history[4]")  # fmt: skip
    label_step = new("password", "history LABEL with URL password", "history", 5, "created_by",
                     hint="history[5]")  # fmt: skip

    def file(shape: str, path: str) -> Planting:
        p = corpus.new(shape, f"{what} file /{path}")
        p.spots.append(Spot("image", "", ("secrets", "items"), path, file=True))
        return p

    env_pw = file("password", "app/.env")
    env_sk = corpus.new("stripe_key", f"{what} file /app/.env STRIPE_KEY")
    cfg_pw = corpus.new("password", f"{what} file /app/config.json")  # not a known file
    aws_id = corpus.new("aws_access_key", f"{what} file /root/.aws/credentials id")
    aws_secret = file("aws_secret_key", "root/.aws/credentials")
    docker_pw = file("password", "root/.docker/config.json")
    import base64

    docker_auth = base64.b64encode(f"deploy:{docker_pw.value}".encode()).decode()
    docker_pw.encoded_at_source.update(docker_pw.needles)  # the file holds it in base64 only
    docker_pw.needles.append(docker_auth)
    id_rsa = file("private_key_pem", "root/.ssh/id_rsa")

    base = tar_bytes([("bin", 0o755, None), ("etc", 0o755, None), ("tmp", 0o1777, None)])
    app = tar_bytes(
        [
            ("app", 0o755, None),
            (
                "app/.env",
                0o600,
                f"DB_PASSWORD={env_pw.value}\nSTRIPE_KEY={env_sk.value}\n".encode(),
            ),
            (
                "app/config.json",
                0o644,
                json.dumps({"database": {"user": "app", "password": cfg_pw.value}}).encode(),
            ),
        ]
    )
    creds = tar_bytes(
        [
            ("root", 0o700, None),
            ("root/.aws", 0o700, None),
            (
                "root/.aws/credentials",
                0o600,
                (
                    f"[default]\naws_access_key_id = {aws_id.value}\n"
                    f"aws_secret_access_key = {aws_secret.value}\n"
                ).encode(),
            ),
            ("root/.docker", 0o700, None),
            (
                "root/.docker/config.json",
                0o600,
                json.dumps({"auths": {"registry.example.org": {"auth": docker_auth}}}).encode(),
            ),
        ]
    )
    ssh = tar_bytes(
        [("root/.ssh", 0o700, None), ("root/.ssh/id_rsa", 0o600, id_rsa.value.encode())]
    )
    t = "2026-01-01T00:00:00Z"
    config = {
        "created": t,
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": [
                "PATH=/usr/bin:/bin",
                f"API_TOKEN={api_token.value}",
                f"NEUTRAL_REF={ghp.value}",
                f"DATABASE_URL=mysql://root:{db_url.value}@db:3306/app",
            ],
            "Labels": {
                traefik_key: apr1.value,
                "com.example.settings": json.dumps({"apiKey": api_key.value, "region": "eu"}),
            },
            "Entrypoint": ["/app/server", "--access-key-id", ep_key.value],
            "Cmd": [f"--token={cmd_token.value}", "--password", cmd_pw.value],
            "Healthcheck": {
                "Test": [
                    "CMD-SHELL",
                    f"wget -q --header 'Authorization: Bearer {health.value}' "
                    "http://localhost/health || exit 1",
                ],
                "Interval": HOUR_NS,
            },
        },
        "history": [
            {"created": t, "created_by": "/bin/sh -c #(nop) ADD file:0123abcd in / "},
            {
                "created": t,
                "created_by": f"|1 API_TOKEN={arg.value} /bin/sh -c ./configure "
                "--with-token=$API_TOKEN && make install",
            },
            {
                "created": t,
                "created_by": f"RUN /bin/sh -c mysql -h db -u root --password {run_pw.value} "
                "< /schema.sql # buildkit",
            },
            {
                "created": t,
                "created_by": f"RUN |2 NPM_TOKEN={npm.value} GH_HELPER={npm_gh.value} "
                "/bin/sh -c npm ci # buildkit",
            },
            {"created": t, "created_by": f"ENV STRIPE_KEY={env_step.value}", "empty_layer": True},
            {
                "created": t,
                "created_by": "/bin/sh -c #(nop)  LABEL com.example.src="
                f"https://ci:{label_step.value}@git.example.org/app.git",
                "empty_layer": True,
            },
        ],
    }
    return config, [base, app, creds, ssh]


def _bind(corpus: Corpus, start: int, *resources: str) -> None:
    """Give the image spots planted since ``start`` their resource (one copy per resource)."""
    for p in corpus.plantings[start:]:
        unbound = [s for s in p.spots if s.resource == ""]
        p.spots = [s for s in p.spots if s.resource != ""]
        for s in unbound:
            for r in resources:
                p.spots.append(Spot(s.kind, r, s.path, s.hint, s.file))


# --------------------------------------------------------------------------------------------
# The run


@dataclass
class Outcome:
    corpus: Corpus
    names: Corpus  # values planted in names: resource names, not only evidence fields
    db: Path
    out: Path
    runs: dict[str, Run]
    scan: dict[str, Any]
    aid: str
    images: dict[str, str]  # name -> resource substring (and "offline": the offline root)
    sources: list[tuple[str, str]]  # where the values were planted, as the scan reads them
    seconds: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:  # pytest prints fixtures of a failed test: not the values
        return f"Outcome(assessment {self.aid}, {len(self.corpus.plantings)} plantings)"


@pytest.fixture(scope="module")
def outcome(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    if shutil.which("pdftotext") is None:
        missing("pdftotext (apt-get install poppler-utils)")
    t0 = time.monotonic()
    tmp = tmp_path_factory.mktemp("planted")
    out = tmp / "out"
    out.mkdir()
    corpus = Corpus()
    api = Api(docker)
    label = docker.label[:12]
    stage_containers(api, corpus)
    names = Corpus()
    token = names.new("github_token", "container name (the resource name)")
    api.create(token.value, {"Cmd": ["sleep", "600"]}, start=False)

    images: dict[str, str] = {}
    start = len(corpus.plantings)
    archive = tmp / "planted-archive.tar"
    tag = f"assessor-test/planted:{label}"
    config, layers = planted_image(corpus, "docker-archive image")
    write_docker_archive(archive, config, layers, tag)
    sources = [*api.inspect(), ("the docker-archive", archive.read_bytes().decode("latin-1"))]
    images["docker-archive"] = str(archive)
    images["docker-daemon"] = f"docker-daemon:{tag}"
    _bind(corpus, start, images["docker-archive"], images["docker-daemon"])
    start = len(corpus.plantings)
    oci = tmp / "planted-oci"
    config, layers = planted_image(corpus, "OCI image")
    write_oci_layout(oci, config, layers, "planted")
    sources.append(("the OCI config", json.dumps(config)))
    sources += [(f"OCI layer {i}", t.decode("latin-1")) for i, t in enumerate(layers)]
    images["oci"] = str(oci)
    _bind(corpus, start, images["oci"])
    docker("load", "-i", str(archive))
    offline = tmp / "offline-root"
    sources += stage_offline_root(offline, corpus, f"planted-root-{label}")
    images["offline"] = str(offline)
    keys = {"ASSESSOR_KEY_DIR": str(tmp / "keys")}
    seconds = {"stage": time.monotonic() - t0}
    try:
        yield _run(corpus, names, tmp, out, images, sources, keys, seconds)
    finally:
        docker("rmi", "-f", tag, check=False)


def _run(
    corpus: Corpus,
    names: Corpus,
    tmp: Path,
    out: Path,
    images: dict[str, str],
    sources: list[tuple[str, str]],
    keys: dict[str, str],
    seconds: dict[str, float],
) -> Outcome:
    db_path = tmp / "assessor.db"
    db = f"sqlite:///{db_path}"
    runs: dict[str, Run] = {}

    def cli(
        name: str, *args: str, db: str = db, env: dict[str, str] | None = None, **kw: Any
    ) -> Run:
        t = time.monotonic()
        r = run_cli(*args, db=db, env={**keys, **(env or {})}, **kw)
        seconds[name] = time.monotonic() - t
        runs[name] = r
        return r

    assert cli("keys init", "keys", "init", "--organisation", "Planted Org").code == 0
    scan = cli(
        "scan",
        "scan",
        ENGINE,
        f"image:docker-archive:{images['docker-archive']}",
        f"image:oci:{images['oci']}",
        "host:/",
        f"host:{images['offline']}",
        "--system",
        "planted",
        "--format",
        "json",
        timeout=600,
    )
    assert scan.code in (0, 1), scan.err
    doc = scan.json()
    aid = str(doc["assessment"]["id"])
    # the PDF takes most of the time on one core: the other outputs are written meanwhile
    with ThreadPoolExecutor(max_workers=1) as pool:
        pdf = pool.submit(
            cli, "report pdf", "report", aid, "--format", "pdf", "--sign", "-o", str(out / "r.pdf")
        )
        cli("results", "results", aid, "--format", "json")
        cli("results table", "results", aid, env={"COLUMNS": "400"})
        cli("report html", "report", aid, "--format", "html", "--sign", "-o", str(out / "r.html"))
        for fmt in ("oscal", "xccdf", "arf", "sarif", "junit", "csv", "json"):
            cli(f"export {fmt}", "export", aid, "--format", fmt, "-o", str(out / f"export.{fmt}"))

        # credentials on the command line (into a second database, not to disturb the first):
        # in a target string they are refused and never echoed; given with --creds to
        # unreachable registries they reach no output either
        other = f"sqlite:///{tmp / 'creds.db'}"
        pw = corpus.new("password", "target string image:docker://USER:PW@host")
        pw.in_target = False
        cli(
            "scan credentialed target",
            "scan",
            f"image:docker://deploy:{pw.value}@127.0.0.1:9/a:1",
            db=other,
        )
        creds = corpus.new("password", "--creds USER:PASSWORD of an unreachable registry")
        creds.in_target = False
        cli(
            "scan with --creds",
            "scan",
            "registry:https://127.0.0.1:9",
            "image:docker://127.0.0.1:9/app:1",
            "--creds",
            f"deploy:{creds.value}",
            "--format",
            "json",
            db=other,
        )
        pdf.result()
    return Outcome(corpus, names, db_path, out, runs, doc, aid, images, sources, seconds)


# --------------------------------------------------------------------------------------------
# Reading every output


def _evidence_docs(db: Path) -> list[dict[str, Any]]:
    con = sqlite3.connect(db)
    try:
        return [json.loads(zlib.decompress(b)) for (b,) in con.execute("SELECT body FROM evidence")]
    finally:
        con.close()


def _search_db(finder: Finder, db: Path) -> None:
    """Every cell of every table. Evidence bodies one by one (a hit names the resource and
    JSON path); the cells of any other column joined, and searched at once."""
    con = sqlite3.connect(db)
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            cur = con.execute(f'SELECT * FROM "{table}"')  # table names from sqlite_master
            cols = [c[0] for c in cur.description]
            columns: dict[str, list[str]] = {c: [] for c in cols}
            for row in cur:
                for col, cell in zip(cols, row, strict=True):
                    text = _cell_text(cell)
                    if text is None:
                        continue
                    if table == "evidence" and col == "body":
                        _search_evidence(finder, text)
                    else:
                        columns[col].append(text)
            for col, texts in columns.items():
                if texts:
                    finder.text("\0".join(texts), f"db {table}.{col}")
    finally:
        con.close()


def _cell_text(cell: Any) -> str | None:
    """A cell as text; a compressed body (zlib) inflated first."""
    if cell is None or isinstance(cell, int | float):
        return None
    if isinstance(cell, bytes):
        data: bytes = cell
        with contextlib.suppress(zlib.error):  # not compressed: as stored
            data = zlib.decompress(cell)
        return data.decode("utf-8", "replace")
    return str(cell)


def _search_evidence(finder: Finder, text: str) -> None:
    where = "db evidence.body (inflated)"
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        where += f" [{doc.get('kind')} {doc.get('resource')}]"
    if finder.text(text, where) and isinstance(doc, dict):
        finder.json_doc(doc, where)  # name the JSON path of each hit


def _search_file(finder: Finder, path: Path) -> None:
    """A file as bytes; a PDF also as its text (pdftotext) and its inflated streams."""
    raw = path.read_bytes()
    where = f"file {path.name}"
    # a PDF's bytes are binary (no HTML, JSON or URL escapes to undo): as they are
    finder.data(raw, where, decode=path.suffix != ".pdf")
    if path.suffix == ".pdf":
        text = subprocess.run(
            ["pdftotext", "-q", str(path), "-"], capture_output=True, check=True, timeout=120
        ).stdout
        finder.data(text, f"{where} (pdftotext)")
        streams = b"\n".join(inflate_pdf_streams(raw))
        finder.data(streams, f"{where} (inflated streams)", decode=False)
        finder.text(pdf_utf16_strings(raw + streams), f"{where} (UTF-16 strings)")


@pytest.fixture(scope="module")
def finder(outcome: Outcome) -> Finder:
    t = time.monotonic()
    finder = Finder(Corpus([*outcome.corpus.plantings, *outcome.names.plantings]))
    for db in sorted(outcome.db.parent.glob("*.db")):
        _search_db(finder, db)
    # every file a user holds: the reports, the exports and the files shipped beside the HTML
    # report (r.files/: attestation files and evidence documents)
    for path in sorted(p for p in outcome.out.rglob("*") if p.is_file()):
        _search_file(finder, path)
    assert any(outcome.out.glob("r.files/evidence/*.json")), "the HTML report shipped no evidence"
    for name, r in outcome.runs.items():
        finder.text(r.out, f"stdout of `{name}`")
        finder.text(r.err, f"stderr of `{name}`")
    outcome.seconds["search"] = time.monotonic() - t
    return finder


# --------------------------------------------------------------------------------------------
# The tests


def test_every_command_ran(outcome: Outcome) -> None:
    expected = {"scan credentialed target": (2,), "scan with --creds": (3,), "scan": (0, 1)}
    bad = {
        name: f"exit {r.code}: {r.err.strip()[-300:]}"
        for name, r in outcome.runs.items()
        if r.code not in expected.get(name, (0,))
    }
    assert not bad, bad
    assert all("Traceback" not in r.err for r in outcome.runs.values())
    for name in ("r.html", "r.pdf", *(f"export.{f}" for f in ("oscal", "xccdf", "arf", "sarif"))):
        assert (outcome.out / name).stat().st_size > 0, name


def test_no_planted_value_anywhere(outcome: Outcome, finder: Finder) -> None:
    n = len(outcome.corpus.plantings)
    leaks = finder.report(outcome.corpus)
    print("seconds:", {k: round(v, 1) for k, v in outcome.seconds.items()})
    assert not leaks, (
        f"{len(leaks)} of {n} planted values leaked (shape planted in place -> found in):\n  "
        + "\n  ".join(leaks)
    )


def test_token_shaped_names_do_not_leak_through_resource_names(
    outcome: Outcome, finder: Finder
) -> None:
    """A container named like a GitHub token: its name is a resource name (results, reports,
    exports), not only a field of the evidence."""
    leaks = finder.report(outcome.names)
    assert not leaks, "leaked through names:\n  " + "\n  ".join(leaks)


def test_search_finds_every_value_where_it_was_planted(outcome: Outcome) -> None:
    """The search itself works: each value planted in a target is found in what dockerd holds
    or in the image files written (so zero hits elsewhere means something)."""
    texts = [t for _, text in outcome.sources for _, t in variants(text)]
    planted = [p for p in [*outcome.corpus.plantings, *outcome.names.plantings] if p.in_target]
    assert len(planted) > 60
    unseen = [
        f"{p.shape} in {p.where} (needle {i})"
        for p in planted
        for i, needle in enumerate(p.needles)
        if needle not in p.encoded_at_source and not any(needle in t for t in texts)
    ]
    assert not unseen, f"needles the search cannot find at their source: {unseen}"


def test_every_planting_was_scanned(outcome: Outcome) -> None:
    """Every container and image the corpus names is in the evidence (else zero hits is easy)."""
    docs = _evidence_docs(outcome.db)
    resources = {(d["kind"], d["resource"]) for d in docs}
    wanted = {(s.kind, s.resource) for p in outcome.corpus.plantings for s in p.spots}
    absent = sorted(
        f"{k} {r}" for k, r in wanted if not any(k == k2 and r in r2 for k2, r2 in resources)
    )
    assert not absent, f"not in the evidence: {absent}"


def _at(data: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        if isinstance(step, str) and step.endswith("=") and isinstance(data, list):
            data = next((e for e in data if isinstance(e, str) and e.startswith(step)), None)
        elif isinstance(step, int) and isinstance(data, list):
            data = data[step] if step < len(data) else None
        elif isinstance(data, dict):
            data = data.get(step)
        else:
            return None
    return data


def _masked(value: Any, corpus: Corpus) -> str:
    """A value for a failure message: planted values replaced, long text shortened."""
    text = value if isinstance(value, str) else json.dumps(value)
    for _, needle in corpus.needles():
        text = text.replace(needle, "«planted»")
    return text if len(text) <= 200 else f"{text[:90]} ... {text[-90:]}"


def test_redacted_form_stays_actionable(outcome: Outcome) -> None:
    """Each planted place keeps a ``<redacted:`` marker (one per planting there: a secret
    hidden by redacting the whole command line would hide the finding too), and the
    evidence's redactions name the place; files in layers are named in secrets.items."""
    docs = _evidence_docs(outcome.db)
    problems: list[str] = []
    wanted: dict[tuple[str, str, tuple[str | int, ...]], int] = {}
    for p in outcome.corpus.plantings:
        for s in p.spots:
            if not s.file:
                key = (s.kind, s.resource, s.path)
                wanted[key] = wanted.get(key, 0) + 1
    for p in outcome.corpus.plantings:
        for s in p.spots:
            found = [d for d in docs if d["kind"] == s.kind and s.resource in d["resource"]]
            if len(found) != 1:
                problems.append(f"{p.where}: {len(found)} evidence documents for {s.resource}")
                continue
            d = found[0]
            short = d["resource"].split(":", 1)[0] if s.kind == "image" else s.kind
            where = f"{p.where} [{short}]"
            if s.file:
                items = (d["data"].get("secrets") or {}).get("items") or []
                if not any(s.hint in str(i.get("where", "")) for i in items):
                    problems.append(f"{where}: the image's secrets.items do not name {s.hint}")
                continue
            value = _at(d["data"], s.path)
            n = wanted[(s.kind, s.resource, s.path)]
            if not isinstance(value, str) or value.count("<redacted:") < n:
                problems.append(
                    f"{where}: not {n} <redacted: marker(s) at {s.path}: "
                    f"{_masked(value, outcome.corpus)!r}"
                )
            named = any(
                s.hint in str(r.get("location", "")) or s.hint in str(r.get("key", ""))
                for r in d.get("redactions") or []
            )
            if not named:
                problems.append(f"{where}: no entry of the evidence's redactions names {s.hint!r}")
    problems = list(dict.fromkeys(problems))
    assert not problems, f"{len(problems)} problems:\n  " + "\n  ".join(problems)


def test_reports_show_the_planted_findings(outcome: Outcome) -> None:
    """The reports hold the findings on the planted images (so the search of their text looks
    where the values would be), and the PDF's text can be read."""
    text = subprocess.run(
        ["pdftotext", "-q", str(outcome.out / "r.pdf"), "-"],
        capture_output=True,
        check=True,
        timeout=120,
        text=True,
    ).stdout
    html_text = (outcome.out / "r.html").read_text()
    tag = outcome.images["docker-daemon"].removeprefix("docker-daemon:")
    for name, t in (("PDF", text), ("HTML", html_text)):
        joined = "".join(t.split())
        assert "Ensuresecretsarenotstored" in joined, name
        assert tag in joined, f"{name} does not name {tag}"


def test_image_no_secrets_still_fails_on_planted_images(outcome: Outcome) -> None:
    verdicts = {
        name: sorted(
            r["status"]
            for r in outcome.scan["results"]
            if r["rule"] == "image-no-secrets" and sub in r["resource"]
        )
        for name, sub in outcome.images.items()
        if name != "offline"
    }
    assert all(v == ["fail"] for v in verdicts.values()), verdicts
