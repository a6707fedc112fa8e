"""The lint checks fail on what they are meant to catch (a cycle, a long module or function)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

from scripts.check_cycles import cycles
from scripts.check_size import offenders


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.split(".")[0] in ("loopy", "tidy")]:
        del sys.modules[name]


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_a_cycle_between_two_subpackages_is_found(tree: Path) -> None:
    write(
        tree,
        {
            "loopy/__init__.py": "",
            "loopy/a/__init__.py": "",
            "loopy/a/one.py": "from loopy.b import two\n",
            "loopy/b/__init__.py": "",
            "loopy/b/two.py": "import loopy.a.one\n",
            "loopy/c.py": "import loopy.a.one\n",
        },
    )
    graph = grimp.build_graph("loopy")
    modules = set(graph.modules)
    assert cycles(graph, "loopy", modules) == [["loopy.a", "loopy.b"]]
    assert cycles(graph, "loopy.a", modules) == []


def test_imports_that_point_one_way_pass(tree: Path) -> None:
    write(
        tree,
        {
            "tidy/__init__.py": "",
            "tidy/top.py": "import tidy.low\n",
            "tidy/low.py": "",
        },
    )
    graph = grimp.build_graph("tidy")
    assert cycles(graph, "tidy", set(graph.modules)) == []


def test_long_modules_and_functions_are_named(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    write(
        tmp_path,
        {
            "pkg/short.py": "def fine() -> None:\n    return None\n",
            "pkg/long.py": "\n" * 401,
            "pkg/func.py": f"def huge() -> None:\n{body}\n",
        },
    )
    found = offenders(tmp_path, ("pkg",))
    assert found == [
        "pkg/func.py:1 huge: 62 lines (at most 60)",
        "pkg/long.py: 401 lines (at most 400)",
    ]
