"""The EvalAI harness: runs a challenge host's evaluate() on one submission, in the sandbox.

    python -I evalai_runner.py MANIFEST INPUTS_DIR SUBMISSION_DIR OUT_DIR

Standard library only (the host's script brings its own imports). The manifest names
the annotation file (in INPUTS_DIR) and the submission file (in SUBMISSION_DIR), both
read-only, the phase codename and
the submission's metadata. Imports the bundle's `evaluation_script` package from
INPUTS_DIR, calls `evaluate(annotation, submission, phase_codename,
submission_metadata=...)` and writes its raw return value to `result.json` (NaN and
infinities as JSON's NaN/Infinity, numpy scalars as numbers, anything else as its repr),
and `status.json`: started (at the stage `import`, then `evaluate`), then ok or the
exception's type, stage and traceback, and the first address the script tried to reach
(there is no network in the sandbox): a failure while importing the package, or after
reaching for the network, is the host's, whatever the submission. stdout and
stderr go where the sandbox captures them. The trusted side judges all of it.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

MAX_RESULT_CHARS = 4 << 20


def _plain(value: Any) -> Any:
    """What json cannot write as such: numpy scalars and arrays by value, else a repr."""
    for attr in ("item", "tolist"):  # numpy scalars, then arrays
        method = getattr(value, attr, None)
        if callable(method):
            try:
                return method()
            except Exception:
                pass
    return repr(value)[:1000]


def _watch_network(reached: list[str]) -> None:
    """Note the first address the host's code tries to reach (a download of models or data,
    a pip install): an audit hook, since the script may use any library to do it."""

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if reached:
            return
        if event == "socket.getaddrinfo":
            reached.append(f"{str(args[0])[:200]}:{args[1]}")
        elif event == "socket.connect":
            reached.append(str(args[1])[:200])

    sys.addaudithook(hook)


def main(manifest_path: str, inputs_dir: str, submission_dir: str, out_dir: str) -> int:
    manifest = json.loads(Path(manifest_path).read_text())
    reached: list[str] = []
    _watch_network(reached)
    out = Path(out_dir)

    def write_status(status: dict[str, Any]) -> None:
        (out / "status.json").write_text(json.dumps(status))

    write_status({"status": "started", "stage": "import"})
    start = time.monotonic()
    stage = "import"  # the host's package alone: no submission has been read yet
    try:
        sys.path.insert(0, inputs_dir)
        sys.dont_write_bytecode = True
        import evaluation_script  # type: ignore[import-not-found]  # the host's package

        evaluate = evaluation_script.evaluate
        stage = "evaluate"
        write_status({"status": "started", "stage": stage})
        returned = evaluate(
            str(Path(inputs_dir) / manifest["annotation"]),
            str(Path(submission_dir) / manifest["submission"]),
            manifest["phase"],
            submission_metadata=manifest.get("metadata", {}),
        )
        elapsed = time.monotonic() - start
        text = json.dumps(returned, default=_plain, allow_nan=True)
        if len(text) > MAX_RESULT_CHARS:
            raise ValueError(f"evaluate() returned {len(text)} characters of JSON")
        (out / "result.json").write_text(text)
        write_status({"status": "ok", "seconds": round(elapsed, 3)})
    except BaseException as exc:  # the evaluation's failure, reported; judged outside
        trace = traceback.format_exc()
        sys.stderr.write(trace)
        write_status(
            {
                "status": "error",
                "type": type(exc).__name__,
                "stage": stage,
                "network": reached[0] if reached else "",
                "traceback": trace[-8000:],
                "seconds": round(time.monotonic() - start, 3),
            }
        )
    sys.stdout.flush()
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main(*sys.argv[1:5]))
