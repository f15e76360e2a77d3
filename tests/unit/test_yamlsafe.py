"""assessor/yamlsafe.py: the one reader of YAML files users give (issue 17, item 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessor import yamlsafe
from assessor.catalog.loader import _control_files, read_yaml
from assessor.errors import ControlDefinitionError


def _load(tmp_path: Path, text: str | bytes) -> object:
    path = tmp_path / "f.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return yamlsafe.load(path, "f.yaml", 1 << 20)[0]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("a: &x 1\nb: *x\n", "f.yaml:2: YAML aliases are not allowed"),
        ("a: &x [1]\nb: [2, *x]\n", "f.yaml:2: YAML aliases are not allowed"),
        ("- &x {a: 1}\n- <<: *x\n", "f.yaml:2: YAML merge keys (<<) are not allowed"),
        ("- <<: {a: 1}\n", "f.yaml:1: YAML merge keys (<<) are not allowed"),
        ("a: !!binary aGVsbG8=\n", "f.yaml:1: YAML tag '!!binary' is not allowed"),
        ("a: !!set {x, y}\n", "f.yaml:1: YAML tag '!!set' is not allowed"),
        ("a: !!omap [{x: 1}]\n", "f.yaml:1: YAML tag '!!omap' is not allowed"),
        (
            "a:\n  b: !!python/object:os.system x\n",
            "f.yaml:2: YAML tag '!!python/object:os.system'",
        ),
        ("!mytag {a: 1}\n", "f.yaml:1: YAML tag '!mytag' is not allowed"),
        ("a: 1\na: 2\n", "f.yaml:2: a: duplicate key"),
        ("? [a, b]\n: 1\n", "f.yaml:1: a key must be a plain value"),
        ("[" * 65 + "]" * 65, "f.yaml:1: nested more than 64 levels deep"),
        ("a: 2026-02-30\n", "f.yaml:1: a: invalid date"),
        ("a: !!bool maybe\n", "f.yaml: invalid value for an explicit YAML tag"),
        ("a: [1\n", "f.yaml:2: invalid YAML"),
    ],
)
def test_refused(tmp_path: Path, text: str, want: str) -> None:
    with pytest.raises(ControlDefinitionError) as e:
        _load(tmp_path, text)
    assert want in e.value.message


def test_plain_data_loads(tmp_path: Path) -> None:
    text = "a: !!str 1\nb: [1, 2.5, true, null, 2026-12-31]\nc: {d: '*not an alias*'}\ne: x*y\n"
    data = _load(tmp_path, text)
    assert data == {
        "a": "1",
        "b": [1, 2.5, True, None, __import__("datetime").date(2026, 12, 31)],
        "c": {"d": "*not an alias*"},
        "e": "x*y",
    }
    assert _load(tmp_path, "[" * 64 + "]" * 64) is not None  # 64 levels are allowed


def test_not_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    for name, want in [("fifo", "is a FIFO"), ("dir", "is a folder"), ("missing", "cannot read")]:
        with pytest.raises(ControlDefinitionError, match=want):
            yamlsafe.load(tmp_path / name, name, 100)
    with pytest.raises(ControlDefinitionError, match="is a device"):
        yamlsafe.load(Path("/dev/zero"), "/dev/zero", 100)
    (tmp_path / "big").write_bytes(b"a: 1\n" * 30)
    with pytest.raises(ControlDefinitionError, match="150 bytes, over the limit of 100"):
        yamlsafe.load(tmp_path / "big", "big", 100)


def test_maybe_alias_never_misses_an_alias() -> None:
    for text in ["*a", "a: *a", "a: [*a]", "a: {b: *a}", "- *a", "a:\n  *a", '"a":*a', "a:\t*a"]:
        assert yamlsafe._maybe_alias(text), text
    for text in ["a: b*c", "a: '*x'", 'a: "*x"', "a: 1"]:
        assert not yamlsafe._maybe_alias(text), text


def test_the_built_in_catalog_passes() -> None:
    for _, _, path in _control_files([]):
        read_yaml(path)


_YAMLISH = st.text(alphabet="ab:-[]{},&*!<>|'\"?#%@ \n\t01.", max_size=60)


@settings(max_examples=800, deadline=None)
@given(_YAMLISH | st.text(max_size=60) | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
def test_any_text_loads_or_is_one_control_definition_error(text: str) -> None:
    """Whatever the file holds: data, or a ControlDefinitionError naming the file."""
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"assessor-yamlsafe-{os.getpid()}.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    message = "f.yaml"
    try:
        yamlsafe.load(path, "f.yaml", 1 << 20)
    except ControlDefinitionError as e:
        message = e.message
    finally:
        path.unlink()
    assert message.startswith("f.yaml")
