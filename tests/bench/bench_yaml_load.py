"""YAML load of the built-in catalog, A/B in one process: the pre-yamlsafe read (compose, line map,
construct) against yamlsafe.load (which adds the alias, tag, depth and file checks). CPU time,
best of 40. Run: .venv/bin/python tests/bench/bench_yaml_load.py"""

import time

import yaml

from assessor import yamlsafe
from assessor.catalog.loader import _control_files

L = yaml.CSafeLoader


def _line_map(node, prefix, out, file):
    out.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ValueError
            seen.add(key)
            out[(*prefix, key)] = key_node.start_mark.line + 1
            _line_map(value_node, (*prefix, key), out, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*prefix, i)] = item.start_mark.line + 1
            _line_map(item, (*prefix, i), out, file)


def old(path):
    path.stat()  # the old read checked the size first
    raw = path.read_bytes()
    text = raw.decode()
    loader = L(text)
    try:
        node = loader.get_single_node()
        lines = {}
        _line_map(node, (), lines, "x")
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    return data, lines, raw


def new(path):
    return yamlsafe.load(path, "x", 1 << 20)


files = [p for _, _, p in _control_files([])]
assert all(old(p)[:2] == new(p)[:2] for p in files)  # same data, same line map
best = {"old": 1e9, "new": 1e9}
for _ in range(40):
    for name, f in (("old", old), ("new", new)):
        s = time.process_time()
        for p in files:
            f(p)
        best[name] = min(best[name], time.process_time() - s)
print(
    f"{len(files)} control files, best of 40 (CPU): old {best['old'] * 1000:.1f} ms, new {best['new'] * 1000:.1f} ms"
)
