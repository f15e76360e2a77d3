"""Control files: every error names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from assessor.catalog import load_catalog, validate_path
from assessor.catalog.schema import framework_json_schema, rule_json_schema
from assessor.errors import ControlDefinitionError
from assessor.resources import data_dir

GOOD_RULE = """\
id: {id}
title: Ensure the thing
description: d
rationale: r
severity: high
target: container
evidence: [HostConfig.Privileged]
check:
  evidence: HostConfig.Privileged
  op: eq
  value: false
"""


def org(tmp_path: Path, rule_text: str, name: str = "org-rule", fw: str | None = None) -> Path:
    (tmp_path / "rules/container").mkdir(parents=True)
    (tmp_path / f"rules/container/{name}.yaml").write_text(rule_text)
    if fw is not None:
        (tmp_path / "frameworks").mkdir()
        (tmp_path / "frameworks/org-baseline.yaml").write_text(fw)
    return tmp_path


FRAMEWORK = """\
framework:
  id: org-baseline
  title: Our baseline
  version: "1"
  source: internal
requirements:
  - id: "B-1"
    title: No privileged containers
    section: "B"
    rules: [{rule}]
"""


def test_builtin_catalog_is_valid() -> None:
    cat = load_catalog()
    assert "cis-docker-1.8.0" in cat.frameworks
    assert len(cat.frameworks["cis-docker-1.8.0"].requirements) == 118
    assert cat.digest.startswith("sha256:")


def test_organisation_rules_and_frameworks_are_added(tmp_path: Path) -> None:
    d = org(tmp_path, GOOD_RULE.format(id="org-rule"), fw=FRAMEWORK.format(rule="org-rule"))
    cat = load_catalog([d])
    assert "org-rule" in cat.rules
    assert cat.references["org-rule"] == {"org-baseline": ["B-1"]}
    assert cat.digest != load_catalog().digest


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (GOOD_RULE.format(id="org-rule") + "colour: red\n", 12, "colour: unknown key"),
        (
            GOOD_RULE.format(id="org-rule").replace("severity: high", "severity: severe"),
            5,
            "severity:",
        ),
        (GOOD_RULE.format(id="org-rule").replace("  op: eq", "  op: equals"), 10, "check"),
        (GOOD_RULE.format(id="org-rule").replace("  value: false\n", ""), 8, "needs a 'value'"),
        (GOOD_RULE.format(id="other-id"), 1, "id: 'other-id' differs from the file name"),
        (
            GOOD_RULE.format(id="org-rule").replace(
                "evidence: [HostConfig.Privileged]", "evidence: [HostConfig.Memory]"
            ),
            9,
            "not declared under 'evidence'",
        ),
        ("id: org-rule\ntitle: [unclosed\n", 3, "invalid YAML"),
        (GOOD_RULE.format(id="org-rule") + "title: again\n", 12, "title: duplicate key"),
        (
            GOOD_RULE.format(id="org-rule").replace(
                "check:\n  evidence: HostConfig.Privileged\n  op: eq\n  value: false\n",
                "check: {function: no_such_fn}\n",
            ),
            8,
            "no registered evaluator",
        ),
    ],
)
def test_malformed_rule_names_file_line_field(
    tmp_path: Path, text: str, line: int, needle: str
) -> None:
    d = org(tmp_path, text)
    with pytest.raises(ControlDefinitionError) as exc:
        load_catalog([d])
    msg = exc.value.message
    assert (
        msg.startswith(f"{d / 'rules/container/org-rule.yaml'}:{line}:")
        or f"org-rule.yaml:{line}:" in msg
    ), msg
    assert needle in msg, msg


def test_non_string_requirement_id_rejected(tmp_path: Path) -> None:
    fw = FRAMEWORK.format(rule="org-rule").replace('id: "B-1"', "id: 1.10")
    d = org(tmp_path, GOOD_RULE.format(id="org-rule"), fw=fw)
    with pytest.raises(ControlDefinitionError) as exc:
        load_catalog([d])
    assert (
        "org-baseline.yaml:7: requirements[0].id: must be a string (quote it)" in exc.value.message
    )


def test_framework_referencing_missing_rule_rejected(tmp_path: Path) -> None:
    d = org(tmp_path, GOOD_RULE.format(id="org-rule"), fw=FRAMEWORK.format(rule="no-such-rule"))
    with pytest.raises(ControlDefinitionError) as exc:
        load_catalog([d])
    assert "org-baseline.yaml:10: requirements[0].rules[0]" in exc.value.message
    assert "unknown rule 'no-such-rule'" in exc.value.message


def test_a_tag_naming_a_requirement_is_refused(tmp_path: Path) -> None:
    """A framework's file is the one place a rule is mapped to a requirement; a tag such as
    'org-baseline:B-1' (or 'cis-docker-1.8.0:5.4') would be a second copy of it."""
    tagged = GOOD_RULE.format(id="org-rule") + "tags:\n- privileges\n- org-baseline:B-1\n"
    d = org(tmp_path, tagged, fw=FRAMEWORK.format(rule="org-rule"))
    with pytest.raises(ControlDefinitionError) as exc:
        load_catalog([d])
    assert "org-rule.yaml:14: tags[1]: 'org-baseline:B-1' maps the rule to" in exc.value.message
    assert "org-baseline.yaml instead" in exc.value.message
    # a tag with a colon that names no framework is the rule's own
    other = tmp_path / "other"
    own = GOOD_RULE.format(id="org-rule") + "tags:\n- team:platform\n"
    assert "org-rule" in load_catalog([org(other, own, fw=FRAMEWORK.format(rule="org-rule"))]).rules
    builtin = load_catalog()
    assert not [
        (r.id, t)
        for r in builtin.rules.values()
        for t in r.tags
        if t.split(":")[0] in builtin.frameworks
    ]


def test_duplicate_rule_id_across_folders_rejected(tmp_path: Path) -> None:
    some_builtin = next(iter(load_catalog().rules), None)
    assert some_builtin is not None, "the built-in catalog has no rules"
    d = org(tmp_path, GOOD_RULE.format(id=some_builtin), name=some_builtin)
    with pytest.raises(ControlDefinitionError, match="already defined"):
        load_catalog([d])


def test_validate_single_file(tmp_path: Path) -> None:
    d = org(tmp_path, GOOD_RULE.format(id="org-rule"))
    cat = validate_path(d / "rules/container/org-rule.yaml")
    assert "org-rule" in cat.rules
    assert any("org-rule" in w for w in cat.warnings)


def test_published_schema_files_match_models() -> None:
    import json

    schema_dir = data_dir("controls") / "schema"
    assert json.loads((schema_dir / "rule.schema.json").read_text()) == rule_json_schema()
    assert json.loads((schema_dir / "framework.schema.json").read_text()) == framework_json_schema()
