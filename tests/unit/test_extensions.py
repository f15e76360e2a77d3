"""The extension tables (assessor.extensions): every entry resolves, every evaluator is listed,
and the catalog reads function names without importing evaluation."""

from __future__ import annotations

import inspect
import subprocess
import sys
from importlib import import_module

import pytest

from assessor import extensions
from assessor.collectors.base import Collector
from assessor.evaluate.engine import evaluator
from tests.conftest import ROOT

FUNCTION_MODULES = sorted(set(extensions.FUNCTIONS.values()))


@pytest.mark.parametrize("name", sorted(extensions.FUNCTIONS))
def test_each_function_resolves_to_the_function_of_its_name(name: str) -> None:
    fn = evaluator(name)
    assert fn.__name__ == name and fn.__module__ == extensions.FUNCTIONS[name]


@pytest.mark.parametrize("module", FUNCTION_MODULES)
def test_every_evaluator_a_module_defines_is_in_the_table(module: str) -> None:
    """A public function returning an Outcome that the table does not name could never run."""
    mod = import_module(module)
    defined = {
        name
        for name, fn in inspect.getmembers(mod, inspect.isfunction)
        if fn.__module__ == module
        and not name.startswith("_")
        and fn.__annotations__.get("return") == "Outcome"
    }
    listed = {n for n, m in extensions.FUNCTIONS.items() if m == module}
    assert defined == listed


@pytest.mark.parametrize("name", sorted(extensions.EXPORTERS))
def test_each_export_format_resolves(name: str) -> None:
    exporter = extensions.exporter(name)
    for spec in filter(None, (exporter.render, exporter.every_result)):
        assert callable(extensions.render_function(spec)), spec


@pytest.mark.parametrize("kind", sorted(extensions.COLLECTORS))
def test_each_collector_resolves(kind: str) -> None:
    cls = extensions.load(extensions.COLLECTORS_GROUP, kind)
    assert isinstance(cls, type) and issubclass(cls, Collector)


def test_an_unknown_name_is_one_line() -> None:
    with pytest.raises(extensions.PluginError) as e:
        extensions.load(extensions.FUNCTIONS_GROUP, "no_such_function")
    assert e.value.message == (
        "'no_such_function' is neither built in nor given by an installed plugin "
        "(group 'assessor.functions')"
    )


def test_the_catalog_loads_without_importing_evaluation() -> None:
    code = (
        "import sys; from assessor.catalog import load_catalog; "
        "load_catalog(); "
        "print(sorted(m for m in sys.modules if m.startswith('assessor.evaluate')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"ASSESSOR_CACHE_DIR": "", "PATH": "/usr/bin:/bin"},
        check=True,
    ).stdout
    assert out.strip() == "[]"
