"""The shipped content's id and version, found without PyYAML when pack.yaml is plain enough.

Each case is a pack.yaml text and the (id, version) YAML gives it, written out here; the fast
scan either gives the same pair or gives up (None) and leaves the file to YAML.
"""

from __future__ import annotations

import pytest
import yaml

from generator import DEFAULT_CONTENT_DIR
from generator.reading.read import _id_and_version, known_content_versions

PLAIN = 'id: care-coordination-portfolio\nversion: "1.0.0"\ntitle: "A title"\n'


@pytest.mark.parametrize("text, pair", [
    (PLAIN, ("care-coordination-portfolio", "1.0.0")),
    ("version: '2.1'  # bumped\nid: pack_b\n", ("pack_b", "2.1")),
    ("\ufeffid: x1\r\nversion: v2.0.0\r\n", ("x1", "v2.0.0")),
    ('id: "with # hash"\nversion: "1"\nsections:\n  - id: not_top_level\n', ("with # hash", "1")),
])
def test_a_plain_pack_file_is_read_without_yaml_and_as_yaml_reads_it(text, pair):
    assert _id_and_version(text) == pair
    assert (str(yaml.safe_load(text)["id"]), str(yaml.safe_load(text)["version"])) == pair


@pytest.mark.parametrize("text, yaml_pair", [
    ("id: p\nversion: 1.10\n", ("p", "1.1")),  # a number: YAML writes it otherwise
    ("id: p\nversion: 2026-01-31\n", ("p", "2026-01-31")),  # a date
    ("id: yes\nversion: '1'\n", ("True", "1")),  # a YAML 1.1 boolean
    ("id: p\nversion: v1#2\n", ("p", "v1#2")),  # no space before '#': part of the value
    ("id: p\nid: q\nversion: '1'\n", ("q", "1")),  # repeated: YAML keeps the last
    ("id: p\nversion: &v '1'\n", ("p", "1")),  # an anchor
    ("id: p\nversion: \"1\\u0031\"\n", ("p", "11")),  # an escape
    ("---\nid: p\nversion: '1'\n", ("p", "1")),  # a document marker
    ('"id": q\nid: p\nversion: "1"\n', ("p", "1")),  # a quoted key
    ("id : p\nversion: '1'\n", ("p", "1")),  # a space before the colon
    ("{id: p, version: '1'}\n", ("p", "1")),  # flow style
    ("id: p\n", None),  # no version
])
def test_anything_less_plain_is_left_to_yaml(text, yaml_pair):
    assert _id_and_version(text) is None
    loaded = yaml.safe_load(text)
    if yaml_pair is not None:
        assert (str(loaded["id"]), str(loaded["version"])) == yaml_pair


def test_the_shipped_content_is_plain_enough_and_agrees_with_yaml():
    text = (DEFAULT_CONTENT_DIR / "pack.yaml").read_text(encoding="utf-8")
    pack = yaml.safe_load(text)
    assert _id_and_version(text) == (pack["id"], pack["version"]) == ("care-coordination-portfolio", pack["version"])
    assert known_content_versions() == frozenset({(pack["id"], pack["version"])})
