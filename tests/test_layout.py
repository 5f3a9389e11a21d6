"""The README's pipeline diagram names every module of harvest/, plugins/ and editor/ under its folder,
and nothing else; no source's package imports another's."""

from __future__ import annotations

import ast
import re

from conftest import ROOT

PACKAGES = ("harvest", "plugins", "editor")
SOURCES = ROOT / "harvest" / "sources"


def modules_in_tree() -> set[str]:
    """Every .py file, less the __init__.py files that hold only a docstring (nothing to name)."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            body = ast.parse(path.read_text(encoding="utf-8")).body
            if path.name == "__init__.py" and all(isinstance(n, ast.Expr) for n in body):
                continue
            found.add(path.relative_to(ROOT).as_posix())
    return found


def modules_in_readme() -> set[str]:
    """The modules the diagram names.  A line's first word, when it is a folder (a path from the
    repository root, or a subfolder of the last unindented folder), is where the names on that line and
    on the deeper-indented lines under it are; a first word that is a module name is in the last
    unindented folder."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## The pipeline\n.*?```\n(.*?)```", text, re.S).group(1)
    named, top, folder = set(), None, None
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        first = line.split()[0] if line.strip() else ""
        if indent <= 3 and first.endswith("/"):
            folder = first if first.startswith(PACKAGES) else top + first
            top = folder if indent <= 1 else top
        elif indent <= 1:
            top = folder = None  # a line of the diagram that is not a folder of ours
        elif indent <= 3 and first.endswith(".py"):
            folder = top
        if folder is None:
            continue
        for name in re.findall(r"(?<![\w./])([a-z_]+\.py)\b", line):
            named.add(folder + name)
    return named


def test_readme_names_every_module_where_it_is():
    tree, readme = modules_in_tree(), modules_in_readme()
    assert not tree - readme, f"modules the README's pipeline does not name: {sorted(tree - readme)}"
    assert not readme - tree, f"modules the README's pipeline names that do not exist: {sorted(readme - tree)}"


def test_no_source_imports_another():
    sources = {p.name for p in SOURCES.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert {"pubmed", "ctgov", "metapsy"} <= sources
    for source in sorted(sources):
        for path in (SOURCES / source).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module:
                    parts = node.module.split(".")
                    other = parts[2] if parts[:2] == ["harvest", "sources"] and len(parts) > 2 else None
                    assert other in (None, source, "http", "rawcache", "sniff"), \
                        f"{path.relative_to(ROOT)} imports {node.module}"
