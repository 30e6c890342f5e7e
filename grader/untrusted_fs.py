"""The only way trusted code reads a tree that untrusted code wrote or shipped.

A sandbox's output folder, an unpacked upload, a student's project: anything in them may
be a symbolic link, a FIFO that blocks `open()` forever, a device, a 1,500-deep chain of
folders (recursion in `os.walk` and `shutil.rmtree`), a file that grows while read, an
`.npy` header that claims terabytes. These readers follow no links, open nothing but
regular files (non-blocking), walk iteratively under depth and count caps, and check an
array's header before allocating it. Nothing here ever runs a tool on the tree.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_DEPTH = 64
MAX_ENTRIES = 100_000


class UnreadableTree(ValueError):
    """The tree breaks a cap (too deep, too many entries); the message says which."""


@dataclass(frozen=True)
class Entry:
    path: Path
    relative: Path
    size: int


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def walk_files(
    root: Path, max_depth: int = MAX_DEPTH, max_entries: int = MAX_ENTRIES
) -> Iterator[Entry]:
    """Regular files under root in sorted order, links not followed; UnreadableTree past
    a cap. Folders are opened relative to their parent's descriptor, so no path length
    limit hides anything, and at most max_depth descriptors are open."""
    try:
        root_fd = os.open(root, _DIR_FLAGS)
    except OSError:
        return
    # Each frame: a folder's descriptor, its path relative to root, its entries left.
    stack: list[tuple[int, Path, list[os.DirEntry[str]]]] = []
    seen = 0

    def push(fd: int, relative: Path) -> None:
        nonlocal seen
        with os.scandir(fd) as it:
            entries = sorted(it, key=lambda e: e.name, reverse=True)
        seen += len(entries)
        if seen > max_entries:
            os.close(fd)
            raise UnreadableTree(f"more than {max_entries} files and folders")
        stack.append((fd, relative, entries))

    try:
        push(root_fd, Path())
        while stack:
            fd, relative, entries = stack[-1]
            if not entries:
                os.close(fd)
                stack.pop()
                continue
            entry = entries.pop()
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if len(stack) >= max_depth:
                    raise UnreadableTree(f"folders nested deeper than {max_depth}")
                try:
                    child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                push(child, relative / entry.name)
            elif stat.S_ISREG(st.st_mode):
                yield Entry(root / relative / entry.name, relative / entry.name, st.st_size)
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def tree_bytes(root: Path) -> int:
    """Bytes of the regular files under root, for a watchdog: a tree past the depth or
    entry caps counts as unlimited (what it hides there cannot be counted cheaply)."""
    try:
        return sum(e.size for e in walk_files(root))
    except UnreadableTree:
        return sys.maxsize


def open_regular(path: Path, max_bytes: int) -> int | None:
    """A file descriptor of a regular file of at most max_bytes, else None: no links,
    FIFOs, devices or sockets (O_NONBLOCK: a FIFO cannot hold the open)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
        os.close(fd)
        return None
    return fd


def read_bytes(path: Path, max_bytes: int) -> bytes | None:
    """A regular file's bytes, at most max_bytes of them (a file still growing is cut)."""
    fd = open_regular(path, max_bytes)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as f:
        data = f.read(max_bytes + 1)
    return data if len(data) <= max_bytes else None


def read_text(path: Path, max_bytes: int) -> str | None:
    data = read_bytes(path, max_bytes)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def load_npy(path: Path, max_bytes: int) -> np.ndarray | None:
    """A plain numeric or string .npy: the header is read and checked (version, dtype, shape, and
    that the data the header claims is exactly what the file holds) before any array is
    allocated; no pickles, no object or structured dtypes."""
    data = read_bytes(path, max_bytes)
    if data is None:
        return None
    import io

    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            return None
    except (ValueError, OSError, EOFError, SyntaxError, TypeError):
        return None
    if dtype.kind not in "biufcUS" or dtype.hasobject or dtype.fields is not None:
        return None
    count = 1
    for n in shape:
        if not isinstance(n, int) or n < 0:
            return None
        count *= n
    offset = f.tell()
    if count * dtype.itemsize != len(data) - offset:
        return None
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return array.reshape(tuple(shape), order="F" if fortran else "C").copy(order="C")


def copy_tree(source: Path, dest: Path, skip: frozenset[str] = frozenset()) -> None:
    """Copy the regular files of an untrusted tree (a student's project) into dest,
    readable by the sandbox user: links, FIFOs and devices are left behind, and so is
    any folder or file named in skip (.git: metadata that tools would execute)."""
    for entry in walk_files(source):
        if skip & set(entry.relative.parts):
            continue
        fd = open_regular(entry.path, 1 << 40)
        if fd is None:
            continue
        target = dest / entry.relative
        for folder in reversed(target.parents[: len(entry.relative.parts) - 1]):
            folder.mkdir(exist_ok=True)
            folder.chmod(0o755)
        with os.fdopen(fd, "rb") as src, open(target, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        target.chmod(0o644)


def remove_tree(root: Path) -> None:
    """Delete a tree whatever its depth or path lengths, links removed, not followed.
    Folders deeper than a few levels are first moved up next to root (renameat), so
    neither recursion, PATH_MAX nor open descriptors limit it. Errors are ignored: what
    could not go is the caller's own scratch, left for the next clean-up."""
    parent = root.parent
    try:
        parent_fd = os.open(parent, _DIR_FLAGS)
    except OSError:
        return
    try:
        todo = [root.name]
        moved = 0
        while todo:
            name = todo.pop()
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=parent_fd)
                continue
            chain = [(fd, name)]  # descend up to SHALLOW levels, then move the rest up
            try:
                while chain:
                    here, _ = chain[-1]
                    with contextlib.suppress(OSError):
                        os.fchmod(here, 0o700)  # a folder the sandbox made read-only
                    descended = False
                    with os.scandir(here) as it:
                        entries = list(it)
                    for entry in entries:
                        if not entry.is_dir(follow_symlinks=False):
                            with contextlib.suppress(OSError):
                                os.unlink(entry.name, dir_fd=here)
                            continue
                        if len(chain) >= 8:
                            moved += 1
                            flat = f"{root.name}.deep-{moved}"
                            with contextlib.suppress(OSError):
                                os.rename(entry.name, flat, src_dir_fd=here, dst_dir_fd=parent_fd)
                                todo.append(flat)
                            continue
                        try:
                            child = os.open(entry.name, _DIR_FLAGS, dir_fd=here)
                        except OSError:
                            continue
                        chain.append((child, entry.name))
                        descended = True
                        break
                    if descended:
                        continue
                    done, done_name = chain.pop()
                    os.close(done)
                    with contextlib.suppress(OSError):
                        os.rmdir(done_name, dir_fd=chain[-1][0] if chain else parent_fd)
            finally:
                for leftover, _ in chain:
                    os.close(leftover)
    finally:
        os.close(parent_fd)
