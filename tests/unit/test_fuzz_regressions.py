"""Inputs the fuzzer (``make fuzz``, tests/fuzz/) found, each run through the parser it broke.

Each test runs a crashing input through the same check as its fuzz target (no atheris
needed). A finding whose fix is outside the fuzzing work is marked xfail(strict=True) with
the file and function to fix: it starts to pass once fixed, and then strict xfail fails the
suite so the mark gets removed.
"""

from __future__ import annotations

import pytest

from tests.fuzz import (
    fuzz_archive,
    fuzz_image_json,
    fuzz_layer,
    fuzz_redact,
    fuzz_targets,
    fuzz_yaml,
)

# a few inputs every target must take without an unexpected exception (the empty input, a
# lone NUL, undecodable bytes): the harnesses' own smoke test
SMOKE = [b"", b"\0", b"\xff\xfe\xfd", b"{}", b"[]", b"a: *b", b"\0\0{}"]


@pytest.mark.parametrize(
    "check",
    [
        fuzz_targets.check,
        fuzz_yaml.check,
        fuzz_layer.check,
        fuzz_archive.check,
        fuzz_image_json.check,
    ],
    ids=["targets", "yaml", "layer", "archive", "image_json"],
)
@pytest.mark.parametrize("data", SMOKE, ids=range(len(SMOKE)))
def test_harness_smoke(check: object, data: bytes) -> None:
    check(data)  # type: ignore[operator]


def test_redact_harness_smoke() -> None:
    for data in SMOKE:
        fuzz_redact.check(data)


# ---- fuzz_targets ------------------------------------------------------------------------


def test_target_uri_with_trailing_blanks_parses_back_to_itself() -> None:
    from assessor.targets import parse_target

    # build/fuzz/targets/crash-8f15f7ae2e81a54cd650bd563ce1a24b884c7614
    data = b"image:oci:b" + b" " * 45 + b":"
    uri = parse_target(data.decode()).uri
    assert parse_target(uri).uri == uri


def test_target_uri_with_blanks_before_slashes_parses_back_to_itself() -> None:
    from assessor.targets import parse_target

    # build/fuzz/targets/crash-261c71353f887ae5616053964416c71d3bafbb88
    data = b"image:oci:///[  //://///"
    uri = parse_target(data.decode()).uri
    assert parse_target(uri).uri == uri


def test_registry_target_with_a_blank_host_is_refused_or_parses_back() -> None:
    from assessor.errors import TargetError
    from assessor.targets import parse_target

    # build/fuzz/targets/crash-4dc727df66f833808844e67d2bd450f6abdaa42b
    try:
        uri = parse_target("registry:http:// :").uri
    except TargetError:
        return
    assert parse_target(uri).uri == uri
