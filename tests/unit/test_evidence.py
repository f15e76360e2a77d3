from __future__ import annotations

from assessor.evidence import Evidence, Redactor, canonical_json


def test_canonical_json_and_hash_are_stable() -> None:
    a = Evidence("host", "host:/", "vm", {"b": 1, "a": [1, {"z": 2, "y": "é"}]})
    b = Evidence("host", "host:/", "vm", {"a": [1, {"y": "é", "z": 2}], "b": 1})
    assert a.canonical() == b.canonical()
    assert a.sha256 == b.sha256
    assert canonical_json({"b": 1, "a": 2}) == b'{"a":2,"b":1}'
    # collected_at is kept beside the document, so re-observing the same state dedupes
    assert "collected_at" not in a.document()


def test_env_redaction_keeps_key_and_fingerprint() -> None:
    red = Redactor()
    out = red.env(
        [
            "DB_PASSWORD=hunter2",
            "PATH=/bin",
            "AWS_KEY=AKIAABCDEFGHIJKLMNOP",
            "REGISTRY_AUTH=dXNlcjpwYXNz",
            "EMPTY_TOKEN=",
        ],
        "Config.Env",
    )
    assert out[0].startswith("DB_PASSWORD=<redacted sha256:")
    assert "hunter2" not in "".join(out)
    assert out[1] == "PATH=/bin"
    assert "AKIA" not in out[2]
    assert "dXNlcjpwYXNz" not in out[3]
    assert out[4] == "EMPTY_TOKEN="
    assert [r.key for r in red.found] == ["DB_PASSWORD", "AWS_KEY", "REGISTRY_AUTH"]
    assert red.found[0].location == "Config.Env.DB_PASSWORD"


def test_url_and_argument_redaction() -> None:
    red = Redactor()
    assert "s3cret" not in red.text("http://user:s3cret@proxy:3128", "info.HttpProxy")
    args = red.args(["app", "--password=abc123", "--token", "tok-999", "--name", "web"], "Cmd")
    assert "abc123" not in " ".join(args) and "tok-999" not in " ".join(args)
    assert args[-2:] == ["--name", "web"]


def test_tree_redaction_keeps_non_secret_keys() -> None:
    red = Redactor()
    out = red.tree({"log-opts": {"splunk-token": "abc"}, "authorization-plugins": ["authz"]}, "cfg")
    assert out["authorization-plugins"] == ["authz"]
    assert "abc" not in str(out)
