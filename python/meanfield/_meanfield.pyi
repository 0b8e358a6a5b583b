"""Type stubs of the Rust extension ``meanfield._meanfield`` (re-exported by ``meanfield``)."""

import os
import pathlib
from typing import Any, Literal, Mapping, Sequence, overload

import numpy as np
import numpy.typing as npt

__version__: str

_Path = str | os.PathLike[str]
_Overrides = Mapping[str, Any] | Sequence[str] | None
_F64_2D = npt.NDArray[np.float64]
_ArrayLike = npt.NDArray[np.float64] | Sequence[Any]

class ScenarioError(ValueError):
    """Invalid scenario, sweep file, override or data file: the command line's message
    (file, field, value and what is allowed)."""

class DivergedError(RuntimeError):
    """A prediction beyond 1e8 in size or a non-finite loss; names the step and a smaller eta."""

class Scenario:
    """A checked scenario."""

    @staticmethod
    def load(path: _Path, overrides: _Overrides = None) -> Scenario:
        """Reads, overrides (dotted keys, as ``--set``) and checks a scenario file."""
    @staticmethod
    def from_toml(text: str, overrides: _Overrides = None) -> Scenario:
        """Parses and checks scenario text (unnamed scenarios are named ``scenario``)."""
    def to_toml(self) -> str:
        """The resolved scenario (defaults filled in, paths absolute)."""
    def with_overrides(self, overrides: _Overrides) -> Scenario:
        """A copy with more overrides."""
    @property
    def name(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def steps(self) -> int: ...

class Run:
    """The outputs of a finished run, read back from its folder."""

    @property
    def metrics(self) -> dict[str, npt.NDArray[Any]]:
        """One numpy array per column of metrics.csv (empty cells NaN; ``step`` int64,
        ``certificate`` str)."""
    @property
    def particles(self) -> _F64_2D:
        """The final cloud, (m, 1 + d) float64, columns w, u_1..u_d."""
    @property
    def summary(self) -> dict[str, Any]:
        """summary.json."""
    @property
    def out(self) -> pathlib.Path:
        """The output folder."""
    def metrics_frame(self) -> Any:
        """metrics as a pandas DataFrame (ImportError without pandas)."""
    def path(self, name: str) -> pathlib.Path:
        """out / name."""

def run(
    scenario_or_path: Scenario | _Path,
    out: _Path | None = None,
    seed: int | None = None,
    quiet: bool = True,
    threads: int | None = None,
    overrides: _Overrides = None,
    force: bool = False,
    resume: bool = False,
) -> Run:
    """Runs a scenario as ``meanfield run`` (same files, byte-identical but for wall_seconds).
    Ctrl-C: stops after the current step with a checkpoint and raises KeyboardInterrupt."""

class Simulation:
    """A scenario's cloud stepped from Python: theta <- theta + eta v(theta), then the dynamics,
    v(theta) = -grad_theta (sum_i r_i w relu(u . x_i) + lambda |theta|^2), r_i = l'(y_i, F_i) / n."""

    def __init__(self, scenario: Scenario | _Path, threads: int | None = None) -> None: ...
    def step(self, k: int = 1) -> None:
        """k steps (Ctrl-C: KeyboardInterrupt after the current step; DivergedError keeps the
        last finite state)."""
    @property
    def particles(self) -> _F64_2D:
        """A new (m, 1 + d) float64 copy of the cloud."""
    def set_particles(self, particles: _ArrayLike) -> None:
        """Replaces the cloud by a copy of an (m, 1 + d) float64 C-contiguous finite array."""
    def predict(self, x: _ArrayLike) -> npt.NDArray[np.float64]:
        """F(x) = (1/m) sum_j w_j relu(u_j . x) at the rows of x, (n, d) float64."""
    def loss(self) -> dict[str, float]:
        """{"loss": L, "data_fit": R, "penalty": lambda integral |theta|^2 d rho}."""
    def certificate(self) -> dict[str, float | str]:
        """{"dual_bound": D, "gap": L - D, "certificate": "exact" | "estimated"}; D <= L* <= L."""
    def data(self) -> tuple[_F64_2D, npt.NDArray[np.float64]]:
        """The training data (x, y) (x with the bias column when data.bias = true)."""
    @property
    def time(self) -> float:
        """t = sum of the step sizes taken."""
    @property
    def steps(self) -> int:
        """Steps taken."""
    @property
    def m(self) -> int: ...
    @property
    def d(self) -> int: ...
    @property
    def threads(self) -> int: ...
    @property
    def scenario(self) -> Scenario: ...

def optimum(
    x: _ArrayLike,
    y: _ArrayLike,
    lam: float,
    loss: Literal["logistic", "squared"] = "logistic",
    bias: bool = False,
    threads: int | None = None,
) -> dict[str, Any]:
    """The exact L* (keys of ``meanfield optimum --json``: value, dual, gap, exact, status,
    patterns, n, d, loss, lambda, seconds; ``neurons``: the recovered network as a (k, 1 + d)
    float64 array; ``predictions``: its F at x)."""

def sweep(
    path: _Path,
    jobs: int | None = None,
    out: _Path | None = None,
    force: bool = False,
    quiet: bool = True,
) -> Any:
    """Runs a sweep as ``meanfield sweep``; returns sweep.csv (a pandas DataFrame when pandas is
    installed, else a dict of numpy arrays)."""

def ntk_gram(
    x1: _ArrayLike, x2: _ArrayLike | None = None, r_w: float = 1.0, r_u: float = 1.0, threads: int | None = None
) -> _F64_2D:
    """K(x1_i, x2_j) = r_w^2 (x.x')(pi - t)/(2 pi) + r_u^2 |x||x'| (sin t + (pi - t) cos t)/(2 pi)."""

@overload
def ntk_min_norm(
    x: _ArrayLike, y: _ArrayLike, x_test: _ArrayLike, r_w: float = 1.0, r_u: float = 1.0,
    details: Literal[False] = False, threads: int | None = None,
) -> npt.NDArray[np.float64]: ...
@overload
def ntk_min_norm(
    x: _ArrayLike, y: _ArrayLike, x_test: _ArrayLike, r_w: float = 1.0, r_u: float = 1.0,
    *, details: Literal[True], threads: int | None = None,
) -> dict[str, Any]: ...
@overload
def ntk_svm(
    x: _ArrayLike, y: _ArrayLike, x_test: _ArrayLike, r_w: float = 1.0, r_u: float = 1.0,
    details: Literal[False] = False, threads: int | None = None,
) -> npt.NDArray[np.float64]: ...
@overload
def ntk_svm(
    x: _ArrayLike, y: _ArrayLike, x_test: _ArrayLike, r_w: float = 1.0, r_u: float = 1.0,
    *, details: Literal[True], threads: int | None = None,
) -> dict[str, Any]: ...
