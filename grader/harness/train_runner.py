"""The training harness: trains a student's model inside the sandbox, under a budget.

    python -I train_runner.py MANIFEST INPUTS_DIR SUBMISSION_DIR OUT_DIR

Standard library, NumPy and torch only. Reads the training data and the *images*
of the evaluation splits (their labels stay on the trusted side), imports the
student's `model.py`, calls `build_model()` and, when defined, their
`train(model, loaders, budget)`; otherwise trains with Adam and cross-entropy.
Seeds are pinned and deterministic algorithms requested. Writes each split's
predicted labels (`pred_<split>.npy`) and `meta.json` (parameters, training time,
epochs, device); the trusted side scores them.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

MAX_WEIGHT_FILES = 4096


def main(manifest_path: str, inputs_dir: str, submission_dir: str, out_dir: str) -> int:
    manifest = json.loads(Path(manifest_path).read_text())
    out = Path(out_dir)
    meta: dict[str, Any] = {"status": "started"}

    def write_meta() -> None:
        (out / "meta.json").write_text(json.dumps(meta))

    write_meta()
    try:
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        seed = int(manifest["seed"])
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        device = torch.device(
            "cuda" if manifest.get("use_gpu") and torch.cuda.is_available() else "cpu"
        )
        meta["device"] = str(device) if device.type == "cpu" else torch.cuda.get_device_name(device)

        with np.load(Path(inputs_dir) / "inputs.npz", allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
        train_set = TensorDataset(
            torch.from_numpy(data["train_x"]), torch.from_numpy(data["train_y"])
        )
        generator = torch.Generator().manual_seed(seed)
        loaders = {"train": DataLoader(train_set, batch_size=64, shuffle=True, generator=generator)}

        sys.path.insert(0, submission_dir)
        sys.dont_write_bytecode = True
        student = importlib.import_module("model")  # the student's model.py

        net = student.build_model()
        if not isinstance(net, torch.nn.Module):
            raise TypeError(f"build_model() returned {type(net).__name__}, not a torch.nn.Module")
        net = net.to(device)
        meta["params"] = int(sum(p.numel() for p in net.parameters() if p.requires_grad))
        budget = {
            "epochs": int(manifest["epochs"]),
            "seconds": float(manifest["seconds"]),
            "device": str(device),
        }
        start = time.monotonic()
        if hasattr(student, "train"):
            student.train(net, loaders, budget)
            meta["epochs"] = None
        else:
            meta["epochs"] = default_training(net, loaders["train"], budget, device, start)
        meta["train_time_s"] = round(time.monotonic() - start, 3)

        net.eval()
        with torch.no_grad():
            for split in manifest["splits"]:
                images = torch.from_numpy(data[f"{split}_x"]).to(device)
                logits = net(images)
                if logits.shape != (images.shape[0], 10):
                    raise ValueError(
                        f"the model's output has shape {tuple(logits.shape)}; "
                        f"expected ({images.shape[0]}, 10)"
                    )
                predicted = logits.argmax(dim=1).cpu().numpy().astype(np.int64)
                np.save(out / f"pred_{split}.npy", predicted, allow_pickle=False)
            # The trained weights as raw arrays: the trusted side counts the parameters.
            (out / "weights").mkdir(exist_ok=True)
            trainable = [p for p in net.parameters() if p.requires_grad]
            for i, param in enumerate(trainable[:MAX_WEIGHT_FILES]):
                array = param.detach().cpu().numpy()
                np.save(out / "weights" / f"{i}.npy", array, allow_pickle=False)
        meta["status"] = "ok"
    except BaseException as exc:  # the student's failure, reported; never judged here
        meta.update(
            status="error",
            type=type(exc).__name__,
            message=str(exc)[:2000],
            traceback=traceback.format_exc()[-3000:],
        )
    write_meta()
    return 0


def default_training(
    net: Any, loader: Any, budget: dict[str, Any], device: Any, start: float
) -> int:
    import torch

    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    epochs = 0
    for _ in range(budget["epochs"]):
        net.train()
        for images, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(net(images.to(device)), labels.to(device))
            loss.backward()
            optimizer.step()
        epochs += 1
        if time.monotonic() - start > budget["seconds"]:
            break
    return epochs


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main(*sys.argv[1:5]))
