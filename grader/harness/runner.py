"""The harness: the only code that runs beside a student's, inside the sandbox.

    python -I -S runner.py MANIFEST INPUTS_DIR SUBMISSION_DIR OUT_DIR

It imports nothing of dlgrader (the sandbox does not even contain it), only the
standard library and NumPy. It reads a JSON manifest of calls, calls the
student's functions on copies of the input arrays (reseeding NumPy and `random`
before each), keeps caches and objects in its own memory between calls, and
writes raw outputs as `.npy` files plus one JSON status line per call. It
judges nothing: the trusted side compares the arrays with the reference and
decides every score.

A call in the manifest:
    {"id": "relu.0.f", "function": "relu_forward" | "class": "MaxGate"
                       | "object": "<kept name>", "method": "backward",
     "args": [{"array": name} | {"value": json} | {"kept": name} | {"dict": {k: arg}}],
     "unpack": n, "keep": name, "keep_index": i, "record": [i, ...],
     "record_dict": {name: [arg_index, key]}, "record_keys": [key, ...], "lists": bool,
     "seed": n, "timeout_s": s}
"""

from __future__ import annotations

import importlib
import io
import json
import os
import random
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

MAX_MESSAGE = 2000


class CallTimeout(BaseException):
    """Raised by the per-call alarm; a BaseException so `except Exception` cannot swallow it."""


def _on_alarm(signum: int, frame: object) -> None:
    raise CallTimeout


def describe(value: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"type": f"{type(value).__module__}.{type(value).__qualname__}"}
    if isinstance(value, np.ndarray):
        info.update(dtype=str(value.dtype), shape=list(value.shape))
    return info


def to_plain_array(value: Any, lists: bool = False) -> np.ndarray | None:
    """An exact numeric ndarray or a real scalar, else None: no subclasses, objects, lists.

    With `lists`, a flat list or tuple of real numbers or of strings is accepted too
    (orders, indices, node names).
    """
    if type(value) is np.ndarray and value.dtype.kind in ("fiubU" if lists else "fiub"):
        return np.array(value, copy=True)
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, bool):
        return np.array(value)
    if lists and isinstance(value, (list, tuple)):
        numbers = all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in value
        )
        if numbers or all(isinstance(v, str) for v in value):
            return np.array(value)
    return None


def resolve(arg: dict[str, Any], arrays: dict[str, np.ndarray], kept: dict[str, Any]) -> Any:
    if "array" in arg:
        return arrays[arg["array"]].copy()
    if "value" in arg:
        return json.loads(json.dumps(arg["value"]))  # a fresh copy of plain JSON
    if "kept" in arg:
        return kept[arg["kept"]]
    if "dict" in arg:
        return {k: resolve(v, arrays, kept) for k, v in arg["dict"].items()}
    if "list" in arg:
        return [resolve(v, arrays, kept) for v in arg["list"]]
    raise ValueError(f"bad argument spec {arg!r}")


def trimmed_traceback(exc: BaseException, submission: str) -> str:
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(submission)
    ]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-MAX_MESSAGE:]


def failure(exc: BaseException, submission: str) -> dict[str, Any]:
    return {
        "status": "exception",
        "type": type(exc).__name__,
        "message": str(exc)[:MAX_MESSAGE],
        "traceback": trimmed_traceback(exc, submission),
    }


class Harness:
    def __init__(self, manifest: dict[str, Any], inputs: Path, submission: str, out: Path) -> None:
        self.manifest = manifest
        self.submission = submission
        self.out = out
        self.status = open(out / "status.jsonl", "w")  # noqa: SIM115 - written line by line
        self.sink = io.StringIO()
        self.kept: dict[str, Any] = {}
        self.arrays: dict[str, np.ndarray] = {}
        self.modules: dict[str, Any] = {}  # the assignment's other modules, by name
        self.broken: dict[str, dict[str, Any]] = {}  # those whose import failed
        self.inputs = inputs

    def report(self, entry: dict[str, Any]) -> None:
        self.status.write(json.dumps(entry) + "\n")
        self.status.flush()

    def guarded(self, fn: Any, args: list[Any], timeout_s: float) -> Any:
        """Call student code with its prints swallowed and an alarm set."""
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = self.sink  # student prints never reach our streams
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = stdout, stderr
            self.sink.seek(0)
            self.sink.truncate()

    def import_module(self) -> Any:
        if self.submission not in sys.path:
            sys.path.insert(0, self.submission)
        sys.dont_write_bytecode = True
        name = self.manifest["module"]
        try:
            module = self.guarded(
                importlib.import_module, [name], self.manifest.get("import_timeout_s", 10)
            )
        except CallTimeout:
            self.report(
                {
                    "id": "__import__",
                    "status": "timeout",
                    "message": "importing your module took too long",
                }
            )
            return None
        except SystemExit as exc:
            self.report(
                {
                    "id": "__import__",
                    "status": "exception",
                    "type": "SystemExit",
                    "message": f"your module called sys.exit({exc.code!r}) while being imported",
                }
            )
            return None
        except BaseException as exc:  # any failure of student code is reported, never raised
            self.report({"id": "__import__", **failure(exc, self.submission)})
            return None
        self.report({"id": "__import__", "status": "ok"})
        for name in self.manifest.get("also", []):  # optim.py beside layers.py, say
            if (Path(self.submission) / f"{name}.py").is_file():
                try:
                    self.modules[name] = self.guarded(importlib.import_module, [name], 10)
                except BaseException as exc:  # its functions' calls report it
                    self.broken[name] = failure(exc, self.submission)
        return module

    def target(self, module: Any, call: dict[str, Any]) -> tuple[Any, str | None]:
        if "function" in call or "class" in call:
            name = call.get("function") or call["class"]
            home = self.modules.get(call.get("module", ""))  # its own module first
            fn = getattr(home, name, None) if home is not None else None
            fn = fn if fn is not None else getattr(module, name, None)
            return fn, None if fn is not None else f"{name} is not defined"
        obj = self.kept.get(call["object"])
        if obj is None:
            return None, f"needs {call['object']}, which an earlier call did not make"
        fn = getattr(obj, call["method"], None)
        return (
            fn,
            None if fn is not None else f"{type(obj).__name__} has no method {call['method']!r}",
        )

    def record(self, call: dict[str, Any], parts: list[Any], args: list[Any]) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        wanted = [(str(i), parts[i]) for i in call.get("record", []) if i < len(parts)]
        for key in call.get("record_keys", []):  # entries of a returned dict
            result = parts[0] if parts else None
            wanted.append((key, result.get(key) if isinstance(result, dict) else None))
        for name, (arg_index, key) in call.get("record_dict", {}).items():
            arg = args[arg_index] if arg_index < len(args) else None
            wanted.append((name, arg.get(key) if isinstance(arg, dict) else None))
        for name, value in wanted:
            outputs[name] = describe(value)
            plain = to_plain_array(value, call.get("lists", False))
            if plain is not None:
                np.save(self.out / f"{call['id']}.{name}.npy", plain, allow_pickle=False)
                outputs[name]["saved"] = True
        return outputs

    def run_torch_module(self, module: Any, call: dict[str, Any]) -> dict[str, Any]:
        """A student's torch.nn.Module, given the reference's parameters: its output, and the
        gradients of its input and parameters for the given upstream gradient."""
        import torch

        name = call["torch_module"]
        cls = getattr(module, name, None)
        if cls is None:
            return {"status": "missing", "message": f"{name} is not defined"}
        timeout = call.get("timeout_s", 10)
        torch.manual_seed(call.get("seed", 0))
        try:
            layer = self.guarded(lambda: cls(**call["init"]), [], timeout)
            if not isinstance(layer, torch.nn.Module):
                return {
                    "status": "bad_return",
                    "returned": describe(layer),
                    "message": f"{name}(...) is not a torch.nn.Module",
                }
            wants_gpu = call.get("device") == "cuda" and torch.cuda.is_available()
            device = torch.device("cuda" if wants_gpu else "cpu")
            layer = layer.to(device=device, dtype=torch.float64)
            params = dict(layer.named_parameters())
            for pname, array in call.get("parameters", {}).items():
                if pname not in params:
                    return {
                        "status": "exception",
                        "type": "AttributeError",
                        "message": f"{name} has no parameter {pname!r} "
                        f"(it has {', '.join(params) or 'none'})",
                    }
                value = torch.from_numpy(self.arrays[array].copy()).to(device)
                if tuple(params[pname].shape) != tuple(value.shape):
                    return {
                        "status": "exception",
                        "type": "ValueError",
                        "message": f"{name}.{pname} has shape {tuple(params[pname].shape)}, "
                        f"expected {tuple(value.shape)}",
                    }
                with torch.no_grad():
                    params[pname].copy_(value)
            x = torch.from_numpy(self.arrays[call["input"]].copy()).to(device).requires_grad_()
            dout = torch.from_numpy(self.arrays[call["dout"]].copy()).to(device)

            def forward_backward() -> Any:
                out = layer(x)
                out.backward(dout)
                return out

            out = self.guarded(forward_backward, [], timeout)
        except CallTimeout:
            return {"status": "timeout", "message": f"took longer than {timeout:g} s"}
        except BaseException as exc:
            return failure(exc, self.submission)
        tensors = {
            "0": out,
            "dx": x.grad,
            **{f"d{p}": params[p].grad for p in call.get("parameters", {})},
        }
        outputs: dict[str, Any] = {"device": str(device)}
        for key, tensor in tensors.items():
            outputs[key] = {"type": type(tensor).__name__}
            if isinstance(tensor, torch.Tensor):
                array = tensor.detach().cpu().numpy()
                np.save(self.out / f"{call['id']}.{key}.npy", array, allow_pickle=False)
                outputs[key]["saved"] = True
        return {"status": "ok", "outputs": outputs}

    def run_call(self, module: Any, call: dict[str, Any]) -> dict[str, Any]:
        if "torch_module" in call:
            return self.run_torch_module(module, call)
        fn, missing = self.target(module, call)
        if fn is None and call.get("module") in self.broken:
            return self.broken[call["module"]]
        if fn is None:
            return {"status": "missing" if "object" not in call else "not_run", "message": missing}
        try:
            args = [resolve(a, self.arrays, self.kept) for a in call["args"]]
        except KeyError as exc:  # a kept cache from a call that failed
            return {"status": "not_run", "message": f"needs {exc} from an earlier call"}
        seed = call.get("seed", 0)
        np.random.seed(seed)
        random.seed(seed)
        timeout = call.get("timeout_s", 10)
        try:
            result = self.guarded(fn, args, timeout)
        except CallTimeout:
            return {"status": "timeout", "message": f"took longer than {timeout:g} s"}
        except BaseException as exc:
            return failure(exc, self.submission)
        # The array arguments as the call left them: the trusted side compares them with
        # what it sent (an in-place change), not this process, whose NumPy is the student's.
        for i, arg in enumerate(call["args"]):
            if "array" in arg:
                after = to_plain_array(args[i])
                if after is not None:
                    np.save(self.out / f"{call['id']}.arg{i}.npy", after, allow_pickle=False)
        entry: dict[str, Any] = {}
        unpack = call.get("unpack")
        if unpack is not None and (not isinstance(result, (tuple, list)) or len(result) != unpack):
            return {
                **entry,
                "status": "bad_return",
                "returned": describe(result),
                "message": f"expected a tuple of {unpack} values",
            }
        parts = list(result) if unpack is not None else [result]
        if "keep" in call:
            self.kept[call["keep"]] = parts[call.get("keep_index", 0)]
        for name, index in call.get("keep_also", []):  # a staff solution's chained steps
            self.kept[name] = parts[index]
        return {**entry, "status": "ok", "outputs": self.record(call, parts, args)}

    def run(self) -> None:
        # From here on, an early end is the student's. The versions let the trusted side
        # say which NumPy ran when code written for another one fails.
        runtime = {"python": sys.version.split()[0], "numpy": np.__version__}
        self.report({"id": "__start__", "status": "ok", **runtime})
        if not self.arrays:  # a batch hands every mutant the arrays it loaded once
            with np.load(self.inputs / "inputs.npz", allow_pickle=False) as npz:
                self.arrays = {name: npz[name] for name in npz.files}
        signal.signal(signal.SIGALRM, _on_alarm)
        module = self.import_module()
        if module is None:
            return
        for call in self.manifest["calls"]:
            self.report({"id": call["id"], **self.run_call(module, call)})
        self.status.close()


def main(manifest_path: str, inputs_dir: str, submission_dir: str, out_dir: str) -> int:
    manifest = json.loads(Path(manifest_path).read_text())
    if "mutants" in manifest:  # `dlgrader assignment check`: many modules, one process
        with np.load(Path(inputs_dir) / "inputs.npz", allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        for mutant in manifest["mutants"]:
            out = Path(out_dir) / mutant["module"]
            out.mkdir()
            calls = [manifest["calls"][i] for i in mutant["calls"]]
            job = {**manifest, "module": mutant["module"], "calls": calls}
            harness = Harness(job, Path(inputs_dir), submission_dir, out)
            harness.arrays = arrays  # read-only for the calls: each gets its own copies
            harness.run()
        return 0
    Harness(manifest, Path(inputs_dir), submission_dir, Path(out_dir)).run()
    return 0


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main(*sys.argv[1:5]))
