"""meanfield.run against the command line, Run's contents, divergence, sweeps."""

import json

import numpy as np
import pytest

import meanfield
from conftest import STRICT, TINY, read_csv, run_cli, without


def test_run_is_byte_identical_to_the_command_line(cli, tiny_path, tmp_path):
    run_cli(cli, "run", tiny_path, "--out", tmp_path / "cli", "--seed", 5, "--quiet")
    run = meanfield.run(str(tiny_path), out=tmp_path / "py", seed=5)
    cli_dir, py_dir = tmp_path / "cli", tmp_path / "py"
    assert (py_dir / "particles.npy").read_bytes() == (cli_dir / "particles.npy").read_bytes()
    assert (py_dir / "scenario.toml").read_text() == (cli_dir / "scenario.toml").read_text()
    header, rows = read_csv(py_dir / "metrics.csv")
    cli_header, cli_rows = read_csv(cli_dir / "metrics.csv")
    assert header == cli_header
    assert len(rows) == 7  # steps 0, 10, ..., 60
    assert without(header, rows, "wall_seconds") == without(cli_header, cli_rows, "wall_seconds")
    assert run.out == py_dir
    # A Scenario object with the seed given to run() resolves to the same scenario.
    again = meanfield.run(meanfield.Scenario.load(tiny_path), out=tmp_path / "obj", seed=5)
    assert (tmp_path / "obj" / "scenario.toml").read_text() == (cli_dir / "scenario.toml").read_text()
    assert again.particles.tobytes() == run.particles.tobytes()


def test_run_contents_are_the_files(cli, tiny_path, tmp_path):
    run = meanfield.run(meanfield.Scenario.load(tiny_path), out=tmp_path / "r")
    header, rows = read_csv(tmp_path / "r" / "metrics.csv")
    assert list(run.metrics) == header
    assert run.metrics["step"].dtype == np.int64
    assert run.metrics["step"].tolist() == [0, 10, 20, 30, 40, 50, 60]
    for name in ["loss", "data_fit", "penalty", "gap", "dual_bound", "test_error"]:
        column = header.index(name)
        expected = np.array([float(r[column]) if r[column] else np.nan for r in rows])
        assert run.metrics[name].dtype == np.float64
        assert np.array_equal(run.metrics[name], expected, equal_nan=True), name
    assert run.metrics["certificate"].tolist() == ["exact"] * 7
    # no reference optimum: excess is empty, so NaN
    assert np.isnan(run.metrics["excess"]).all()
    particles = np.load(tmp_path / "r" / "particles.npy")
    assert run.particles.dtype == np.float64 and run.particles.shape == (300, 5)
    assert np.array_equal(run.particles, particles)
    assert run.summary == json.loads((tmp_path / "r" / "summary.json").read_text())
    assert run.summary["final"]["loss"] == run.metrics["loss"][-1]
    assert (run.summary["m"], run.summary["n"], run.summary["d"]) == (300, 40, 4)


def test_metrics_frame(tiny_path, tmp_path, pandas_or_none):
    run = meanfield.run(tiny_path, out=tmp_path / "r")
    if pandas_or_none is None:
        if STRICT:
            pytest.fail("pandas is not installed (MEANFIELD_TEST_STRICT=1)")
        with pytest.raises(ImportError, match="pip install pandas"):
            run.metrics_frame()
        return
    frame = run.metrics_frame()
    assert list(frame.columns) == list(run.metrics)
    assert frame.shape == (7, len(run.metrics))
    assert frame["loss"].to_numpy().tolist() == run.metrics["loss"].tolist()


def test_results_do_not_depend_on_threads(tiny_path, tmp_path):
    one = meanfield.run(tiny_path, out=tmp_path / "one", threads=1)
    two = meanfield.run(tiny_path, out=tmp_path / "two", threads=2)
    assert one.particles.tobytes() == two.particles.tobytes()
    for name in ["loss", "gap", "pattern_change", "test_loss"]:
        assert one.metrics[name].tobytes() == two.metrics[name].tobytes()
    with pytest.raises(ValueError, match="threads = 0"):
        meanfield.run(tiny_path, out=tmp_path / "zero", threads=0)


def test_another_scenarios_folder_is_refused_unless_forced(tiny_path, tmp_path):
    meanfield.run(tiny_path, out=tmp_path / "r")
    with pytest.raises(FileExistsError, match="holds the outputs of a different scenario"):
        meanfield.run(tiny_path, out=tmp_path / "r", seed=11)
    assert meanfield.run(tiny_path, out=tmp_path / "r", seed=11, force=True).summary["seed"] == 11


def test_divergence_raises_with_the_command_lines_message(cli, tiny_path, tmp_path):
    text = TINY.replace("eta = 0.2", "eta = 1e6").replace('kind = "langevin+perturbed"', 'kind = "gd"')
    text = text.replace("tau = 1e-4\n", "").replace("sigma = 0.05\n", "").replace("reinit_radius = 1.0\n", "")
    path = tmp_path / "wild.toml"
    path.write_text(text)
    with pytest.raises(meanfield.DivergedError) as caught:
        meanfield.run(path, out=tmp_path / "py")
    proc = run_cli(cli, "run", path, "--out", tmp_path / "cli", "--quiet", check=False)
    assert proc.returncode == 3
    assert proc.stderr.strip() == f"error: {caught.value}"
    assert str(caught.value).startswith("diverged at step")


SWEEP = """
name = "tiny-sweep"
base = "tiny.toml"
set = ["run.steps=20"]
seeds = 2

[[axis]]
key = "dynamics.eta"
values = [0.1, 0.2]
"""


def test_sweep_table_equals_the_command_lines(cli, tiny_path, tmp_path):
    sweep_path = tmp_path / "sweep.toml"
    sweep_path.write_text(SWEEP)
    table = meanfield.sweep(sweep_path, jobs=2, out=tmp_path / "py")
    run_cli(cli, "sweep", sweep_path, "--out", tmp_path / "cli", "--quiet")
    header, rows = read_csv(tmp_path / "py" / "sweep.csv")
    cli_header, cli_rows = read_csv(tmp_path / "cli" / "sweep.csv")
    assert without(header, rows, "wall_seconds") == without(cli_header, cli_rows, "wall_seconds")
    columns = {name: np.asarray(table[name]) for name in header}
    assert columns["dynamics.eta"].tolist() == [0.1, 0.1, 0.2, 0.2]
    assert columns["seed"].tolist() == [1, 2, 1, 2]
    assert [len(h) for h in columns["run"]] == [12] * 4
    assert columns["loss"].tolist() == [float(r[header.index("loss")]) for r in rows]
    # A second call finds every run complete and returns the same table.
    again = meanfield.sweep(sweep_path, out=tmp_path / "py")
    assert np.asarray(again["loss"]).tolist() == columns["loss"].tolist()


def test_invalid_sweep_raises_scenario_error(tiny_path, tmp_path):
    sweep_path = tmp_path / "bad.toml"
    sweep_path.write_text(SWEEP.replace("values = [0.1, 0.2]", "values = [0.1, -1.0]"))
    with pytest.raises(meanfield.ScenarioError, match=r"run 2 \(run.steps=20 dynamics.eta=-1.0 seed=1\).*must be a finite number > 0"):
        meanfield.sweep(sweep_path, out=tmp_path / "o")
