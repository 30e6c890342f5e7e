"""NumPy fast conv and max-pool against torch's CPU kernels, float64, side by side.

    python bench/reference_conv.py [--repeats 30]

NumPy and torch run on the same inputs (forward + backward) in alternating
blocks of one process, so both see the same machine; the ratio is of the medians.
Target: NumPy at most 1.2× torch for x = (64, 16, 32, 32), w = (32, 16, 3, 3),
stride 1, pad 1, and for 2×2 stride-2 max-pooling of the same x.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from reference_impl import fast_layers as FL

TARGET = 1.2


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def side_by_side(
    numpy_fn: Callable[[], object], torch_fn: Callable[[], object], repeats: int, blocks: int
) -> tuple[list[float], list[float]]:
    """Seconds of each call, timed in alternating blocks.

    Blocks rather than single calls: torch's OpenMP threads spin for a while after
    a kernel and would steal the cores from the NumPy call that follows; a pause
    lets them sleep before the other side runs. Many blocks spread the noise of a
    shared machine over both sides alike.
    """
    times: dict[str, list[float]] = {"numpy": [], "torch": []}
    per_block = max(1, repeats // blocks)
    for _ in range(blocks):
        for name, fn in (("numpy", numpy_fn), ("torch", torch_fn)):
            fn()  # warm caches, thread pools and allocators
            times[name] += [seconds(fn) for _ in range(per_block)]
            time.sleep(0.2)
    return times["numpy"], times["torch"]


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(xs, n=4)
    return q1, q2, q3


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=120)
    parser.add_argument("--blocks", type=int, default=12)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16, 32, 32))
    w = rng.standard_normal((32, 16, 3, 3))
    b = rng.standard_normal(32)
    conv_param = {"stride": 1, "pad": 1}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    dout_conv = rng.standard_normal((64, 32, 32, 32))
    dout_pool = rng.standard_normal((64, 16, 16, 16))

    def numpy_conv() -> object:
        _, cache = FL.conv_forward_fast(x, w, b, conv_param)
        return FL.conv_backward_fast(dout_conv, cache)

    def numpy_pool() -> object:
        _, cache = FL.max_pool_forward_fast(x, pool_param)
        return FL.max_pool_backward_fast(dout_pool, cache)

    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    dct, dpt = torch.tensor(dout_conv), torch.tensor(dout_pool)

    def torch_conv() -> object:
        out = torch.nn.functional.conv2d(xt, wt, bt, stride=1, padding=1)
        return torch.autograd.grad(out, (xt, wt, bt), dct)

    def torch_pool() -> object:
        out = torch.nn.functional.max_pool2d(xt, 2, 2)
        return torch.autograd.grad(out, (xt,), dpt)

    print(
        f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"float64, forward + backward, median of {args.repeats} calls each "
        f"in {args.blocks} alternating blocks"
    )
    print(f"{'op':<38}{'numpy ms':>10}{'torch ms':>10}{'ratio':>8}  target <= {TARGET}x")
    for name, np_fn, t_fn in (
        ("conv (64,16,32,32)*(32,16,3,3) s1 p1", numpy_conv, torch_conv),
        ("max-pool 2x2 s2 (64,16,32,32)", numpy_pool, torch_pool),
    ):
        np_times, t_times = side_by_side(np_fn, t_fn, args.repeats, args.blocks)
        (n1, n2, n3), (t1, t2, t3) = quartiles(np_times), quartiles(t_times)
        ratio = n2 / t2
        verdict = "ok" if ratio <= TARGET else "OVER TARGET"
        print(
            f"{name:<38}{n2 * 1e3:>10.2f}{t2 * 1e3:>10.2f}{ratio:>8.2f}  {verdict}"
            f"   (quartiles ms: numpy {n1 * 1e3:.2f}-{n3 * 1e3:.2f}, "
            f"torch {t1 * 1e3:.2f}-{t3 * 1e3:.2f})"
        )


if __name__ == "__main__":
    main()
