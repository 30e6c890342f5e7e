"""Checks on an upload before anything is stored: type, size, and for a zip its
members (path traversal, absolute paths, symlinks, file count, uncompressed size
and compression ratio). The zip is inspected, never extracted, here."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path, PurePosixPath

from submissions_schema import SubmissionPolicy

MAX_ZIP_MEMBERS = 200
MAX_UNCOMPRESSED_BYTES = 50 << 20
MAX_RATIO = 100


class UploadRejected(ValueError):
    """Refused before storing; `code` is stable, the message is for the student."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_upload(file_name: str, data: bytes, policy: SubmissionPolicy, module: str) -> None:
    suffix = PurePosixPath(file_name).suffix.lower()
    if not data:
        raise UploadRejected("empty_upload", "the upload is empty")
    if len(data) > policy.max_upload_bytes:
        raise UploadRejected(
            "upload_too_large",
            f"the upload is {len(data)} bytes; the limit is {policy.max_upload_bytes}",
        )
    if suffix not in policy.file_types:
        raise UploadRejected(
            "wrong_file_type",
            f"{suffix or 'no extension'} is not accepted; send {' or '.join(policy.file_types)}",
        )
    if suffix == ".zip":
        check_zip(data, module)
    elif suffix == ".py" and b"\x00" in data:
        raise UploadRejected("not_source", "the .py file contains NUL bytes: not Python source")


def check_zip(data: bytes, module: str | None) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise UploadRejected("bad_zip", "not a valid zip file") from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UploadRejected(
            "zip_too_many_files", f"the zip holds {len(infos)} entries; at most {MAX_ZIP_MEMBERS}"
        )
    total = 0
    for info in infos:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or info.filename.startswith(("/", "\\")) or ":" in path.parts[0]:
            raise UploadRejected(
                "zip_absolute_path", f"{info.filename}: absolute paths are refused"
            )
        if ".." in path.parts:
            raise UploadRejected(
                "zip_path_traversal", f"{info.filename}: '..' in a path is refused"
            )
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UploadRejected("zip_symlink", f"{info.filename}: symbolic links are refused")
        if info.file_size > MAX_UNCOMPRESSED_BYTES:
            raise UploadRejected("zip_bomb", f"{info.filename} unpacks to {info.file_size} bytes")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise UploadRejected(
                "zip_bomb",
                f"{info.filename} is compressed {info.file_size // info.compress_size}:1",
            )
        total += info.file_size
    if total > MAX_UNCOMPRESSED_BYTES:
        raise UploadRejected(
            "zip_bomb", f"the zip unpacks to {total} bytes; at most {MAX_UNCOMPRESSED_BYTES}"
        )
    if module is not None and not any(
        PurePosixPath(i.filename).name == f"{module}.py" for i in infos
    ):
        raise UploadRejected("missing_module", f"the zip holds no {module}.py")


def check_project_zip(data: bytes, max_bytes: int) -> bytes:
    """A reproducibility project: a safe zip with claims.yaml at its root (or one folder down).
    Returns claims.yaml's bytes, read without extracting anything."""
    if not data:
        raise UploadRejected("empty_upload", "the upload is empty")
    if len(data) > max_bytes:
        raise UploadRejected("upload_too_large", f"a project zip may be {max_bytes >> 20} MB")
    check_zip(data, module=None)
    zf = zipfile.ZipFile(io.BytesIO(data))
    names = [
        n
        for n in zf.namelist()
        if PurePosixPath(n).name == "claims.yaml" and len(PurePosixPath(n).parts) <= 2
    ]
    if not names:
        raise UploadRejected("missing_claims", "the zip holds no claims.yaml (at its root)")
    return zf.read(sorted(names, key=len)[0])


def extract_zip(data: bytes, dest: Path, marker: str = "claims.yaml") -> Path:
    """Unpack a zip that check_zip accepted, checking every path again and leaving out
    version-control folders; returns the folder holding `marker` nearest the top (a
    project's claims.yaml, an assignment's assignment.yaml), else dest."""
    check_zip(data, module=None)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if {".git", ".hg", ".svn"} & set(PurePosixPath(info.filename).parts):
                continue  # version-control metadata: tools would execute its config
            target = (dest / info.filename).resolve()
            if not target.is_relative_to(dest.resolve()):
                raise UploadRejected("zip_path_traversal", f"{info.filename} leaves the project")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(target, "wb") as out:
                out.write(source.read(MAX_UNCOMPRESSED_BYTES + 1))
    holders = sorted(dest.rglob(marker), key=lambda p: len(p.parts))
    return holders[0].parent if holders else dest
