"""meanfield.optimum against `meanfield optimum --json`, and the NTK predictors."""

import json
import math

import numpy as np
import pytest

import meanfield
from conftest import run_cli


def xor_data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(n, 2)) + 0.1 * rng.normal(size=(n, 2))
    y = np.sign(x[:, 0] * x[:, 1])
    return x, y


def write_csv(path, x, y):
    header = ",".join([f"x{j + 1}" for j in range(x.shape[1])] + ["y"])
    lines = [header] + [",".join(repr(float(v)) for v in [*row, label]) for row, label in zip(x, y)]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("loss, bias", [("logistic", True), ("squared", False)])
def test_optimum_equals_the_command_line(cli, tmp_path, loss, bias):
    x, y = xor_data()
    if loss == "squared":
        y = y * 0.5 + 0.1 * x[:, 0]
    write_csv(tmp_path / "d.csv", x, y)
    args = ["optimum", "--data", tmp_path / "d.csv", "--lambda", 0.01, "--loss", loss, "--json",
            "--particles", tmp_path / "p.npy"] + (["--bias"] if bias else [])
    expected = json.loads(run_cli(cli, *args).stdout)
    got = meanfield.optimum(x, y, 0.01, loss=loss, bias=bias)
    assert set(got) == set(expected) | {"predictions"}
    for key in expected:
        if key not in ("seconds", "neurons"):
            assert got[key] == expected[key], key
    neurons = np.load(tmp_path / "p.npy")
    assert got["neurons"].dtype == np.float64
    assert got["neurons"].tobytes() == neurons.tobytes()
    assert expected["neurons"] == len(neurons) and got["d"] == 2 + bias
    assert got["exact"] and got["gap"] < 1e-6
    # value is L of the recovered cloud
    xb = np.hstack([x, np.ones((len(x), 1))]) if bias else x
    w, u = neurons[:, 0], neurons[:, 1:]
    f = np.maximum(xb @ u.T, 0.0) @ w / len(w)
    assert np.allclose(got["predictions"], f, rtol=1e-9, atol=1e-12)
    fit = np.mean(np.logaddexp(0, -y * f)) if loss == "logistic" else np.mean((f - y) ** 2 / 2)
    assert got["value"] == pytest.approx(fit + 0.01 * np.mean(np.sum(neurons**2, axis=1)), rel=1e-9)


def test_optimum_rejects_bad_inputs():
    x, y = xor_data()
    with pytest.raises(ValueError, match=r"^y: sample 2: label 0.5 is not -1 or \+1, as the logistic loss requires$"):
        meanfield.optimum(x[:3], np.array([1.0, 0.5, -1.0]), 0.01)
    with pytest.raises(ValueError, match=r"y: 23 entries, but x \(rows\) has 24"):
        meanfield.optimum(x, y[:-1], 0.01)
    bad = x.copy()
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"x\[4, 1\] = NaN: values must be finite"):
        meanfield.optimum(bad, y, 0.01)
    with pytest.raises(ValueError, match=r"x: dtype int64 is not float64"):
        meanfield.optimum(x.astype(np.int64), y, 0.01)
    with pytest.raises(ValueError, match=r"loss = \"hinge\""):
        meanfield.optimum(x, y, 0.01, loss="hinge")
    with pytest.raises(ValueError, match="lambda"):
        meanfield.optimum(x, y, -1.0)


def ntk_formula(a, b, r_w=1.0, r_u=1.0):
    k = np.empty((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            na, nb = np.linalg.norm(p), np.linalg.norm(q)
            t = math.acos(np.clip(p @ q / (na * nb), -1, 1))
            k[i, j] = (r_w**2 * (p @ q) * (math.pi - t) + r_u**2 * na * nb * (math.sin(t) + (math.pi - t) * math.cos(t))) / (2 * math.pi)
    return k


def test_ntk_gram_follows_the_formula():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    assert np.allclose(meanfield.ntk.gram(a, b), ntk_formula(a, b), rtol=1e-12, atol=1e-12)
    assert np.allclose(meanfield.ntk.gram(a, b, r_w=0.5, r_u=2.0), ntk_formula(a, b, 0.5, 2.0), rtol=1e-12, atol=1e-12)
    g = meanfield.ntk.gram(a)
    assert np.array_equal(g, g.T)
    with pytest.raises(ValueError, match=r"x2: shape \[5, 2\] has 2 columns, but the rows of x1 need 3"):
        meanfield.ntk.gram(a, np.ascontiguousarray(b[:, :2]))
    with pytest.raises(ValueError, match="r_w"):
        meanfield.ntk.gram(a, r_w=-1.0)


def test_ntk_min_norm_interpolates_and_svm_separates():
    x, y = xor_data(30, seed=2)
    rng = np.random.default_rng(3)
    x_test = rng.normal(size=(10, 2))
    f_train = meanfield.ntk.min_norm(x, y, x)
    assert np.allclose(f_train, y, atol=1e-8)
    details = meanfield.ntk.min_norm(x, y, x_test, details=True)
    k = meanfield.ntk.gram(x)
    beta = np.linalg.solve(k, y)
    assert np.allclose(details["beta"], beta, rtol=1e-6, atol=1e-8)
    assert np.allclose(details["predictions"], meanfield.ntk.gram(x_test, x) @ beta, rtol=1e-6, atol=1e-8)
    assert details["norm"] == pytest.approx(math.sqrt(beta @ k @ beta), rel=1e-8)
    svm = meanfield.ntk.svm(x, y, x, details=True)
    margins = y * svm["predictions"]
    assert margins.min() == pytest.approx(1.0, abs=1e-6)  # support vectors sit on the margin
    assert np.all(margins >= 1.0 - 1e-6)
    assert svm["norm"] <= details["norm"] + 1e-9  # the max-margin norm is at most the interpolant's
    with pytest.raises(ValueError, match=r"x_test: shape \[10, 3\] has 3 columns"):
        meanfield.ntk.svm(x, y, np.zeros((10, 3)))


def test_ntk_matrices_beyond_memory_are_refused_before_allocating():
    # 3e6 rows: the Gram matrix alone would take 72 TB; refused before it is allocated.
    x = np.ones((3_000_000, 1))
    with pytest.raises(ValueError, match=r"^meanfield\.ntk\.gram: field `x1` = 3000000 rows: the run would need about "
                       r".* \(.* for the NTK matrix \(3000000 x 3000000\)\) but only .* are available; pass fewer rows$"):
        meanfield.ntk.gram(x)
    with pytest.raises(ValueError, match=r"^meanfield\.ntk\.gram: field `x2` = 3000000 rows: .*\(100000 x 3000000\)"):
        meanfield.ntk.gram(np.ones((100_000, 1)), x)
    y = np.ones(3_000_000)
    with pytest.raises(ValueError, match=r"^meanfield\.ntk\.svm: field `x` = 3000000 rows: .*NTK Gram matrices"):
        meanfield.ntk.svm(x, y, np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"^meanfield\.ntk\.min_norm: field `x` = 3000000 rows: "):
        meanfield.ntk.min_norm(x, y, np.ones((2, 1)))
