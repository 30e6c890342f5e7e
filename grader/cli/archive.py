"""A folder zipped for upload, as the grader reads folders: every regular file under it,
in sorted order, links and tool folders left out, within the server's zip limits."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from grader.service.uploads import MAX_UNCOMPRESSED_BYTES, MAX_ZIP_MEMBERS

# Environments, caches and version control: never part of a submission.
SKIPPED = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".ipynb_checkpoints", ".venv", "venv", "env"}
    | {".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules", ".DS_Store"}
)


class ArchiveError(ValueError):
    """The folder cannot be uploaded as it is; the message says why."""


def folder_files(folder: Path) -> list[Path]:
    """The regular files that go into the zip, sorted, relative to folder."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):  # links to folders are not followed
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)
        for name in sorted(files):
            path = Path(root) / name
            if name not in SKIPPED and path.is_file() and not path.is_symlink():
                found.append(path.relative_to(folder))
    return sorted(found)


def zip_folder(
    folder: Path, max_files: int = MAX_ZIP_MEMBERS, max_bytes: int = MAX_UNCOMPRESSED_BYTES
) -> bytes:
    files = folder_files(folder)
    if not files:
        raise ArchiveError(f"{folder} holds no files")
    if len(files) > max_files:
        raise ArchiveError(
            f"{folder} holds {len(files)} files; a submission may have {max_files}: "
            "submit the folder with your code only"
        )
    total = sum((folder / f).stat().st_size for f in files)
    if total > max_bytes:
        raise ArchiveError(
            f"{folder} holds {total >> 20} MB; a submission may have {max_bytes >> 20} MB"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in files:
            zf.write(folder / rel, rel.as_posix())
    return buffer.getvalue()
