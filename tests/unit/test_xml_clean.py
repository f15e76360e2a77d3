"""readmodel.clean drops exactly the characters XML 1.0 forbids, over every code point."""

from __future__ import annotations

import re

from assessor.readmodel import clean

# XML 1.0 section 2.2, Char: what a document may hold
ALLOWED = re.compile("[\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def test_clean_keeps_what_xml_allows_and_drops_the_rest() -> None:
    every = "".join(map(chr, range(0x110000)))
    assert clean(every) == "".join(ALLOWED.findall(every))
    assert clean("a\x00b\x1fc\ud800d\ufffee\U0001f600") == "abcde\U0001f600"
