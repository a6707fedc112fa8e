"""Fail when a production module passes 400 lines or a function passes 60 (the house's size rule).

A module that long, or a function that long, is doing more than one thing: split it by responsibility.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("bot", "channels", "core", "handoff", "knowledge_base", "reports", "staff")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def offenders(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Return one line per module or function over its limit, under ``root``."""
    found: list[str] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            name = path.relative_to(root).as_posix()
            lines = source.count("\n") + (not source.endswith("\n") and bool(source))
            if lines > MAX_MODULE_LINES:
                found.append(f"{name}: {lines} lines (at most {MAX_MODULE_LINES})")
            for node in ast.walk(ast.parse(source, name)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    length = (node.end_lineno or node.lineno) - start + 1
                    if length > MAX_FUNCTION_LINES:
                        found.append(
                            f"{name}:{node.lineno} {node.name}: {length} lines (at most {MAX_FUNCTION_LINES})"
                        )
    return found


def main() -> int:
    """Print the offenders and return 1 when there is one."""
    found = offenders(Path(__file__).resolve().parent.parent)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} over the size limits: split by responsibility (README, 'Architecture')")
        return 1
    print(f"every module within {MAX_MODULE_LINES} lines and every function within {MAX_FUNCTION_LINES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
