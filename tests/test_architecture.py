"""The package's shape: no import cycles between regdemo's modules (imports inside functions included), each
stage of the data path importing only the stages before it, no module much over 400 lines, and no function
with a crowd of parameters."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "regdemo"
MAX_LINES = 420  # "about 400": room for a docstring, not for a second job


def modules(package: Path) -> dict[str, Path]:
    """Every module of the package under ``package``: dotted name -> file (a package is its __init__.py)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(name: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names an import statement in module ``name`` (file ``path``) may load."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from the module's package, up level - 1 more
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere in its file (in functions too), with the packages
    above them (importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first) except the packages
    that hold the importer itself: those are already being initialized when it runs (a package's
    ``__init__`` importing its submodules, which import each other, is no cycle)."""
    known = modules(package)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        own = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        enclosing = {".".join(own[:i]) for i in range(1, len(own) + 1)}
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for dotted in _imported(name, path, node):
                    parts = dotted.split(".")
                    targets |= ({".".join(parts[:i]) for i in range(1, len(parts) + 1)} - enclosing) & known.keys()
        graph[name] = targets - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None (depth-first search)."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if cycle := visit(target):
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        if cycle := visit(start):
            return cycle
    return None


def test_the_checker_finds_a_cycle_through_an_import_inside_a_function(tmp_path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def later():\n    from .. import c\n")
    (pkg / "c.py").write_text("import os\n\ndef later():\n    from pkg import a\n")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.sub", "pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.c"}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]
    (pkg / "c.py").write_text("import os\n")
    assert find_cycle(import_graph(pkg)) is None


def test_a_package_init_importing_its_submodules_is_no_cycle(tmp_path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.names import X\nfrom pkg.sub.read import f\n")
    (pkg / "sub" / "names.py").write_text("X = 1\n")
    (pkg / "sub" / "read.py").write_text("from pkg.sub.names import X\n")
    (pkg / "user.py").write_text("from pkg import sub\n")
    graph = import_graph(pkg)
    assert graph["pkg.sub.read"] == {"pkg.sub.names"} and graph["pkg.user"] == {"pkg.sub"}
    assert find_cycle(graph) is None
    (pkg / "sub" / "names.py").write_text("from pkg import user\n")  # a submodule reaching out and back in
    assert find_cycle(import_graph(pkg)) == ["pkg.sub", "pkg.sub.names", "pkg.user", "pkg.sub"]


def test_regdemo_has_no_import_cycle() -> None:
    graph = import_graph(PACKAGE)
    assert {
        "regdemo.runs.runner",
        "regdemo.runs.backends",
        "regdemo.runs.backends.local",
        "regdemo.runs.backends.ray",
    } <= graph.keys()
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_backends_do_not_import_the_runner() -> None:
    graph = import_graph(PACKAGE)
    assert not {
        name for name in graph if name.startswith("regdemo.runs.backends") and "regdemo.runs.runner" in graph[name]
    }


def test_no_module_is_much_over_400_lines() -> None:
    sizes = {str(path.relative_to(PACKAGE)): len(path.read_text().splitlines()) for path in modules(PACKAGE).values()}
    over = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert over == {}


# The data path, in order: a stage imports only the stages before it (and the shared names at the top).
STAGES = ("config", "train", "results", "draw", "runs", "report")
SHARED = {
    "regdemo",
    "regdemo.errors",
    "regdemo.options",
    "regdemo.columns",
    "regdemo.oserrors",
    "regdemo.exports",
    "regdemo.textsafe",
}
MAX_PARAMETERS = 8  # more travel as one object (the public regdemo.run may list its keyword arguments)


def _stage(module: str) -> int | None:
    parts = module.split(".")
    return STAGES.index(parts[1]) if len(parts) > 1 and parts[1] in STAGES else None


def test_each_stage_imports_only_the_stages_before_it_and_the_shared_names() -> None:
    reaching = set()
    for module, targets in import_graph(PACKAGE).items():
        own = _stage(module)
        for target in targets:
            if module in SHARED - {"regdemo"} and target not in SHARED:
                reaching.add((module, target))  # the shared names import nothing of the stages (the package
                # itself imports regdemo.api lazily, for regdemo.run and regdemo.load)
            elif own is not None and target not in SHARED and (_stage(target) is None or _stage(target) > own):
                reaching.add((module, target))  # a stage reaching ahead, or up to an entry point
    assert reaching == set()


def test_no_function_takes_more_than_eight_parameters() -> None:
    allowed = {("regdemo.api", "run")}
    crowded = {}
    for module, path in modules(PACKAGE).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                names = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
                count = len([n for n in names if n not in ("self", "cls")]) + bool(args.vararg) + bool(args.kwarg)
                if count > MAX_PARAMETERS and (module, node.name) not in allowed:
                    crowded[f"{module}.{node.name}"] = count
    assert crowded == {}


def test_scripts_stay_under_800_lines() -> None:
    """Library logic lives in the package; scripts/ only drive it."""
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    assert sum(len(path.read_text().splitlines()) for path in scripts.glob("*.py")) < 800
