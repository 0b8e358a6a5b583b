"""meanfield.Simulation: stepping equals running, particles in and out, predictions, validation."""

import gc

import numpy as np
import pytest

import meanfield
from conftest import TINY


def relu(z):
    return np.maximum(z, 0.0)


def test_k_steps_equal_a_run_of_k_steps(tiny_path, tmp_path):
    for k in [1, 13, 60]:
        scenario = meanfield.Scenario.load(tiny_path, {"run.steps": k})
        sim = meanfield.Simulation(scenario)
        for _ in range(k):
            sim.step()
        assert sim.steps == k
        run = meanfield.run(scenario, out=tmp_path / f"k{k}", quiet=True)
        assert sim.particles.tobytes() == run.particles.tobytes(), k
        assert sim.time == run.metrics["time"][-1]
        loss = sim.loss()
        for name in ["loss", "data_fit", "penalty"]:
            assert loss[name] == run.metrics[name][-1], name
        cert = sim.certificate()
        assert cert["dual_bound"] == run.metrics["dual_bound"][-1]
        assert cert["gap"] == run.metrics["gap"][-1]
        assert cert["certificate"] == run.metrics["certificate"][-1] == "exact"


def test_steps_in_pieces_equal_steps_at_once(tiny_path):
    whole = meanfield.Simulation(tiny_path)
    whole.step(25)
    pieces = meanfield.Simulation(tiny_path)
    for k in [1, 4, 0, 20]:
        pieces.step(k)
    assert pieces.steps == 25
    assert np.array_equal(whole.particles, pieces.particles)
    assert pieces.time == pytest.approx(25 * 0.2, rel=1e-12)


def test_f32_simulation_equals_the_f32_run(tiny_path, tmp_path):
    scenario = meanfield.Scenario.load(tiny_path, {"precision": "f32", "run.steps": 20})
    sim = meanfield.Simulation(scenario)
    sim.step(20)
    run = meanfield.run(scenario, out=tmp_path / "f32")
    assert sim.particles.dtype == np.float64
    assert sim.particles.tobytes() == run.particles.tobytes()
    assert sim.loss()["loss"] == run.metrics["loss"][-1]


def test_predict_and_loss_follow_the_formulas(tiny_path):
    sim = meanfield.Simulation(tiny_path)
    sim.step(5)
    x, y = sim.data()
    assert x.shape == (40, 4) and np.all(x[:, 3] == 1.0)  # the bias coordinate
    theta = sim.particles
    w, u = theta[:, 0], theta[:, 1:]
    f = relu(x @ u.T) @ w / len(w)
    assert np.allclose(sim.predict(x), f, rtol=1e-12, atol=1e-14)
    data_fit = np.mean(np.logaddexp(0.0, -y * f))
    penalty = 0.01 * np.mean(np.sum(theta**2, axis=1))
    loss = sim.loss()
    assert loss["data_fit"] == pytest.approx(data_fit, rel=1e-12)
    assert loss["penalty"] == pytest.approx(penalty, rel=1e-12)
    assert loss["loss"] == loss["data_fit"] + loss["penalty"]
    cert = sim.certificate()
    assert cert["dual_bound"] <= loss["loss"] and cert["gap"] >= 0.0


def test_set_particles_round_trips_and_never_aliases(tiny_path):
    sim = meanfield.Simulation(tiny_path)
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(300, 5))
    sim.set_particles(theta)
    out = sim.particles
    assert out.tobytes() == theta.tobytes()
    assert out is not sim.particles and not np.shares_memory(out, theta)
    theta[:] = 0.0  # the simulation holds its own copy
    assert np.array_equal(sim.particles, out)
    out[:] = 7.0  # and returns new arrays
    assert not np.array_equal(sim.particles, out)
    kept = sim.particles
    before = kept.copy()
    del sim
    gc.collect()
    assert np.array_equal(kept, before)  # still valid after the simulation is gone
    assert kept.flags.owndata or kept.base is not None


def test_set_particles_changes_the_width_and_keeps_the_clock(tiny_path):
    sim = meanfield.Simulation(tiny_path)
    sim.step(3)
    t = sim.time
    small = np.array([[1.0, 1.0, 0.0, 0.0, 0.0], [-1.0, 0.0, 1.0, 0.0, 0.0]])
    sim.set_particles(small)
    assert (sim.m, sim.steps, sim.time) == (2, 3, t)
    x, _ = sim.data()
    expected = (relu(x[:, 0]) - relu(x[:, 1])) / 2
    assert np.allclose(sim.predict(x), expected, rtol=0, atol=1e-15)
    sim.step(2)
    assert sim.particles.shape == (2, 5) and sim.steps == 5


def test_restart_from_particles_continues_the_run_exactly(tiny_path):
    # Particles taken out and put back continue exactly as an uninterrupted simulation (gd: no
    # reference to the initial cloud in the step).
    scenario = meanfield.Scenario.from_toml(
        TINY.replace('kind = "langevin+perturbed"', 'kind = "gd"')
        .replace("tau = 1e-4\n", "").replace("sigma = 0.05\n", "").replace("reinit_radius = 1.0\n", "")
    )
    a = meanfield.Simulation(scenario)
    a.step(10)
    b = meanfield.Simulation(scenario)
    b.step(4)
    b.set_particles(b.particles)
    b.step(6)
    assert a.particles.tobytes() == b.particles.tobytes()


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((300, 5), dtype=np.int64), r"particles: dtype int64 is not float64"),
        (np.zeros((300, 5), dtype=np.float32), r"particles: dtype float32 is not float64"),
        (np.zeros((300, 4)), r"particles: shape \[300, 4\] has 4 columns, but the particles \(w, u_1..u_d\) need 5"),
        (np.zeros(5), r"particles: expected a 2-d array"),
        (np.zeros((0, 5)), r"particles: shape \[0, 5\] is empty"),
        (np.asfortranarray(np.ones((300, 5))), r"particles: the array is not C-contiguous"),
        (np.ones((300, 10))[:, ::2], r"particles: the array is not C-contiguous"),
        (np.full((300, 5), np.nan), r"particles\[0, 0\] = NaN: values must be finite"),
        ("abc", r"particles: expected a numpy array of float64, got str"),
    ],
)
def test_bad_particles_raise_value_error_naming_the_argument(tiny_path, array, message):
    sim = meanfield.Simulation(tiny_path)
    before = sim.particles
    with pytest.raises(ValueError, match=message):
        sim.set_particles(array)
    assert np.array_equal(sim.particles, before)


def test_bad_predict_inputs(tiny_path):
    sim = meanfield.Simulation(tiny_path)
    with pytest.raises(ValueError, match=r"x: shape \[2, 3\] has 3 columns, but the model's inputs need 4"):
        sim.predict(np.zeros((2, 3)))
    x = np.ones((2, 4))
    x[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"x\[1, 2\] = inf: values must be finite"):
        sim.predict(x)
    assert sim.predict([[1.0, 0.0, 0.0, 1.0]]).shape == (1,)  # lists are converted


def test_divergence_in_a_simulation_keeps_the_last_finite_state():
    text = TINY.replace("eta = 0.2", "eta = 1e6").replace('kind = "langevin+perturbed"', 'kind = "gd"')
    text = text.replace("tau = 1e-4\n", "").replace("sigma = 0.05\n", "").replace("reinit_radius = 1.0\n", "")
    sim = meanfield.Simulation(meanfield.Scenario.from_toml(text))
    sim.step(0)
    before = sim.particles
    with pytest.raises(meanfield.DivergedError, match=r"^diverged at step (\d+): a training prediction") as caught:
        sim.step(100)
    failed = int(caught.value.args[0].split()[3].rstrip(":"))
    assert sim.steps == failed - 1  # the state of the last finite step
    assert np.isfinite(sim.particles).all()
    if sim.steps == 0:
        assert np.array_equal(sim.particles, before)


def test_threads_argument(tiny_path):
    assert meanfield.Simulation(tiny_path, threads=1).threads == 1
    with pytest.raises(ValueError, match="threads = 0"):
        meanfield.Simulation(tiny_path, threads=0)
    with pytest.raises(meanfield.ScenarioError):
        meanfield.Simulation(meanfield.Scenario.from_toml(TINY), threads=1).scenario.with_overrides({"model.m": 0})
