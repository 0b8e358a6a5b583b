"""The quickstart from Python: run scenarios/quickstart.toml, then plot the loss L and the
certified gap G = L - D against time (with matplotlib, when it is installed).

    python python/examples/quickstart.py [--steps N] [--out DIR]

L[rho] = (1/n) sum_i log(1 + exp(-y_i F(x_i))) + lambda integral |theta|^2 d rho is the
regularised loss of the cloud, D <= L* <= L the dual bound at each logged step, so G >= L - L*.
"""

import argparse
import pathlib

import numpy as np

import meanfield

REPO = pathlib.Path(__file__).resolve().parents[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--out", default="runs/quickstart-py")
    args = parser.parse_args()

    scenario = meanfield.Scenario.load(REPO / "scenarios" / "quickstart.toml", {"run.steps": args.steps})
    run = meanfield.run(scenario, out=args.out, quiet=False)
    m = run.metrics
    print(f"L = {m['loss'][-1]:.10f}, gap G = {m['gap'][-1]:.3e} ({m['certificate'][-1]}), "
          f"L* = {run.summary['optimum']['value']:.10f}")
    reached = m["time"][m["gap"] <= 1e-6]
    print("gap below 1e-6 from t =", reached[0] if len(reached) else "never")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure (pip install matplotlib)")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(m["time"], m["loss"], label="L[rho]")
    left.plot(m["time"], m["dual_bound"], label="dual bound D")
    left.axhline(run.summary["optimum"]["value"], color="k", ls=":", label="L* (exact)")
    left.set_xlabel("time t")
    left.set_ylim(np.nanmin(m["dual_bound"][m["dual_bound"] > 0]) * 0.9, m["loss"][0] * 1.05)
    left.legend()
    right.semilogy(m["time"], np.maximum(m["gap"], 1e-17), label="gap G = L - D")
    right.set_xlabel("time t")
    right.legend()
    figure = pathlib.Path(args.out) / "quickstart-python.png"
    fig.tight_layout()
    fig.savefig(figure, dpi=120)
    print("figure:", figure)


if __name__ == "__main__":
    main()
