"""Uploads, stored content-addressed by sha256 and never unpacked or imported here."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path


class StorageFull(Exception):
    """The data folder is (almost) full: the upload is refused, nothing stored is touched."""


class BlobStore:
    def __init__(self, root: Path, min_free_bytes: int = 0) -> None:
        self.root = root
        # Kept free for the database, results and logs that share the disk.
        self.min_free_bytes = min_free_bytes

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store data once; returns its sha256. Written to a temp file, then renamed."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        self.root.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(self.root).free - len(data) < self.min_free_bytes:
            raise StorageFull(f"less than {self.min_free_bytes} bytes would stay free")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(str(exc)) from exc
            raise
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(str(exc)) from exc
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def has(self, sha256: str) -> bool:
        return self.path(sha256).exists()
