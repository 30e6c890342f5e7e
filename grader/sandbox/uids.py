"""One uid per running bubblewrap job (as root): RLIMIT_NPROC counts the processes of a
uid across the whole machine, so with one shared uid two fork bombs used up the limit of
every other job running beside them. A job leases a free uid from a pool through a lock
file (flock: released by the kernel when the holder dies, so a killed worker leaks none)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

UID_BASE = 1_990_000_000  # far above any account a distribution creates
SLOTS = 512
LOCKS = Path("/run/dlgrader-uids") if os.access("/run", os.W_OK) else Path("/tmp/dlgrader-uids")


class NoFreeUid(RuntimeError):
    """Every uid of the pool is in use: more jobs at once than SLOTS."""


@contextlib.contextmanager
def leased_uid() -> Iterator[int]:
    LOCKS.mkdir(mode=0o700, exist_ok=True)
    for slot in range(SLOTS):
        fd = os.open(LOCKS / f"{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield UID_BASE + slot
        finally:
            os.close(fd)  # releases the lock
        return
    raise NoFreeUid(f"all {SLOTS} sandbox uids are in use")
