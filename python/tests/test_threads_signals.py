"""The GIL is released during long calls, and Ctrl-C (SIGINT) stops them after the current step."""

import signal
import threading
import time

import numpy as np
import pytest

import meanfield

# 3000 particles, 200 samples, no certificates: about 0.7 ms a step on one thread of the machine
# in README (1500 steps take about a second). The tests that need a run in progress wait for its
# first output (a run writes scenario.toml before its first step), never a fixed time, so a faster machine cannot finish the run first.
LONG = """
name = "long"
seed = 2
lambda = 0.001

[data]
kind = "xor"
d = 3
n = 200
test_n = 0
bias = true

[model]
m = 3000

[dynamics]
kind = "langevin"
eta = 0.1
tau = 1e-5

[run]
steps = {steps}
log_every = 50
certify_every = 0
plots = false
checkpoint_every = {checkpoint}
"""


def long_scenario(steps=400, checkpoint=0):
    return meanfield.Scenario.from_toml(LONG.format(steps=steps, checkpoint=checkpoint))


@pytest.fixture(autouse=True)
def python_sigint_handler():
    """Python's own SIGINT handler, even when the tests were started with SIGINT ignored (a
    background job of a non-interactive shell inherits SIG_IGN, and Python then keeps it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupt_main_thread_when(ready, timeout=60.0):
    """Sends SIGINT to the main thread (as Ctrl-C does) as soon as `ready()` holds (polled every
    millisecond), or after `timeout` seconds."""
    main = threading.main_thread().ident

    def wait_then_interrupt():
        deadline = time.perf_counter() + timeout
        while not ready() and time.perf_counter() < deadline:
            time.sleep(0.001)
        signal.pthread_kill(main, signal.SIGINT)

    thread = threading.Thread(target=wait_then_interrupt)
    thread.start()
    return thread


def interrupt_main_thread_after(seconds):
    """Sends SIGINT to the main thread (as Ctrl-C does) after `seconds`."""
    main = threading.main_thread().ident
    timer = threading.Timer(seconds, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    return timer


def test_another_python_thread_runs_during_a_long_run(tmp_path):
    state = {"running": False, "counted": 0, "seconds": 0.0}

    def work():
        state["running"] = True
        started = time.perf_counter()
        meanfield.run(long_scenario(steps=1500), out=tmp_path / "r", threads=1)
        state["seconds"] = time.perf_counter() - started
        state["running"] = False

    thread = threading.Thread(target=work)
    thread.start()
    while not state["running"]:
        time.sleep(0.001)
    # Pure Python work on this thread while the run is in progress: impossible if the run held
    # the GIL.
    while state["running"]:
        state["counted"] += 1
    thread.join()
    assert state["seconds"] > 0.2, state
    assert state["counted"] > 10_000, state


def test_ctrl_c_stops_a_run_with_a_checkpoint_and_resume_finishes_it(tmp_path):
    scenario = long_scenario(steps=1500)
    out = tmp_path / "r"
    timer = interrupt_main_thread_when(lambda: (out / "scenario.toml").exists())
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        meanfield.run(scenario, out=tmp_path / "r", threads=1)
    stopped = time.perf_counter() - started
    timer.join()
    assert (out / "checkpoint.bin").exists() and (out / "metrics.csv").exists()
    assert not (out / "summary.json").exists()
    assert stopped < 5.0
    resumed = meanfield.run(scenario, out=out, threads=1, resume=True)
    assert not (out / "checkpoint.bin").exists()
    whole = meanfield.run(scenario, out=tmp_path / "whole", threads=2)
    assert resumed.particles.tobytes() == whole.particles.tobytes()
    assert resumed.metrics["loss"].tobytes() == whole.metrics["loss"].tobytes()


def test_ctrl_c_stops_simulation_steps_after_the_current_step():
    sim = meanfield.Simulation(long_scenario(), threads=1)
    timer = interrupt_main_thread_after(0.3)
    with pytest.raises(KeyboardInterrupt):
        sim.step(100_000)
    timer.join()
    taken = sim.steps
    assert 0 < taken < 100_000
    assert np.isfinite(sim.particles).all()
    # The simulation is consistent: stepping on equals stepping from scratch.
    sim.step(2)
    again = meanfield.Simulation(long_scenario(), threads=2)
    again.step(taken + 2)
    assert sim.particles.tobytes() == again.particles.tobytes()


def test_ctrl_c_stops_a_sweep_and_a_second_call_completes_it(tmp_path):
    (tmp_path / "long.toml").write_text(LONG.format(steps=1500, checkpoint=0))
    (tmp_path / "sweep.toml").write_text('base = "long.toml"\nseeds = 3\n')
    timer = interrupt_main_thread_when(lambda: any((tmp_path / "s" / "runs").glob("*/scenario.toml")))
    with pytest.raises(KeyboardInterrupt):
        meanfield.sweep(tmp_path / "sweep.toml", jobs=1, out=tmp_path / "s")
    timer.join()
    runs = sorted((tmp_path / "s" / "runs").iterdir())
    complete = [r for r in runs if (r / "summary.json").exists()]
    stopped = [r for r in runs if (r / "checkpoint.bin").exists()]
    assert not complete and len(stopped) == 1  # the first run stopped with a checkpoint
    table = meanfield.sweep(tmp_path / "sweep.toml", jobs=1, out=tmp_path / "s")
    assert np.asarray(table["seed"]).tolist() == [1, 2, 3]
    assert np.isfinite(np.asarray(table["loss"], dtype=float)).all()


def test_sigint_from_outside_interrupts_a_run_in_a_python_process(tmp_path):
    import subprocess
    import sys

    script = (
        "import meanfield, signal\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        f"s = meanfield.Scenario.from_toml({LONG.format(steps=100000, checkpoint=0)!r})\n"
        "print('started', flush=True)\n"
        f"meanfield.run(s, out={str(tmp_path / 'r')!r}, threads=1)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in stderr
    assert (tmp_path / "r" / "checkpoint.bin").exists() and (tmp_path / "r" / "metrics.csv").exists()


def test_a_simulation_in_use_by_another_thread_is_not_read_half_updated():
    sim = meanfield.Simulation(long_scenario(), threads=1)
    started = threading.Event()

    def work():
        started.set()
        sim.step(1500)

    thread = threading.Thread(target=work)
    thread.start()
    started.wait()
    time.sleep(0.1)
    assert thread.is_alive()
    with pytest.raises(RuntimeError, match="borrow"):
        sim.particles
    thread.join()
    assert sim.steps == 1500
