from __future__ import annotations

from assessor.evidence import Evidence, Redactor, canonical_json, fingerprint


def test_canonical_json_and_hash_are_stable() -> None:
    a = Evidence("host", "host:/", "vm", {"b": 1, "a": [1, {"z": 2, "y": "é"}]})
    b = Evidence("host", "host:/", "vm", {"a": [1, {"y": "é", "z": 2}], "b": 1})
    assert a.canonical() == b.canonical()
    assert a.sha256 == b.sha256
    assert canonical_json({"b": 1, "a": 2}) == b'{"a":2,"b":1}'
    # collected_at is kept beside the document, so re-observing the same state dedupes
    assert "collected_at" not in a.document()


def test_env_redaction_keeps_key_kind_and_long_fingerprints() -> None:
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
    assert out[0] == "DB_PASSWORD=<redacted: password, 7 chars>"
    assert "hunter2" not in "".join(out)
    assert out[1] == "PATH=/bin"
    assert out[2] == "AWS_KEY=<redacted: aws-access-key, 20 chars>"
    assert "dXNlcjpwYXNz" not in out[3]
    assert out[4] == "EMPTY_TOKEN="
    assert [r.key for r in red.found] == ["DB_PASSWORD", "AWS_KEY", "REGISTRY_AUTH"]
    assert red.found[0].location == "Config.Env.DB_PASSWORD"
    # a fingerprint only for 16+ characters: a short password's could be brute-forced back
    assert [r.fingerprint is not None for r in red.found] == [False, True, False]
    assert red.found[1].fingerprint == fingerprint("AKIAABCDEFGHIJKLMNOP")
    assert red.found[0].to_json() == {
        "location": "Config.Env.DB_PASSWORD",
        "key": "DB_PASSWORD",
        "kind": "password",
        "fingerprint": None,
    }


def test_legacy_redactions_rebuild_to_the_same_hash() -> None:
    """A document stored with the old redaction form (no kind) keeps its hash when rebuilt."""
    doc = {
        "kind": "container",
        "target": "engine:unix:///x.sock",
        "resource": "web",
        "data": {"Config": {"Env": ["DB_PASSWORD=<redacted sha256:0123456789ab>"]}},
        "redactions": [
            {"location": "Config.Env.DB_PASSWORD", "key": "DB_PASSWORD", "fingerprint": "sha256:0"}
        ],
    }
    ev = Evidence.from_document(doc)
    assert ev.document() == doc
    assert ev.redactions[0].kind is None


def test_every_evidence_is_swept_before_it_exists() -> None:
    """Constructing an Evidence redacts what any string of its data holds, by shape, whatever
    the collector did; a document rebuilt from the store is not touched (its hash is its key)."""
    data = {
        "Config": {
            "WorkingDir": "/app",
            "Labels": {"src": "https://ci:hunter22@git.example.org/x"},
        },
        "Args": ["--verbose", "token ghp_abcdefghijklmnopqrstuvwxyz0123456789"],
        "https://u:pw@host": 1,
    }
    ev = Evidence("container", "engine:unix:///x.sock", "web", data)
    text = ev.canonical().decode()
    assert "hunter22" not in text and "ghp_" not in text and "u:pw@" not in text
    assert ev.data["Config"]["WorkingDir"] == "/app"
    assert data["Config"]["Labels"]["src"].endswith("hunter22@git.example.org/x")  # not mutated
    assert {(r.location, r.kind) for r in ev.redactions} == {
        ("Config.Labels.src", "url-password"),
        ("Args[1]", "token"),
        ("", "url-password"),  # a key of data itself: the place is the document
    }
    assert "u:pw@" not in str([r.to_json() for r in ev.redactions])
    again = Evidence.from_document(ev.document())
    assert again.sha256 == ev.sha256
    # idempotent: sweeping swept data finds nothing more
    assert Evidence(ev.kind, ev.target, ev.resource, ev.data).redactions == ()
    plain = {"a": ["x", {"b": "y"}]}
    assert Evidence("host", "host:/", "vm", plain).data is plain


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


def test_a_token_shaped_resource_name_is_redacted() -> None:
    """A container named like a token is listed by name in results and reports."""
    ev = Evidence("container", "engine:unix:///x.sock", f"ghp_{'a1B2' * 9}-x (0123456789ab)", {})
    assert ev.resource == "<redacted: token, 40 chars>-x (0123456789ab)"
    assert [(r.location, r.key) for r in ev.redactions] == [("resource", "github-token")]
    assert Evidence("container", "engine:unix:///x.sock", "web (0123456789ab)", {}).resource == (
        "web (0123456789ab)"
    )


def test_the_sweep_keeps_each_secret_in_its_own_string() -> None:
    """Strings are scanned joined, but a span that reads past its string (a key block with no
    END, an unclosed quote) stops at that string's end and swallows nothing of the next."""
    red = Redactor()
    out = red.sweep(
        {
            "a": "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc (truncated)",
            "b": "plain",
            "c": "password=hunter2",
            "d": 'token="abc',
            "e": 'def" plain',
        }
    )
    assert out["a"] == "<redacted: private-key, 51 chars>"  # to the end of "a" only
    assert out["b"] == "plain"
    assert out["c"] == "password=<redacted: password, 7 chars>"
    assert out["e"] == 'def" plain'
    assert "abc" not in out["d"]


def test_bytes_that_are_not_utf8_are_escaped_so_the_document_hashes() -> None:
    # a collector that forgot to escape a file name, a resource or a target: the sweep does it
    ev = Evidence(
        "image",
        "image:oci:/x\udcff",
        "app\udcfe",
        {"files": {"etc/\udcff": {"m": 1}}, "k": ["\udc80"]},
    )
    assert ev.target == "image:oci:/x\\xff"
    assert ev.resource == "app\\xfe"
    assert ev.data == {"files": {"etc/\\xff": {"m": 1}}, "k": ["\\x80"]}
    assert len(ev.sha256) == 64
    ev.canonical().decode("utf-8")
