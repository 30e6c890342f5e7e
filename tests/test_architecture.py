"""The house's rules, read from the code's own imports (every import, at any depth):

    submissions_schema <- reference_impl <- grader (core) <- grader.service <- workers
                                                                 <- grader.cli

Each layer imports only from the layers to its left (and itself), the harness imports
nothing of dlgrader (it runs inside the sandbox), and no set of modules imports itself
round a circle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("submissions_schema", "reference_impl", "grader", "workers")
LAYERS = (
    "submissions_schema",
    "reference_impl",
    "grader",
    "grader.service",
    "workers",
    "grader.cli",
)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # alembic's scripts, loaded by alembic
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """Our modules that `path` imports, anywhere in it (lazy imports count too)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from package import module` imports the module
                full = f"{base}.{alias.name}"
                targets.add(full if full in known else base)
    ours = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            ours.add(target)
    return ours


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(path, name, set(found)) for name, path in found.items()}


def layer(module: str) -> int:
    matches = [
        i for i, prefix in enumerate(LAYERS) if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches)


def test_imports_run_one_way() -> None:
    upward = [
        f"{source} -> {target}"
        for source, targets in graph().items()
        for target in targets
        if layer(target) > layer(source)
    ]
    assert not upward, "imports against the layers:\n" + "\n".join(sorted(upward))


def test_the_harness_imports_nothing_of_dlgrader() -> None:
    leaks = {m: t for m, t in graph().items() if m.startswith("grader.harness") and t}
    assert not leaks, leaks


def test_no_module_imports_itself_round_a_circle() -> None:
    edges = graph()
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    assert not circles, circles
