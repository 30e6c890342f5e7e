"""Which of the student's files are graded, copied into the job's submission folder.

A submission is the assignment's module (`layers.py`), or a folder or zip holding it in
whatever layout the course hands out: CS231n's collectSubmission zip has
`cs231n/layers.py` beside `cs231n/optim.py`, `cs231n/im2col.py` and notebooks, and a
student's folder may hold `assignment1/` and `assignment2/` with a `layers.py` each.
The module is chosen by path and content (the candidate that implements most of the
assignment's functions, then defines most: CS231n's assignment1/ hands out empty stubs
of later layers; a tie is refused, never guessed), the assignment's other
modules are taken from beside it, and so is its package, so that `from cs231n.im2col
import *` resolves. The result names every file graded.
"""

from __future__ import annotations

import ast
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.untrusted_fs import UnreadableTree, copy_tree, read_bytes, walk_files

MAX_SUBMISSION_BYTES = 10 << 20  # one file
MAX_PACKAGE_FILES = 64  # the .py files staged from beside the module
MAX_PARSED_BYTES = 1 << 20  # a candidate larger than this is ranked by its defs alone


class SubmissionRejected(ValueError):
    """The upload cannot be graded as it is; the message tells the student why."""


@dataclass(frozen=True)
class Staged:
    graded: list[str]  # the submission's own paths of the modules graded, main one first
    given: tuple[str, ...] = ()  # the course's support files staged beside them
    # the assignment's functions the graded module lacks, by another upload file that has them
    elsewhere: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        given = f"; the course's {', '.join(self.given)} beside it" if self.given else ""
        return f"graded {', '.join(self.graded)}{given}"


def stage_support(support: Path | None, dest: Path) -> tuple[str, ...]:
    """The course's given code (support/: im2col, fast layers) into the staged folder,
    over any file of the same path the student sent: the given code is the contract."""
    if support is None or not support.is_dir():
        return ()
    copy_tree(support, dest)
    return tuple(str(e.relative) for e in walk_files(support))


def _sources(path: Path) -> dict[str, bytes]:
    """Every .py file of a folder or zip by its POSIX path inside it (size-capped)."""
    if path.is_dir():
        try:
            entries = list(walk_files(path, max_depth=8, max_entries=5000))
        except UnreadableTree as exc:
            raise SubmissionRejected(f"{path}: {exc}") from None
        found = {}
        for entry in entries:
            if entry.relative.suffix == ".py" and entry.size <= MAX_SUBMISSION_BYTES:
                data = read_bytes(entry.path, MAX_SUBMISSION_BYTES)
                if data is not None:
                    found[entry.relative.as_posix()] = data
        return found
    try:
        with zipfile.ZipFile(path) as zf:
            found = {}
            for info in zf.infolist():
                name = info.filename.replace("\\", "/")
                parts = PurePosixPath(name).parts
                if info.is_dir() or not name.endswith(".py") or ".." in parts:
                    continue
                if name.startswith("/") or "__MACOSX" in parts:
                    continue
                if info.file_size > MAX_SUBMISSION_BYTES:
                    raise SubmissionRejected(
                        f"{name} is larger than {MAX_SUBMISSION_BYTES >> 20} MB"
                    )
                found[name] = zf.read(info)
            return found
    except zipfile.BadZipFile:
        raise SubmissionRejected(f"{path.name} is not a valid zip file") from None


def _is_stub_block(body: list[ast.stmt]) -> bool:
    """Only `pass`, `...` or strings: the starter's "TODO: implement" left as it was."""
    return all(
        isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        for s in body
    )


def _is_trivial(stmt: ast.stmt) -> bool:
    """What a starter stub holds around its TODO: `out = None`, `cache = (x, w)`, returns."""
    if isinstance(stmt, ast.Pass | ast.Return | ast.Raise):
        return True
    if isinstance(stmt, ast.Expr):
        return isinstance(stmt.value, ast.Constant)
    if isinstance(stmt, ast.Assign):
        leaves = stmt.value.elts if isinstance(stmt.value, ast.Tuple) else [stmt.value]
        return all(isinstance(v, ast.Constant | ast.Name) for v in leaves)
    return False


def _implemented(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> bool:
    if isinstance(node, ast.ClassDef):
        methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        return any(_implemented(m) for m in methods)
    if all(_is_trivial(s) for s in node.body):
        return False
    for inner in ast.walk(node):  # a branch still `pass` (batchnorm's train/test) is a stub
        if isinstance(inner, ast.ExceptHandler):  # `except ...: pass` is a choice, not a TODO
            continue
        for block in ("body", "orelse"):
            stmts = getattr(inner, block, None)
            if isinstance(stmts, list) and stmts and _is_stub_block(stmts):
                return False
    return True


def _implemented_names(source: bytes, names: tuple[str, ...]) -> set[str]:
    """Which of `names` the module defines with a body of its own. One too large or that
    does not parse is taken at its defs (its import error is then the verdict). Only
    parsed, never run: this is the trusted side."""
    if len(source) <= MAX_PARSED_BYTES:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
        else:
            return {
                n.name
                for n in tree.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and n.name in names
                and _implemented(n)
            }
    return _defined_names(source, names)


def _defined_names(source: bytes, names: tuple[str, ...]) -> set[str]:
    text = source.decode("utf-8", "replace")
    return {n for n in names if re.search(rf"^\s*(def|class)\s+{re.escape(n)}\b", text, re.M)}


def stage_submission(
    path: Path,
    module: str,
    dest: Path,
    others: tuple[str, ...] = (),
    functions: tuple[str, ...] = (),
) -> Staged:
    """Copy the student's `module` (and the `others` beside it) into dest: from a .py
    file, a folder, or a .zip. `functions` tell candidates apart."""
    target = f"{module}.py"
    if path.suffix == ".py" and not path.is_dir():
        if path.stat().st_size > MAX_SUBMISSION_BYTES:
            raise SubmissionRejected(f"{path.name} is larger than {MAX_SUBMISSION_BYTES >> 20} MB")
        data = read_bytes(path, MAX_SUBMISSION_BYTES)
        if data is None:
            raise SubmissionRejected(f"{path.name} is not a regular file")
        _write(dest / target, data)
        return Staged([path.name])
    if not path.is_dir() and path.suffix != ".zip":
        raise SubmissionRejected(f"{path.name}: submit {target}, a folder holding it, or a .zip")
    sources = _sources(path)
    candidates = sorted(n for n in sources if PurePosixPath(n).name == target)
    if not candidates:
        raise SubmissionRejected(f"no {target} in {path.name}")
    scored = sorted(
        (
            (
                len(_implemented_names(sources[n], functions)),
                len(_defined_names(sources[n], functions)),
            ),
            n,
        )
        for n in candidates
    )[::-1]
    if len(scored) > 1 and scored[0][0] == scored[1][0]:
        tied = [n for s, n in scored if s == scored[0][0]]
        raise SubmissionRejected(
            f"{path.name} holds {len(tied)} {target} files that could be the one to grade "
            f"({', '.join(tied[:5])}); submit the one you mean, or a folder with only it"
        )
    chosen = PurePosixPath(scored[0][1])
    folder = chosen.parent
    _write(dest / target, sources[str(chosen)])
    graded = [str(chosen)]
    for other in others:
        beside = str(folder / f"{other}.py") if str(folder) != "." else f"{other}.py"
        if beside in sources:
            _write(dest / f"{other}.py", sources[beside])
            graded.append(beside)
    if folder.name.isidentifier():  # its package too: `from cs231n.im2col import *`
        package = dest / folder.name
        siblings = [n for n in sources if PurePosixPath(n).parent == folder][:MAX_PACKAGE_FILES]
        for name in siblings:
            _write(package / PurePosixPath(name).name, sources[name])
        if not (package / "__init__.py").exists():
            _write(package / "__init__.py", b"")
    return Staged(graded, elsewhere=_elsewhere(sources, graded, functions))


def _elsewhere(
    sources: dict[str, bytes], graded: list[str], functions: tuple[str, ...]
) -> dict[str, str]:
    """The assignment's functions that no graded file defines, by the first other .py file
    of the upload that does (CS231n 2021+ keeps svm_loss in assignment1's layers.py)."""
    missing = set(functions)
    for name in graded:
        missing -= _defined_names(sources[name], functions)
    found: dict[str, str] = {}
    for name in sorted(sources):
        if not missing:
            break
        # Only a file whose defs name a missing function is parsed: an upload may hold
        # thousands of .py files, and most uploads miss nothing.
        named = tuple(sorted(_defined_names(sources[name], tuple(missing))))
        if name not in graded and named:
            for fn in _implemented_names(sources[name], named):
                found[fn] = name
            missing -= found.keys()
    return found


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o755)
    path.write_bytes(data)
    path.chmod(0o644)
