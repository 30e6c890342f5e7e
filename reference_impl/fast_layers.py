"""Fast convolution and max-pooling in pure NumPy, same signatures as the naive layers.

Convolution forward is a strided window view of the padded input, copied once
into columns, and one BLAS matrix product. Backward is two matrix products and
col2im as K·K strided slice-adds (`np.add.at` is many times slower).
Max-pooling works on the K·K strided slices of each window position directly,
split over the batch across threads (set DLGRADER_REFERENCE_THREADS=1 to stay on one).
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import as_strided

from reference_impl.gates import Array
from reference_impl.layers import Cache, conv_output_size


def _pad(x: Array, pad: int) -> Array:
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x


def im2col(x: Array, HH: int, WW: int, stride: int, pad: int) -> Array:
    """Columns (C·HH·WW, N·H'·W'): column n·H'·W' + i·W' + j is the window at output (n, i, j)."""
    N, C, H, W = x.shape
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W, WW, stride, pad)
    xp = np.ascontiguousarray(_pad(x, pad))
    sN, sC, sH, sW = xp.strides
    windows = as_strided(
        xp,
        shape=(C, HH, WW, N, Ho, Wo),
        strides=(sC, sH, sW, sN, sH * stride, sW * stride),
        writeable=False,
    )
    return np.ascontiguousarray(windows).reshape(C * HH * WW, N * Ho * Wo)


def col2im(cols: Array, x_shape: tuple[int, ...], HH: int, WW: int, stride: int, pad: int) -> Array:
    """The adjoint of im2col: every column's entries added back where they came from."""
    N, C, H, W = x_shape
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W, WW, stride, pad)
    windows = cols.reshape(C, HH, WW, N, Ho, Wo)
    # Channels-first scratch so each slice-add reads one contiguous (C, N, H', W') block.
    dxp = np.zeros((C, N, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for i in range(HH):
        for j in range(WW):
            dxp[:, :, i : i + stride * Ho : stride, j : j + stride * Wo : stride] += windows[
                :, i, j
            ]
    return dxp[:, :, pad : pad + H, pad : pad + W].transpose(1, 0, 2, 3)


def conv_forward_fast(
    x: Array, w: Array, b: Array, conv_param: dict[str, int]
) -> tuple[Array, Cache]:
    """As `conv_forward_naive`; the cache is `(x, w, b, conv_param, x_cols)`."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W, WW, stride, pad)
    x_cols = im2col(x, HH, WW, stride, pad)
    out = (w.reshape(F, -1) @ x_cols).reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)
    out = out + b.reshape(1, F, 1, 1)
    return out, (x, w, b, conv_param, x_cols)


def conv_backward_fast(dout: Array, cache: Cache) -> tuple[Array, Array, Array]:
    x, w, _, conv_param, x_cols = cache
    F, _, HH, WW = w.shape
    dout_2d = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    dw = (dout_2d @ x_cols.T).reshape(w.shape)
    dx = col2im(
        w.reshape(F, -1).T @ dout_2d, x.shape, HH, WW, conv_param["stride"], conv_param["pad"]
    )
    return dx, dw, dout.sum(axis=(0, 2, 3))


def _window_slices(pool_param: dict[str, int], Ho: int, Wo: int) -> list[tuple[slice, slice]]:
    """The ph·pw strided slices of x, one per offset inside a window, in row-major order."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    return [
        (slice(i, i + stride * Ho, stride), slice(j, j + stride * Wo, stride))
        for i in range(ph)
        for j in range(pw)
    ]


def _batch_parallel(n: int, numel: int, work: Callable[[slice], None]) -> None:
    """Run `work` over slices of the batch in threads.

    NumPy's ufuncs release the GIL, so a large elementwise pass uses every core,
    as torch's kernels do; small inputs stay on one thread, where threads cost more.
    """
    threads = min(_THREADS, n)
    if threads < 2 or numel < 1 << 16:
        work(slice(0, n))
        return
    bounds = np.linspace(0, n, threads + 1).astype(int)
    list(_executor().map(work, [slice(lo, hi) for lo, hi in itertools.pairwise(bounds)]))


_THREADS = int(os.environ.get("DLGRADER_REFERENCE_THREADS", min(os.cpu_count() or 1, 8)))


@functools.cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_THREADS, thread_name_prefix="reference")


def max_pool_forward_fast(x: Array, pool_param: dict[str, int]) -> tuple[Array, Cache]:
    """As `max_pool_forward_naive`: the elementwise max of the window's ph·pw strided slices."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = conv_output_size(H, ph, stride, 0), conv_output_size(W, pw, stride, 0)
    first, *rest = _window_slices(pool_param, Ho, Wo)
    out = np.empty((N, C, Ho, Wo), dtype=x.dtype)

    def work(n: slice) -> None:
        np.copyto(out[n], x[n, :, first[0], first[1]])
        for rows, cols in rest:
            np.maximum(out[n], x[n, :, rows, cols], out=out[n])

    _batch_parallel(N, x.size, work)
    return out, (x, pool_param, out)


def max_pool_backward_fast(dout: Array, cache: Cache) -> Array:
    """Route each window's gradient to its first winner in row-major order, like the naive path.

    Slice k's winners are its elements equal to the window max that no earlier slice
    claimed; ties (all-zero windows after a ReLU, say) go to the first.
    """
    x, pool_param, out = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, _, Ho, Wo = out.shape
    # Windows that tile x exactly write every element once; otherwise some are never written
    # (stride > window) or written twice (stride < window) and dx must start at zero.
    tiles = stride == ph == pw and x.shape[2] == ph * Ho and x.shape[3] == pw * Wo
    dx = np.empty_like(x) if tiles else np.zeros_like(x)
    slices = _window_slices(pool_param, Ho, Wo)

    def work(n: slice) -> None:
        unclaimed = np.ones(out[n].shape, dtype=bool)
        wins = np.empty(out[n].shape, dtype=bool)
        for rows, cols in slices:
            np.equal(x[n, :, rows, cols], out[n], out=wins)
            wins &= unclaimed
            unclaimed ^= wins
            if tiles:
                np.multiply(wins, dout[n], out=dx[n, :, rows, cols])
            else:
                dx[n, :, rows, cols] += wins * dout[n]

    _batch_parallel(N, x.size, work)
    return dx


def pool_windows(x: Array, pool_param: dict[str, int]) -> Array:
    """(N, C, H', W', ph·pw): each max-pool window flattened (a copy)."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H, W = x.shape[2:]
    Ho, Wo = conv_output_size(H, ph, stride, 0), conv_output_size(W, pw, stride, 0)
    return np.stack([x[:, :, r, c] for r, c in _window_slices(pool_param, Ho, Wo)], axis=-1)
