"""Fixtures of the meanfield Python tests: small scenarios, the command-line binary, helpers."""

import csv
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

# Strict mode (set by the Rust integration test tests/python.rs): what a test needs must be
# present, so nothing is skipped silently.
STRICT = os.environ.get("MEANFIELD_TEST_STRICT") == "1"

# A 3-d XOR problem with a bias, Langevin noise and perturbed re-draws, a test set and exact
# certificates at every logged step: small enough for a fraction of a second per run.
TINY = """
name = "tiny"
seed = 3
loss = "logistic"
lambda = 0.01

[data]
kind = "xor"
d = 3
n = 40
test_n = 200
bias = true

[model]
m = 300
init = { kind = "gaussian", s_w = 1.0, s_u = 1.0 }

[dynamics]
kind = "langevin+perturbed"
eta = 0.2
tau = 1e-4
sigma = 0.05
reinit_radius = 1.0

[run]
steps = 60
log_every = 10
plots = false
"""


def need(what, reason):
    """Skips (or fails in strict mode) when `what` is missing."""
    if STRICT:
        pytest.fail(f"{reason} (MEANFIELD_TEST_STRICT=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def cli():
    """The meanfield command-line binary (MEANFIELD_BIN, else target/release/meanfield)."""
    path = os.environ.get("MEANFIELD_BIN") or str(REPO / "target" / "release" / "meanfield")
    if not os.path.exists(path):
        need("cli", f"the meanfield binary is not built at {path}; run cargo build --release")
    return path


@pytest.fixture
def tiny_path(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def run_cli(cli, *args, cwd=None, check=True):
    """Runs the binary; returns the CompletedProcess."""
    proc = subprocess.run([cli, *map(str, args)], capture_output=True, text=True, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"meanfield {' '.join(map(str, args))} exited {proc.returncode}: {proc.stderr}")
    return proc


def read_csv(path):
    """(header, rows) of a csv file, cells as text."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def without(header, rows, column):
    """The rows without one column."""
    k = header.index(column)
    return [r[:k] + r[k + 1 :] for r in rows]


@pytest.fixture(scope="session")
def pandas_or_none():
    try:
        import pandas  # noqa: F401

        return pandas
    except ImportError:
        return None


def python_with_meanfield():
    """The interpreter running the tests (which has meanfield installed)."""
    return sys.executable


__all__ = ["REPO", "TINY", "need", "run_cli", "read_csv", "without", "np", "shutil"]
