"""meanfield: infinite-width two-layer ReLU networks as particle clouds.

A thin Python layer over the Rust crate ``meanfield`` (every number is computed by it). A network
is a probability measure rho over neurons theta = (w, u), held as a cloud of m particles; it
predicts F(x) = (1/m) sum_j w_j relu(u_j . x) and the objective is

    L[rho] = (1/n) sum_i l(y_i, F(x_i)) + lambda * integral |theta|^2 d rho,

with the logistic loss l(y, z) = log(1 + exp(-y z)) or the squared loss (z - y)^2 / 2. Particles
move by Wasserstein gradient flow (``gd``), the perturbed flow of Wei, Lee, Liu & Ma (2019) or
mean-field Langevin dynamics, and every logged step is certified by the dual bound
D <= L* <= L (gap G = L - D).

- ``Scenario.load(path, overrides=None)``, ``Scenario.from_toml(text)``: checked scenarios
  (``ScenarioError`` carries the command line's message).
- ``run(scenario_or_path, out=None, seed=None, quiet=True) -> Run``: a run with every output file,
  as ``meanfield run``.
- ``Simulation(scenario)``: step a cloud, look at it, change it, step again.
- ``optimum(x, y, lam)``: the exact global minimum L* of a data set.
- ``ntk.gram``, ``ntk.min_norm``, ``ntk.svm``: the network's tangent kernel and its predictors.
- ``sweep(path)``: a parameter sweep and its table.

Long calls release the GIL, run on ``threads`` rayon threads (default ``RAYON_NUM_THREADS``, else
all cores; results never depend on it) and stop after the current step on Ctrl-C
(``KeyboardInterrupt``).
"""

from . import ntk
from ._meanfield import (
    DivergedError,
    Run,
    Scenario,
    ScenarioError,
    Simulation,
    __version__,
    optimum,
    run,
    sweep,
)

__all__ = [
    "DivergedError",
    "Run",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "__version__",
    "ntk",
    "optimum",
    "run",
    "sweep",
]
