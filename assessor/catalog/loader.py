"""Load, validate and cross-check control files; every error names file, line and field."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from assessor import __version__, cache, extensions
from assessor.catalog.schema import (
    AllOf,
    AnyOf,
    Condition,
    Framework,
    FunctionCheck,
    Leaf,
    NotOf,
    Requirement,
    Rule,
    deciding_leaves,
)
from assessor.errors import ControlDefinitionError
from assessor.resources import data_dir
from assessor.vocab import Coverage

MAX_CONTROL_FILE = 1 << 20  # 1 MiB: a control file larger than this is refused

Path_ = tuple[str | int, ...]
T = TypeVar("T")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass(frozen=True, slots=True)
class YamlDoc:
    path: Path
    data: Any
    lines: dict[Path_, int]
    raw: bytes

    @property
    def name(self) -> str:
        return _display(self.path)

    def line_of(self, loc: Iterable[str | int]) -> tuple[int | None, str]:
        """The line and dotted field of a pydantic error location, skipping union tags."""
        real: list[str | int] = []
        node = self.data
        for part in loc:
            in_dict = isinstance(node, dict) and part in node
            in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            if in_dict or in_list:
                node = node[part]
                real.append(part)
        for n in range(len(real), -1, -1):
            line = self.lines.get(tuple(real[:n]))
            if line is not None:
                break
        dotted = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in real).replace(
            ".[", "["
        )
        # a missing required field is named by the last part of the loc, not the parent
        last = list(loc)[-1] if loc else None
        if isinstance(last, str) and last not in real and last not in {"all", "any", "not"}:
            dotted = f"{dotted}.{last}" if dotted else last
        return line, dotted or "(document)"

    def validate(self, check: Callable[[Any], T]) -> T:
        """``check(self.data)`` (a pydantic validation); its first error becomes one
        ControlDefinitionError naming this file, the line and the field."""
        try:
            return check(self.data)
        except ValidationError as e:
            raise _validation_error(self, e) from None


def read_document(path: Path, limit: int = MAX_CONTROL_FILE) -> YamlDoc:
    """A user's YAML file (a control file, a waivers file), read and checked by yamlsafe,
    with the line of every key; ``data`` is None for an empty file."""
    from assessor.yamlsafe import load

    data, lines, raw = load(path, _display(path), limit)
    return YamlDoc(path, data, lines, raw)


def read_yaml(path: Path) -> YamlDoc:
    doc = read_document(path)
    if doc.data is None:
        raise ControlDefinitionError(doc.name, 1, None, "empty file")
    if not isinstance(doc.data, dict):
        raise ControlDefinitionError(doc.name, 1, None, "expected a mapping at the top level")
    return doc


def _validation_error(doc: YamlDoc, err: ValidationError) -> ControlDefinitionError:
    first = err.errors()[0]
    line, dotted = doc.line_of(first["loc"])
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "missing":
        msg = "required field is missing"
    elif first["type"] == "string_type":
        msg = f"must be a string (quote it), got {type(first.get('input')).__name__}"
    return ControlDefinitionError(doc.name, line, dotted, msg.removeprefix("Value error, "))


def parse_rule(doc: YamlDoc) -> Rule:
    rule = doc.validate(Rule.model_validate)
    if rule.id != doc.path.stem:
        line, _ = doc.line_of(["id"])
        raise ControlDefinitionError(
            doc.name, line, "id", f"{rule.id!r} differs from the file name {doc.path.stem!r}"
        )
    for loc, leaf in _leaves_with_loc(rule):
        if not any(_path_under(leaf.evidence, e) for e in rule.evidence):
            line, dotted = doc.line_of(loc)
            raise ControlDefinitionError(
                doc.name,
                line,
                dotted,
                f"reads {leaf.evidence!r}, which is not declared under 'evidence'",
            )
    if isinstance(rule.check, FunctionCheck):
        known = extensions.names(extensions.FUNCTIONS_GROUP)
        if rule.check.function not in known:
            line, _ = doc.line_of(["check", "function"])
            raise _unknown_function(doc.name, line, rule.check.function, known)
    return rule


def _unknown_function(
    file: str, line: int | None, name: str, known: list[str]
) -> ControlDefinitionError:
    return ControlDefinitionError(
        file,
        line,
        "check.function",
        f"no registered evaluator {name!r} (known: {', '.join(sorted(known))})",
    )


def _check_functions(cat: Catalog) -> None:
    """Every function a rule names is built in or installed now. For a cached catalog: the
    functions plugins add are not part of its key (one may be gone since, or clash now)."""
    known = extensions.names(extensions.FUNCTIONS_GROUP)
    for rule_id, rule in cat.rules.items():
        if isinstance(rule.check, FunctionCheck) and rule.check.function not in known:
            file = cat.rule_files[rule_id]
            doc = read_yaml(Path(file)) if Path(file).exists() else None
            line = doc.line_of(["check", "function"])[0] if doc is not None else None
            raise _unknown_function(file, line, rule.check.function, known)


def _path_under(path: str, declared: str) -> bool:
    return path == declared or path.startswith((declared + ".", declared + "["))


def _leaves_with_loc(rule: Rule) -> Iterator[tuple[list[str | int], Leaf]]:
    def walk(node: Condition, loc: list[str | int]) -> Iterator[tuple[list[str | int], Leaf]]:
        if isinstance(node, AllOf):
            for i, c in enumerate(node.all):
                yield from walk(c, [*loc, "all", i])
        elif isinstance(node, AnyOf):
            for i, c in enumerate(node.any):
                yield from walk(c, [*loc, "any", i])
        elif isinstance(node, NotOf):
            yield from walk(node.not_, [*loc, "not"])
        else:
            yield [*loc, "evidence"], node

    if rule.applies_if is not None:
        yield from walk(rule.applies_if, ["applies_if"])
    if rule.check is not None and not isinstance(rule.check, FunctionCheck):
        yield from walk(rule.check, ["check"])


def parse_framework(doc: YamlDoc) -> Framework:
    fw = doc.validate(Framework.model_validate)
    if fw.framework.id != doc.path.stem:
        line, _ = doc.line_of(["framework", "id"])
        raise ControlDefinitionError(
            doc.name,
            line,
            "framework.id",
            f"{fw.framework.id!r} differs from the file name {doc.path.stem!r}",
        )
    return fw


@dataclass(slots=True)
class Catalog:
    """Every rule and framework in scope, cross-checked, with the digest of their files."""

    rules: dict[str, Rule] = field(default_factory=dict)
    frameworks: dict[str, Framework] = field(default_factory=dict)
    rule_files: dict[str, str] = field(default_factory=dict)
    framework_files: dict[str, str] = field(default_factory=dict)
    digest: str = ""
    warnings: list[str] = field(default_factory=list)
    # rule id -> framework id -> requirement ids
    references: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def coverage(self, req: Requirement) -> Coverage:
        """Our coverage of a requirement: declared, or derived from its rules."""
        if req.status is not None:
            return req.status
        rules = [self.rules[r] for r in req.rules if r in self.rules]
        if not rules:
            return Coverage.NOT_COVERED
        automated = [r for r in rules if r.automated]
        if len(automated) == len(rules):
            return Coverage.AUTOMATED
        return Coverage.PARTIAL if automated else Coverage.MANUAL


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def control_dirs(extra: Iterable[Path] = ()) -> list[Path]:
    return [data_dir("controls"), *extra]


def _control_files(extra_dirs: Iterable[Path]) -> list[tuple[str, Path, Path]]:
    """(kind, folder, file) of every control file in scope, in load order."""
    found: list[tuple[str, Path, Path]] = []
    for base in control_dirs(extra_dirs):
        if not base.is_dir():
            raise ControlDefinitionError(_display(base), None, None, "controls folder not found")
        for sub in ("rules", "frameworks"):
            folder = base / sub
            found.extend((sub, folder, p) for p in (_yaml_files(folder) if folder.is_dir() else []))
    return found


CACHE_KEEP = 8  # cached catalogs kept (one per set of control folders and versions in use)
# the code that gives a catalog its shape: a change to either makes a new cache key
_SHAPING_CODE = (Path(__file__), Path(__file__).with_name("schema.py"))


def _real_path(path: Path, folders: dict[Path, Path]) -> Path:
    """``path.resolve()``, each folder resolved once (in ``folders``): a file that is not a
    symbolic link is its real folder's entry of the same name."""
    if path.is_symlink():
        return path.resolve()
    if path.parent not in folders:
        folders[path.parent] = path.parent.resolve()
    return folders[path.parent] / path.name


def _cache_path(files: list[tuple[str, Path, Path]]) -> Path | None:
    """Where the validated catalog for exactly these file contents is cached, if anywhere.

    The key is the hash of this assessor's version, Python's, the source of the catalog's
    schema and loader, and every control file's name and bytes (read again on each load,
    which is cheap), so an edited file, a changed Rule class or an upgrade never reuses a
    stale catalog. ``ASSESSOR_CACHE_DIR=`` (empty) turns the cache off (:mod:`assessor.cache`).
    """
    where = cache.folder()
    if where is None:
        return None
    key = hashlib.sha256(f"{__version__}\0{sys.version}\0".encode())
    try:
        for code in _SHAPING_CODE:
            key.update(hashlib.sha256(code.read_bytes()).digest())
    except OSError:
        return None
    folders: dict[Path, Path] = {}
    for _, _, path in files:
        key.update(str(_real_path(path, folders)).encode() + b"\0")
        try:
            if path.stat().st_size > MAX_CONTROL_FILE:
                return None  # refused when read, with its name; never hashed whole
            key.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            return None
    return where / f"catalog-{key.hexdigest()[:32]}.json"


def _adapter() -> Any:
    """The catalog as JSON and back (pydantic): the rules and frameworks are validated again
    when read, so a cache is data, never code."""
    return TypeAdapter(Catalog)


MAX_CACHED = 64 << 20  # bytes of a cached catalog read back


def _read_cache(path: Path | None) -> Catalog | None:
    body = cache.read(path, MAX_CACHED) if path is not None else None
    if body is None:
        return None
    try:
        cat = _adapter().validate_json(body)
    except ValueError:  # truncated or of another shape: parsed again
        return None
    return cat if isinstance(cat, Catalog) else None


def _write_cache(path: Path | None, cat: Catalog) -> None:
    if path is not None and cache.write(
        path, _adapter().dump_json(cat, by_alias=True, exclude_unset=True)
    ):
        # the CACHE_KEEP most recently used catalogs stay, and the pickled catalogs earlier
        # versions of assessor wrote there (never read again) go
        cache.prune(path, "catalog-*.json", CACHE_KEEP, stale=("catalog-*.pickle",))


def load_catalog(extra_dirs: Iterable[Path] = ()) -> Catalog:
    """Load the packaged controls plus each organisation folder (``rules/``, ``frameworks/``).

    A validated catalog is cached as JSON per exact file contents (see :func:`_cache_path`).
    """
    extra_dirs = list(extra_dirs)
    files = _control_files(extra_dirs)
    path = _cache_path(files)
    cached = _read_cache(path)
    if cached is not None:
        _check_functions(cached)
        return cached
    cat = _parse_catalog(extra_dirs)
    _write_cache(path, cat)
    return cat


def _parse_catalog(extra_dirs: Iterable[Path]) -> Catalog:
    cat = Catalog()
    hasher = hashlib.sha256()
    for base in control_dirs(extra_dirs):
        if not base.is_dir():
            raise ControlDefinitionError(_display(base), None, None, "controls folder not found")
        for sub in ("rules", "frameworks"):
            folder = base / sub
            for path in _yaml_files(folder) if folder.is_dir() else []:
                doc = read_yaml(path)
                hasher.update(f"{sub}/{path.relative_to(folder).as_posix()}\0".encode())
                hasher.update(hashlib.sha256(doc.raw).digest())
                if sub == "rules":
                    rule = parse_rule(doc)
                    if rule.id in cat.rules:
                        raise ControlDefinitionError(
                            doc.name,
                            doc.line_of(["id"])[0],
                            "id",
                            f"rule {rule.id!r} is already defined in {cat.rule_files[rule.id]}",
                        )
                    if path.parent.name != rule.target.value:
                        line, _ = doc.line_of(["target"])
                        raise ControlDefinitionError(
                            doc.name,
                            line,
                            "target",
                            f"a {rule.target.value!r} rule must be in rules/{rule.target.value}/",
                        )
                    cat.rules[rule.id] = rule
                    cat.rule_files[rule.id] = doc.name
                else:
                    fw = parse_framework(doc)
                    if fw.framework.id in cat.frameworks:
                        raise ControlDefinitionError(
                            doc.name,
                            doc.line_of(["framework", "id"])[0],
                            "framework.id",
                            f"framework {fw.framework.id!r} is already defined in "
                            f"{cat.framework_files[fw.framework.id]}",
                        )
                    cat.frameworks[fw.framework.id] = fw
                    cat.framework_files[fw.framework.id] = doc.name
    cat.digest = "sha256:" + hasher.hexdigest()
    _cross_check(cat)
    return cat


def _no_mapping_tags(cat: Catalog) -> None:
    """A rule meets a framework's requirement when the framework file lists it under that
    requirement's ``rules``: the one place a mapping is written. A tag such as
    ``cis-docker-1.8.0:5.4`` would be a second copy that can drift, so it is refused."""
    for rule_id, rule in cat.rules.items():
        for i, tag in enumerate(rule.tags):
            fw, sep, req = tag.partition(":")
            if sep and fw in cat.frameworks:
                file = cat.rule_files[rule_id]
                line = (
                    read_yaml(Path(file)).line_of(["tags", i])[0] if Path(file).exists() else None
                )
                raise ControlDefinitionError(
                    file,
                    line,
                    f"tags[{i}]",
                    f"{tag!r} maps the rule to {fw} {req}: list {rule_id!r} in that "
                    f"requirement's rules in {cat.framework_files[fw]} instead, not in a tag",
                )


def _cross_check(cat: Catalog) -> None:
    _no_mapping_tags(cat)
    referenced: set[str] = set()
    for fw_id, fw in cat.frameworks.items():
        file = cat.framework_files[fw_id]

        def line_at(loc: list[str | int], file: str = file) -> int | None:
            # read again only to point at the line of an error
            return read_yaml(Path(file)).line_of(loc)[0] if Path(file).exists() else None

        for i, req in enumerate(fw.requirements):
            for j, rule_id in enumerate(req.rules):
                if rule_id not in cat.rules:
                    line = line_at(["requirements", i, "rules", j])
                    raise ControlDefinitionError(
                        file,
                        line,
                        f"requirements[{i}].rules[{j}]",
                        f"requirement {req.id!r} references unknown rule {rule_id!r}",
                    )
                referenced.add(rule_id)
                cat.references.setdefault(rule_id, {}).setdefault(fw_id, []).append(req.id)
            if req.status in (Coverage.AUTOMATED, Coverage.PARTIAL) and not any(
                cat.rules[r].automated for r in req.rules
            ):
                line = line_at(["requirements", i, "status"])
                raise ControlDefinitionError(
                    file,
                    line,
                    f"requirements[{i}].status",
                    f"requirement {req.id!r} is {req.status.value} but has no automated rule",
                )
    for rule_id in sorted(set(cat.rules) - referenced):
        cat.warnings.append(f"{cat.rule_files[rule_id]}: rule {rule_id!r} is in no framework")
    for rule_id, rule in cat.rules.items():
        for where in unexplained_not_applicable(rule):
            cat.warnings.append(
                f"{cat.rule_files[rule_id]}: rule {rule_id!r}: {where} has no 'message': its "
                "not-applicable result will read as a generated sentence naming the evidence "
                "path; give the reason in plain words"
            )


def unexplained_not_applicable(rule: Rule) -> list[str]:
    """The ``applies_if`` leaves (``applies_if.all[0]``) that can make ``rule`` not applicable
    but give no ``message`` (the reason in plain words)."""
    if rule.applies_if is None:
        return []
    return [
        f"applies_if.{where}" if where else "applies_if"
        for where, leaf in deciding_leaves(rule.applies_if)
        if not leaf.message
    ]


def validate_path(path: Path, extra_dirs: Iterable[Path] = ()) -> Catalog:
    """Validate one rule or framework file, or a controls folder, with the packaged catalog."""
    if path.is_dir():
        return load_catalog([*extra_dirs, path])
    if not path.exists():
        raise ControlDefinitionError(_display(path), None, None, "no such file")
    doc = read_yaml(path)
    cat = load_catalog(extra_dirs)
    if "framework" in doc.data:
        fw = parse_framework(doc)
        cat.frameworks.pop(fw.framework.id, None)
        cat.frameworks[fw.framework.id] = fw
        cat.framework_files[fw.framework.id] = doc.name
    else:
        rule = parse_rule(doc)
        cat.rules[rule.id] = rule
        cat.rule_files[rule.id] = doc.name
    cat.references.clear()
    cat.warnings.clear()
    _cross_check(cat)
    return cat
