"""The harness: the only code that runs beside a student's, inside the sandbox.

    python -I -S runner.py MANIFEST INPUTS_DIR SUBMISSION_DIR OUT_DIR

It imports nothing of dlgrader (the sandbox does not even contain it), only the
standard library and NumPy. It reads a JSON manifest of calls, calls the
student's functions on copies of the input arrays, keeps caches and objects in
its own memory between calls, and writes raw outputs as `.npy` files plus one
JSON status line per call. It judges nothing: the trusted side compares the
arrays with the reference and decides every score.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

MAX_MESSAGE = 2000


class CallTimeout(BaseException):
    """Raised by the per-call alarm; a BaseException so `except Exception` cannot swallow it."""


def _on_alarm(signum: int, frame: object) -> None:
    raise CallTimeout


def describe(value: Any) -> dict[str, Any]:
    import numpy as np

    info: dict[str, Any] = {"type": f"{type(value).__module__}.{type(value).__qualname__}"}
    if isinstance(value, np.ndarray):
        info.update(dtype=str(value.dtype), shape=list(value.shape))
    return info


def to_plain_array(value: Any) -> Any:
    """An exact float/int ndarray or a real scalar, else None: no subclasses, objects or lists."""
    import numpy as np

    if type(value) is np.ndarray and value.dtype.kind in "fiub":
        return np.array(value, copy=True)
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, bool):
        return np.array(value)
    return None


def resolve(arg: dict[str, Any], arrays: dict[str, Any], kept: dict[str, Any]) -> Any:
    if "array" in arg:
        return arrays[arg["array"]].copy()
    if "value" in arg:
        return json.loads(json.dumps(arg["value"]))  # a fresh copy of plain JSON
    if "kept" in arg:
        return kept[arg["kept"]]
    if "dict" in arg:
        return {k: resolve(v, arrays, kept) for k, v in arg["dict"].items()}
    raise ValueError(f"bad argument spec {arg!r}")


def trimmed_traceback(exc: BaseException, submission: str) -> str:
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(submission)
    ]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-MAX_MESSAGE:]


def main(manifest_path: str, inputs_dir: str, submission_dir: str, out_dir: str) -> int:
    import numpy as np

    manifest = json.loads(Path(manifest_path).read_text())
    out = Path(out_dir)
    status_file = open(out / "status.jsonl", "w")  # noqa: SIM115 - written line by line
    sink = io.StringIO()

    def report(entry: dict[str, Any]) -> None:
        status_file.write(json.dumps(entry) + "\n")
        status_file.flush()

    report({"id": "__start__", "status": "ok"})  # from here on, an early end is the student's
    arrays = {
        p.stem: np.load(p, allow_pickle=False) for p in sorted(Path(inputs_dir).glob("*.npy"))
    }
    sys.path.insert(0, submission_dir)
    sys.dont_write_bytecode = True
    signal.signal(signal.SIGALRM, _on_alarm)

    module: Any = None
    import_error: dict[str, Any] | None = None
    try:
        signal.setitimer(signal.ITIMER_REAL, manifest.get("import_timeout_s", 10))
        module = importlib.import_module(manifest["module"])
    except CallTimeout:
        import_error = {"status": "timeout", "message": "importing your module took too long"}
    except SystemExit as exc:
        import_error = {
            "status": "exception",
            "type": "SystemExit",
            "message": f"your module called sys.exit({exc.code!r}) while being imported",
        }
    except BaseException as exc:
        import_error = {
            "status": "exception",
            "type": type(exc).__name__,
            "message": str(exc)[:MAX_MESSAGE],
            "traceback": trimmed_traceback(exc, submission_dir),
        }
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    report({"id": "__import__", **(import_error or {"status": "ok"})})
    if module is None:
        return 0

    kept: dict[str, Any] = {}
    for call in manifest["calls"]:
        entry: dict[str, Any] = {"id": call["id"]}
        target = getattr(module, call["function"], None) if "function" in call else None
        if "function" in call and target is None:
            report({**entry, "status": "missing", "message": f"{call['function']} is not defined"})
            continue
        if "object" in call:
            obj = kept.get(call["object"])
            target = getattr(obj, call["method"], None) if obj is not None else None
            if target is None:
                report(
                    {
                        **entry,
                        "status": "missing",
                        "message": f"no method {call['method']!r} on {call['object']}",
                    }
                )
                continue
        assert target is not None
        try:
            args = [resolve(a, arrays, kept) for a in call["args"]]
        except KeyError as exc:  # a kept cache from a call that failed
            report({**entry, "status": "not_run", "message": f"needs {exc} from an earlier call"})
            continue
        originals = [(i, a.copy()) for i, a in enumerate(args) if isinstance(a, np.ndarray)]
        stdout, stderr = sys.stdout, sys.stderr
        try:
            sys.stdout = sys.stderr = sink  # student prints never reach our streams
            signal.setitimer(signal.ITIMER_REAL, call.get("timeout_s", 10))
            result = target(*args)
            signal.setitimer(signal.ITIMER_REAL, 0)
        except CallTimeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = stdout, stderr
            report(
                {
                    **entry,
                    "status": "timeout",
                    "message": f"took longer than {call.get('timeout_s', 10)} s",
                }
            )
            continue
        except BaseException as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = stdout, stderr
            report(
                {
                    **entry,
                    "status": "exception",
                    "type": type(exc).__name__,
                    "message": str(exc)[:MAX_MESSAGE],
                    "traceback": trimmed_traceback(exc, submission_dir),
                }
            )
            continue
        finally:
            sys.stdout, sys.stderr = stdout, stderr
            sink.seek(0)
            sink.truncate()
        entry["mutated"] = [
            i
            for i, before in originals
            if not (
                isinstance(args[i], np.ndarray)
                and args[i].shape == before.shape
                and np.array_equal(args[i], before, equal_nan=True)
            )
        ]
        unpack = call.get("unpack")
        if unpack is not None:
            if not isinstance(result, (tuple, list)) or len(result) != unpack:
                report(
                    {
                        **entry,
                        "status": "bad_return",
                        "returned": describe(result),
                        "message": f"expected a tuple of {unpack} values",
                    }
                )
                continue
            parts = list(result)
        else:
            parts = [result]
        if "keep" in call:
            kept[call["keep"]] = parts[call.get("keep_index", 0)] if unpack is not None else result
        outputs: dict[str, Any] = {}
        for index in call.get("record", []):
            value = parts[index]
            plain = to_plain_array(value)
            outputs[str(index)] = describe(value)
            if plain is not None:
                np.save(out / f"{call['id']}.{index}.npy", plain, allow_pickle=False)
                outputs[str(index)]["saved"] = True
        for name, key in call.get("record_dict", {}).items():  # e.g. bn_param's running stats
            arg = args[key[0]]
            value = arg.get(key[1]) if isinstance(arg, dict) else None
            plain = to_plain_array(value)
            outputs[name] = describe(value)
            if plain is not None:
                np.save(out / f"{call['id']}.{name}.npy", plain, allow_pickle=False)
                outputs[name]["saved"] = True
        report({**entry, "status": "ok", "outputs": outputs})
    status_file.close()
    return 0


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main(*sys.argv[1:5]))
