"""The code a student reads stands on its own: no module outside s4lib/lab, and no notebook, imports the lab (the
command line dispatches to it); no circle between modules; train.py reads top-down and no lesson function is long."""
import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "s4lib"
DISPATCHERS = {"s4lib.cli", "s4lib.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every s4lib module a file imports, anywhere in it (inside functions too), resolved to its full name."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("s4lib")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("s4lib"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names if (PACKAGE.parent / f"{target}.{a.name}".replace(
                    ".", "/")).with_suffix(".py").exists()}
    return found


GRAPH = {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_the_graph_is_read_from_every_module():
    assert "s4lib.train" in GRAPH and "s4lib.lab.report" in GRAPH
    assert "s4lib.checkpoint" in GRAPH["s4lib.train"]  # an import inside a function counts too


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if not m.startswith("s4lib.lab") and m not in DISPATCHERS))
def test_no_lesson_module_imports_the_lab(module):
    assert not [m for m in GRAPH[module] if m.startswith("s4lib.lab")], f"{module} imports the lab"


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_no_notebook_imports_the_lab(notebook):
    code = "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                     if c["cell_type"] == "code")
    assert "s4lib.lab" not in code


def test_no_module_imports_the_lab_through_a_circle():
    def reaches(start: str, goal: str, seen: set) -> bool:
        for m in GRAPH.get(start, ()):
            if m == goal or (m not in seen and (seen.add(m) or reaches(m, goal, seen))):
                return True
        return False
    lesson = [m for m in GRAPH if not m.startswith("s4lib.lab") and m not in DISPATCHERS]
    assert not [m for m in lesson if any(reaches(m, lab, set()) for lab in GRAPH if lab.startswith("s4lib.lab"))]


def function_lengths(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.end_lineno - node.lineno + 1


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_no_lesson_function_is_longer_than_60_lines(path):
    long = [(name, n) for name, n in function_lengths(path) if n > 60 and not (path.name == "cli.py"
                                                                                 and name == "build_parser")]
    assert not long


def test_train_reads_top_down():
    text = (PACKAGE / "train.py").read_text()
    assert len(text.splitlines()) <= 300
    top = [n.name for n in ast.parse(text).body if isinstance(n, (ast.ClassDef, ast.FunctionDef))]
    assert top[:2] == ["TrainConfig", "train"]
