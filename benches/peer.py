"""The Python peer of `meanfield bench`: one gd step of the same network in NumPy, timed the same way.

The peer the performance issue measured against ("NumPy with OpenBLAS, particles in chunks over a
2-thread pool, pre-activations stored"): the particles are cut into chunks, each chunk's work is a
task of a pool of `--threads` Python threads (NumPy releases the GIL inside BLAS and its loops; BLAS
itself runs on one thread per task), and the pre-activations Z = U X^T of the forward pass are kept
for the next step's gradient, so a step has two GEMM-shaped products of 2 n m d flops:

    r_i    = l'(y_i, F_i) / n                            (logistic loss, F from the last step)
    dL/dw  = relu(Z) r + 2 lambda w                      (docs/math.md, section The objective)
    dL/du  = w (1[Z > 0] r) X + 2 lambda u
    theta <- theta - eta dL/dtheta                       (one gd step)
    Z      = U X^T,  F = (1/m) relu(Z)^T w               (the forward pass of the new cloud)

Usage (prints one JSON line like `meanfield bench --json`, with `gflops` = 4 n m d per step):

    OPENBLAS_NUM_THREADS=1 python3 benches/peer.py --m 100000 --n 2000 --d 20 --dtype f32 --steps 5
    OPENBLAS_NUM_THREADS=2 python3 benches/peer.py --peak --dtype f32   # NumPy's GEMM at 2000^3

`--peak` times C = A B at 2000^3 on the BLAS threads OPENBLAS_NUM_THREADS sets (NumPy's own GEMM).
Needs only NumPy; the binary never runs Python.
"""

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def peak(dtype, repeats=3):
    """GFLOP/s of NumPy's GEMM at 2000^3 (the best of `repeats`), on the BLAS threads the
    environment sets (OPENBLAS_NUM_THREADS)."""
    size = 2000
    rng = np.random.default_rng(1)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def step_time(m, n, d, dtype, steps, threads, chunk, eta=0.1, lam=1e-3):
    """Seconds per gd step (the mean of `steps` steps after one untimed step)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, d)).astype(dtype)
    y = np.where(rng.standard_normal(n) > 0, 1.0, -1.0).astype(dtype)
    w = rng.standard_normal(m).astype(dtype)
    u = rng.standard_normal((m, d)).astype(dtype)
    z = np.empty((m, n), dtype)
    chunks = [slice(a, min(a + chunk, m)) for a in range(0, m, chunk)]
    xt = np.ascontiguousarray(x.T)

    def forward(c):
        np.matmul(u[c], xt, out=z[c])
        return np.maximum(z[c], 0).T @ w[c]

    def update(c, r):
        zc = z[c]
        gw = np.maximum(zc, 0) @ r + 2 * lam * w[c]
        gu = ((zc > 0) * r) @ x
        gu *= w[c][:, None]
        gu += 2 * lam * u[c]
        w[c] -= eta * gw
        u[c] -= eta * gu
        return forward(c)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        f = sum(pool.map(forward, chunks)) / m

        def one_step(f):
            r = (-y / (1 + np.exp(y * f)) / n).astype(dtype)
            return sum(pool.map(lambda c: update(c, r), chunks)) / m

        f = one_step(f)
        started = time.perf_counter()
        for _ in range(steps):
            f = one_step(f)
        seconds = (time.perf_counter() - started) / steps
    if not np.isfinite(f).all():
        raise SystemExit("peer: the predictions are not finite")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--m", type=int, default=100000)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--dtype", choices=["f32", "f64"], default="f32")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=256, help="particles per task (256: the temporaries stay in L2)")
    parser.add_argument("--peak", action="store_true", help="only NumPy's GEMM peak at 2000^3")
    args = parser.parse_args()
    dtype = np.float32 if args.dtype == "f32" else np.float64
    blas = os.environ.get("OPENBLAS_NUM_THREADS")
    if args.peak:
        out = {"dtype": args.dtype, "blas_threads": blas, "peak_gflops": peak(dtype)}
    else:
        if blas != "1":
            raise SystemExit("peer: set OPENBLAS_NUM_THREADS=1 (one BLAS thread per task of the pool)")
        seconds = step_time(args.m, args.n, args.d, dtype, args.steps, args.threads, args.chunk)
        out = {
            "peer": "numpy",
            "m": args.m,
            "n": args.n,
            "d": args.d,
            "dtype": args.dtype,
            "threads": args.threads,
            "steps": args.steps,
            "seconds_per_step": seconds,
            "particle_steps_per_sec": args.m / seconds,
            "gflops": 4 * args.n * args.m * args.d / seconds / 1e9,
        }
    out["numpy"] = np.__version__
    print(json.dumps(out))


if __name__ == "__main__":
    main()
