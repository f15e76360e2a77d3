"""Secret redaction (``assessor.redact``, ``assessor.evidence.Redactor``): every shape, wherever
it appears; what must stay (the settings rules read); and linear time on hostile text."""

from __future__ import annotations

import time

import pytest

from assessor.evidence import Redactor
from assessor.redact import KINDS, find, is_path, key_kind, looks_random

S = "Zq9Wx7Rv5Tn3Ky1M"  # a 16-character secret (fingerprinted)
P = "hunter2"  # a short password (no fingerprint)


def _redact_text(text: str) -> tuple[str, Redactor]:
    red = Redactor()
    return red.shell(text, "t"), red


# text, the secret in it, the kind it is redacted as
SHELL_SHAPES = [
    (f"app --password={P}", P, "password"),
    (f"app --password {P} --name web", P, "password"),
    (f"app --pwd={P}", P, "password"),
    (f"app --credentials={P}", P, "secret"),
    (f"app --access-key={S}", S, "secret"),
    (f"app --secret={P}", P, "secret"),
    (f"app --token={P}", P, "token"),
    (f"app --private-key={S}", S, "private-key"),
    (f"sync-tool --client-secret {P} --region eu", P, "secret"),
    (f"mysql -u root -p{P} -e 'select 1'", P, "password"),
    (f"mysqldump -u root -p {P} appdb", P, "password"),
    (f"mariadb -uroot -p'{P}' db", P, "password"),
    (f"docker exec db mysql -p{P}", P, "password"),
    (f"PGPASSWORD={P} psql -h db -U app", P, "password"),
    (f'curl -H "Authorization: Bearer {S}" https://api.example.org/', S, "token"),
    (f"curl -H 'Authorization: Basic {S}' https://api.example.org/", S, "basic-auth"),
    (f"wget --header 'X-Api-Key: {S}' http://svc.local/", S, "api-key"),
    (f"curl -H 'Private-Token: {S}' https://gitlab.example.org/api", S, "token"),
    (f"curl -u admin:{P} https://x/", P, "password"),
    (f"sshpass -p {P} ssh host", P, "password"),
    (f"redis-cli -a {P} ping", P, "password"),
    (f"docker login -u me -p {P} reg.example.org", P, "password"),
    (f"ldapsearch -x -D cn=admin -w {P} -b dc=x", P, "password"),
    (f"openssl enc -aes256 -passin pass:{P} -in f", P, "password"),
    (f"smbclient //srv/share -U admin%{P}", P, "password"),
    (f"htpasswd -bc /etc/nginx/htpasswd admin {P}", P, "password"),
    (f"echo 'root:{P}' | chpasswd", P, "password"),
    (f"npm config set _authToken {S}", S, "token"),
    (f"aws configure set aws_secret_access_key {S}", S, "aws-secret-key"),
    (f"sh -c 'mysql -p{P} db; echo done'", P, "password"),
    (f'bash -lc "curl -u me:{P} https://x"', P, "password"),
    (f"/bin/sh -c mysql -uroot -p{P} db", P, "password"),  # history: unquoted sh -c
    (f"|2 NPM_TOKEN={P} OTHER=1 /bin/sh -c npm ci", P, "token"),  # classic build args
    (f"RUN |1 API_TOKEN={P} /bin/sh -c make # buildkit", P, "token"),
    (f"ENV APP_KEY={S}", S, "secret"),
]

TEXT_SHAPES = [
    (f"https://deploy:{P}@registry.example.com/v2/", P, "url-password"),
    (f"redis://:{P}@cache:6379/0", P, "url-password"),
    (f"ftp://mirror:{P}@ftp.example.org/pub/", P, "url-password"),
    (f"postgres://app:{P}/x@y@db:5432/app", f"{P}/x@y", "url-password"),
    (f"clone https://x-access-token:{S}@github.com/o/r.git", S, "url-password"),
    (f"Server=db;User Id=sa;Password={P};Database=app", P, "connection-string"),
    (f"Driver={{x}};Server=db;Uid=sa;Pwd={P};", P, "connection-string"),
    (
        f"AccountName=a;AccountKey={S}==;EndpointSuffix=core.windows.net",
        S + "==",
        "connection-string",
    ),
    (
        "admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/",
        "$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/",
        "basic-auth",
    ),
    ("ops:$$2y$$05$$abcdefghijklmnopqrstuv", "$$2y$$05$$abcdefghijklmnopqrstuv", "basic-auth"),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
        "MIIEabc",
        "private-key",
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1r\\n-----END OPENSSH PRIVATE KEY-----\\n",
        "b3BlbnNzaC1r",
        "private-key",
    ),
    ("key AKIAABCDEFGHIJKLMNOP here", "AKIAABCDEFGHIJKLMNOP", "aws-access-key"),
    (
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "token",
    ),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_11ABCDEFG", "token"),
    ("glpat-abcdefghij0123456789", "glpat-abcdefghij0123456789", "token"),
    ("xoxb-12345678901-123456789012-abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx", "token"),
    (
        "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx",
        "abcdefghijklmnopqrstuvwx",
        "token",
    ),
    ("sk_live_abcdefghijklmnopqrstuvwx", "sk_live_abcdefghijklmnopqrstuvwx", "api-key"),
    (
        "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
        "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
        "api-key",
    ),
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "token",
    ),
    (
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n'
        '-----END PRIVATE KEY-----\\n", "client_email": "a@b.iam.gserviceaccount.com"}',
        "MIIEvQ",
        "private-key",
    ),
    ('{"endpoint": "https://api.example.org", "apiKey": "' + S + '", "retries": 3}', S, "api-key"),
    ('{\\"password\\": \\"' + P + '\\"}', P, "password"),  # JSON inside a JSON string
    (f"password: {P}", P, "password"),
    (f"db_password = '{P}'", P, "password"),
    (f"client_secret := {P}", P, "secret"),
    (f"MYAPP_AUTHKEY={S}", S, "secret"),  # names no list holds
    (f"X-Auth-Token: {S}", S, "token"),
    (f"Cookie: session={S}; theme=dark", S, "token"),
    (f"https://s.blob.core.windows.net/c?sv=2022-11-02&sig={S}%3D&se=x", S, "token"),
]


@pytest.mark.parametrize(("text", "secret", "kind"), SHELL_SHAPES + TEXT_SHAPES)
def test_every_shape_is_redacted(text: str, secret: str, kind: str) -> None:
    out, red = _redact_text(text)
    assert secret not in out, out
    assert "<redacted: " in out
    assert kind in {r.kind for r in red.found}, [r.to_json() for r in red.found]
    assert {r.kind for r in red.found} <= set(KINDS)
    again, red2 = _redact_text(out)
    assert again == out and not red2.found  # idempotent


@pytest.mark.parametrize(("text", "secret", "kind"), TEXT_SHAPES)
def test_shapes_in_free_text_need_no_command_parser(text: str, secret: str, kind: str) -> None:
    assert secret not in Redactor().text(f"note: {text} (end)", "t")


def test_the_redacted_form_names_kind_and_length() -> None:
    red = Redactor()
    assert red.text(f"pw https://u:{P}@h/", "info.HttpProxy") == (
        "pw https://u:<redacted: url-password, 7 chars>@h/"
    )
    r = red.found[0]
    assert (r.location, r.key, r.kind, r.fingerprint) == (
        "info.HttpProxy",
        "url-password",
        "url-password",
        None,
    )
    red.text(f"token={S}", "x")
    assert red.found[1].fingerprint is not None and S not in red.found[1].fingerprint


def test_each_secret_keeps_its_own_marker() -> None:
    """Several secrets in one command line: one marker each, not one for the whole line."""
    red = Redactor()
    out = red.shell(
        f"PGPASSWORD={P}1 psql; curl -H 'Authorization: Bearer {S}' https://u:{P}2@x/; "
        f"tool --client-secret {P}3",
        "Cmd",
    )
    assert out.count("<redacted:") == 4, out


PLAIN = [
    # settings the rules read, and look-alikes of secret names
    "dockerd -H fd:// --containerd=/run/containerd/containerd.sock --tlsverify",
    "--tlskey=/etc/docker/key.pem --tlscert=/etc/docker/cert.pem --tlscacert=/etc/docker/ca.pem",
    "--authorization-plugin=authz-broker --userns-remap=default --no-new-privileges",
    "-w /etc/passwd -p wa -k identity",
    "-a always,exit -F arch=b64 -S execve -F key=docker",
    "docker run -d --name mysql -p 3306:3306 -e MYSQL_ROOT_PASSWORD_FILE=/run/secrets/db mysql:8",
    "mkdir -p /app && chown -R 1000:1000 /app",
    "tool --passive --tokenizer-path /m --password-stdin --token-file /run/secrets/t",
    "DB_PASSWORD_FILE=/run/secrets/db_password TOKEN_TTL=3600 PASSWORD_MIN_LENGTH=14",
    "auth required pam_faillock.so preauth silent deny=3 dcredit=-1 ucredit=-1",
    "Password: at least 14 characters, see the key rotation policy",
    "https://medium.com/@user/post git@github.com:o/r.git",
    "https://registry.example.com/v2/app/manifests/sha256:" + "a" * 64,
    "org.opencontainers.image.revision=0123456789abcdef0123456789abcdef01234567",
    "RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci",
    "docker build --secret id=npm,src=./npm_token .",
    "./configure --with-token=$API_TOKEN && echo ${DB_PASSWORD}",
    "TOKEN=<redacted: token, 9 chars> url https://u:<redacted: url-password, 3 chars>@h",
    "CertIssuerPublicKey=MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
    "ssh-keygen -t ed25519 -f /root/.ssh/id_ed25519 -N ''",
    "",
]


@pytest.mark.parametrize("text", PLAIN)
def test_what_is_not_a_secret_stays(text: str) -> None:
    red = Redactor()
    assert red.shell(text, "t") == text, [r.to_json() for r in red.found]
    assert red.text(text, "t") == text


def test_daemon_settings_keep_their_values() -> None:
    """daemon.json and dockerd flags as the engine and host collectors redact them."""
    red = Redactor()
    daemon = {
        "tlskey": "/etc/docker/key.pem",
        "tlscacert": "/etc/docker/ca.pem",
        "tlsverify": True,
        "authorization-plugins": ["authz-broker"],
        "userns-remap": "default",
        "log-opts": {"splunk-token": P, "labels": "com.example.key", "max-size": "10m"},
        "labels": ["com.example.key=value"],
        "registry-mirrors": ["https://mirror:" + P + "@mirror.example.org"],
    }
    out = red.tree(daemon, "daemon.daemon_json")
    assert out["tlskey"] == "/etc/docker/key.pem"
    assert out["authorization-plugins"] == ["authz-broker"]
    assert out["userns-remap"] == "default"
    assert out["labels"] == ["com.example.key=value"]
    assert out["log-opts"]["labels"] == "com.example.key"
    assert P not in str(out)
    argv = ["dockerd", "-H", "fd://", "--tlskey", "/etc/docker/key.pem", "-p", "/run/docker.pid"]
    assert red.args(argv, "daemon.argv") == argv


def test_env_labels_and_health_checks() -> None:
    red = Redactor()
    env = red.env(
        [
            f"STRIPE_KEY=sk_live_{S}xxxxxxxx",
            f"GPG_KEY={'A1' * 20}",
            "PWD=/app",
            f"NEUTRAL={'ghp_' + 'a' * 36}",
        ],
        "Config.Env",
    )
    assert env[0] == "STRIPE_KEY=<redacted: api-key, 32 chars>"
    assert env[1].startswith("GPG_KEY=<redacted:")  # a key-named value, even a fingerprint
    assert env[2] == "PWD=/app"
    assert env[3] == "NEUTRAL=<redacted: token, 40 chars>"
    labels = red.mapping(
        {
            "traefik.http.middlewares.a.basicauth.users": "admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/",
            "com.example.api-key": P,
            "maintainer": "ops@example.com",
        },
        "Config.Labels",
    )
    assert "IgXLP6ewTrSuBkTrqE8wj" not in str(labels) and P not in str(labels)
    assert labels["maintainer"] == "ops@example.com"
    shell = red.healthcheck(["CMD-SHELL", f"mysql -u root -p{P} -e 'select 1' || exit 1"], "H")
    assert shell[0] == "CMD-SHELL" and P not in shell[1] and "|| exit 1" in shell[1]
    exec_form = red.healthcheck(["CMD", "/bin/check", "--password", P], "H")
    assert exec_form == ["CMD", "/bin/check", "--password", "<redacted: password, 7 chars>"]
    assert red.healthcheck(["NONE"], "H") == ["NONE"]


def test_cmd_is_read_as_the_entrypoint_programs_arguments() -> None:
    red = Redactor()
    assert red.args(["-u", "root", "-p", P, "appdb"], "Config.Cmd", "mysql")[3].startswith(
        "<redacted:"
    )
    assert red.args(["-p", "80:80"], "Config.Cmd", "nginx") == ["-p", "80:80"]
    sh = red.args(["sh", "-c", f"PGPASSWORD={P} psql; curl https://u:{P}@x/"], "Cmd")
    assert P not in str(sh) and sh[2].count("<redacted:") == 2


def test_names() -> None:
    strong = ["DB_PASSWORD", "PGPASSWORD", "apiKey", "X-Api-Key", "--client-secret",
              "MYAPP_AUTHKEY", "SECRET_KEY_BASE", "private_key_id", "dbPassword",
              "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "X_CREDENTIALS", "X_PWD", "X_PASS"]  # fmt: skip
    for name in strong:
        kk = key_kind(name)
        assert kk is not None and kk[1], name
    assert key_kind("AWS_SECRET_ACCESS_KEY") == ("aws-secret-key", True)
    assert key_kind("GPG_KEY") == ("secret", False)
    assert key_kind("REGISTRY_AUTH") == ("token", False)
    for name in ["TOKEN_TTL", "DB_PASSWORD_FILE", "authorization-plugins", "passive",
                 "tokenizer-path", "dcredit", "CertIssuerPublicKey", "credsStore", "PASS_MAX_DAYS",
                 "--password-stdin", "keyring", "monkey", "AUTHOR", "author"]:  # fmt: skip
        assert key_kind(name) is None, name


def test_values() -> None:
    assert is_path("/run/secrets/db") and is_path("./key.pem") and is_path("server.key")
    assert not is_path("/9j4AAQSkZJRgABAQAAAQABAAD/x")
    assert looks_random("B42F6819007F00F88E364FD4036A9C25BF357DD4")
    assert not looks_random("docker") and not looks_random("correct horse battery")


HOSTILE = {
    "a: run": "a:" * 500_000,
    ":// run": "://" * 333_333,
    "@ run": "@" * 1_000_000,
    "= run": "=" * 1_000_000,
    "key= run": "key=" * 250_000,
    "x://a: run": "x://a:" * 166_666,
    "' -p' run": " -p" * 333_333,
    "mysql -p run": "mysql -p " * 111_111,
    "--password run": "--password " * 90_909,
    "unclosed quote": "password='" + "a" * 1_000_000,
    "escaped quotes": '"' + '\\"' * 500_000,
    "half token": "ghp_" + "a" * 1_000_000,
    "eyJ run": "eyJaaaaaaaaaa." * 71_428,
    "BEGIN, no END": "-----BEGIN PRIVATE KEY-----" * 37_037,
    "hash run": "a:$apr1$" * 125_000,
    "letters": "a" * 1_000_000,
    "200 KB env value": "a" * 200_000,
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_text_finishes(name: str) -> None:
    """A hang detector, not a timing test: 1 MB of text built against backtracking patterns
    (each took minutes to hours before) is redacted in seconds."""
    value = HOSTILE[name]
    red = Redactor()
    t = time.monotonic()
    red.shell(value, "x")
    red.env([f"LABEL={value}"], "Env")
    red.mapping({"com.example.note": value}, "Labels")
    red.args(["sh", "-c", value], "Cmd")
    assert time.monotonic() - t < 20.0  # four passes at 5 s each


def test_find_merges_overlaps() -> None:
    text = "TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    hits = find(text)
    assert len(hits) == 1 and text[hits[0].start : hits[0].end].startswith("ghp_")
