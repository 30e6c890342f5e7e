"""One GPU per job slot: a worker owns the GPUs it is told about, and each of its
prefork children (one per GPU) sees exactly one of them."""

from __future__ import annotations

import os

from celery.signals import worker_process_init

_SLOTS: list[str] = []


def configure_gpu_slots(gpus: str) -> list[str]:
    """Parse '0,1' (or UUIDs); the worker then runs one child per GPU."""
    slots = [g.strip() for g in gpus.split(",") if g.strip()]
    if not slots:
        raise ValueError("--gpus needs at least one GPU id")
    _SLOTS[:] = slots
    return slots


def slot_gpu(index: int) -> str | None:
    return _SLOTS[index % len(_SLOTS)] if _SLOTS else None


@worker_process_init.connect
def _bind_child_to_gpu(**_: object) -> None:
    """Child k of the pool owns GPU k: its sandboxes get that device and no other."""
    from billiard.process import current_process

    gpu = slot_gpu(getattr(current_process(), "index", 0) or 0)
    if gpu is not None:
        os.environ["DLGRADER_GPU"] = gpu
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu


def assigned_gpu() -> str | None:
    """The GPU this process's jobs may use (None on a CPU worker)."""
    return os.environ.get("DLGRADER_GPU")
