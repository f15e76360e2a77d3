"""Strict models of rule files and framework files (DESIGN section 3).

These models are the schema: ``assessor controls schema`` prints their JSON Schema, and
``controls/schema/*.json`` are generated from them (a test keeps the two equal). Unknown keys
and wrongly typed values (an unquoted numeric id, say) are rejected.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from assessor.vocab import Coverage, RuleTarget, Severity

KEBAB = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
FRAMEWORK_ID = r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$"


class Strict(BaseModel):
    # defer_build: a model's validator is built when first used, not when this module is
    # imported; a scan whose catalog comes from the cache builds only the catalog's adapter
    # (loader._adapter), which validates every model as strictly (about 15 ms less per scan)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Op(StrEnum):
    """The closed operator set of condition leaves (documented in controls/README.md)."""

    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    REGEX = "regex"
    NOT_REGEX = "not_regex"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    MODE_AT_MOST = "mode_at_most"
    OWNER_IS = "owner_is"
    PRESENT = "present"
    ABSENT = "absent"
    EMPTY = "empty"
    NOT_EMPTY = "not_empty"


# Operators that take no `value`.
UNARY_OPS = frozenset({Op.PRESENT, Op.ABSENT, Op.EMPTY, Op.NOT_EMPTY})
EVIDENCE_PATH = r"^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\"[^\"]+\"\]|\[[0-9]+\])*$"


class Leaf(Strict):
    """``{evidence: PATH, op: OP, value: ...}``: one comparison on one evidence value."""

    evidence: Annotated[str, Field(pattern=EVIDENCE_PATH)]
    op: Op
    value: Any = None
    default: Any = Field(
        default=None,
        description="Value used when the evidence path is absent (for example a daemon "
        "setting left at its built-in default). Without it, absent evidence is an error.",
    )
    message: str | None = Field(
        default=None,
        description="In 'check': the fail message when this leaf decides the result. In "
        "'applies_if': the reason, in plain words, when this leaf makes the rule not applicable "
        "({value} is the value the evidence holds).",
    )

    @model_validator(mode="after")
    def _value_matches_op(self) -> Leaf:
        has_value = "value" in self.model_fields_set
        if self.op in UNARY_OPS and has_value:
            raise ValueError(f"operator {self.op.value!r} takes no 'value'")
        if self.op not in UNARY_OPS and not has_value:
            raise ValueError(f"operator {self.op.value!r} needs a 'value'")
        if self.op in (Op.IN, Op.NOT_IN) and not isinstance(self.value, list):
            raise ValueError(f"operator {self.op.value!r} needs a list 'value'")
        if self.op in (Op.REGEX, Op.NOT_REGEX):
            if not isinstance(self.value, str):
                raise ValueError("operator 'regex' needs a string 'value'")
            try:
                re.compile(self.value)
            except re.error as e:
                raise ValueError(f"invalid regular expression: {e}") from e
        if self.op is Op.MODE_AT_MOST and not (
            isinstance(self.value, str) and re.fullmatch(r"0?[0-7]{3,4}", self.value)
        ):
            raise ValueError("operator 'mode_at_most' needs an octal string such as '0644'")
        if self.op is Op.OWNER_IS and not (
            isinstance(self.value, str) and re.fullmatch(r"[^:\s]+:[^:\s]+", self.value)
        ):
            raise ValueError("operator 'owner_is' needs 'user:group', such as 'root:root'")
        return self

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set


class AllOf(Strict):
    all: Annotated[list[Condition], Field(min_length=1)]


class AnyOf(Strict):
    any: Annotated[list[Condition], Field(min_length=1)]


class NotOf(Strict):
    not_: Condition = Field(alias="not")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _condition_tag(v: Any) -> str:
    if isinstance(v, dict):
        for key in ("all", "any", "not"):
            if key in v:
                return key
        return "leaf"
    if isinstance(v, AllOf):
        return "all"
    if isinstance(v, AnyOf):
        return "any"
    if isinstance(v, NotOf):
        return "not"
    return "leaf"


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[Leaf, Tag("leaf")],
    Discriminator(_condition_tag),
]


def deciding_leaves(node: Condition, holds: bool = False) -> list[tuple[str, Leaf]]:
    """The leaves whose ``message`` can explain ``node`` giving ``holds`` (with their place,
    ``all[1].not``): the leaf the evaluator reports when the tree comes out that way.

    An ``all`` that fails reports its first failing child, one that holds its last child; an
    ``any`` that holds reports its first holding child, one that fails its first child (every
    child failed); a ``not`` reports its child, which came out the other way. So for
    ``applies_if`` (``holds=False``) these are the leaves that need a not-applicable reason.
    """
    if isinstance(node, Leaf):
        return [("", node)]
    if isinstance(node, NotOf):
        return [(_at("not", p), leaf) for p, leaf in deciding_leaves(node.not_, not holds)]
    kind, children = ("all", node.all) if isinstance(node, AllOf) else ("any", node.any)
    if (kind == "all") == holds:  # only one child can be the one reported
        i = len(children) - 1 if kind == "all" else 0
        picked = [(i, children[i])]
    else:
        picked = list(enumerate(children))
    return [
        (_at(f"{kind}[{i}]", p), leaf)
        for i, child in picked
        for p, leaf in deciding_leaves(child, holds)
    ]


def _at(head: str, rest: str) -> str:
    return f"{head}.{rest}" if rest and not rest.startswith("[") else head + rest


class FunctionCheck(Strict):
    """``check: {function: NAME}``: a registered Python evaluator, for what a tree can't hold."""

    function: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    args: dict[str, Any] = Field(default_factory=dict)


class Manual(Strict):
    """What cannot be observed: a person follows the procedure and attests the result."""

    procedure: Annotated[str, Field(min_length=1)]


class Reference(Strict):
    title: str
    url: str | None = None


def _check_tag(v: Any) -> str:
    if isinstance(v, dict) and "function" in v:
        return "function"
    if isinstance(v, FunctionCheck):
        return "function"
    return "condition"


Check = Annotated[
    Annotated[FunctionCheck, Tag("function")] | Annotated[Condition, Tag("condition")],
    Discriminator(_check_tag),
]


class Rule(Strict):
    """One framework-neutral technical check, in ``controls/rules/<target>/<id>.yaml``."""

    id: Annotated[str, Field(pattern=KEBAB, max_length=100)]
    title: Annotated[str, Field(min_length=1)]
    description: Annotated[str, Field(min_length=1)]
    rationale: Annotated[str, Field(min_length=1)]
    impact: str = ""
    severity: Severity
    target: RuleTarget
    evidence: Annotated[list[Annotated[str, Field(pattern=EVIDENCE_PATH)]], Field(min_length=1)]
    applies_if: Condition | None = None
    check: Check | None = None
    manual: Manual | None = None
    message: str | None = Field(
        default=None,
        description="Fail message template: {value}, {expected}, {evidence}, {resource}, or "
        "any evidence path in braces such as {Name}.",
    )
    audit: str = ""
    remediation: str = ""
    default_value: str = ""
    references: list[Reference] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_or_manual(self) -> Rule:
        if (self.check is None) == (self.manual is None):
            raise ValueError("a rule needs exactly one of 'check' or 'manual'")
        return self

    @property
    def automated(self) -> bool:
        return self.check is not None


class FrameworkLevel(Strict):
    id: Annotated[str, Field(min_length=1)]
    title: str = ""
    inherits: str | None = None


class FrameworkInfo(Strict):
    id: Annotated[str, Field(pattern=FRAMEWORK_ID)]
    title: Annotated[str, Field(min_length=1)]
    version: str
    source: str
    published: str = ""
    levels: list[FrameworkLevel] = Field(default_factory=list)
    notes: str = ""


class Mapping(Strict):
    basis: Literal["verified", "inferred"]
    source: str
    rationale: str = Field(
        default="",
        description="One line: why the rules meet the requirement, in the requirement's own "
        "terms (every inferred mapping gives one).",
    )


# A framework's own word for how a requirement is assessed (CIS: Automated or Manual).
FrameworkAssessment = Literal["automated", "manual"]


class Requirement(Strict):
    id: Annotated[str, Field(min_length=1)]
    title: Annotated[str, Field(min_length=1)]
    section: str
    section_title: str = ""
    text: str = Field(default="", description="The framework's own words (a quote).")
    summary: str = Field(
        default="",
        description="Our summary of the requirement, shown as a summary, never as a quote.",
    )
    modality: Literal["must", "should", "may"] | None = Field(
        default=None, description="The framework's modality, where it states one."
    )
    level: int | None = None
    profile: str = ""
    assessment: FrameworkAssessment | None = None
    rules: list[Annotated[str, Field(pattern=KEBAB)]] = Field(default_factory=list)
    status: Coverage | None = Field(
        default=None,
        description="Our coverage; derived from the rules when absent. Declare 'partial' "
        "when the rules cover only part of the requirement.",
    )
    mapping: Mapping | None = None
    previous_ids: dict[str, str] = Field(
        default_factory=dict,
        description="The same requirement's id in earlier versions of the framework, by version.",
    )
    later_ids: dict[str, str] = Field(
        default_factory=dict,
        description="The same requirement's id in later versions of the framework, by version "
        "(the counterpart of previous_ids, for a file describing an older version).",
    )
    notes: str = ""

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a rule is listed twice")
        return v


class Framework(Strict):
    """A framework file: the framework's own structure, and the rules meeting each requirement."""

    framework: FrameworkInfo
    requirements: Annotated[list[Requirement], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> Framework:
        seen: set[str] = set()
        for req in self.requirements:
            if req.id in seen:
                raise ValueError(f"requirement id {req.id!r} appears twice")
            seen.add(req.id)
        return self


def rule_json_schema() -> dict[str, Any]:
    schema = Rule.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://assessor.dev/schema/rule.schema.json"
    return schema


def framework_json_schema() -> dict[str, Any]:
    schema = Framework.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://assessor.dev/schema/framework.schema.json"
    return schema
