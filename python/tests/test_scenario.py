"""Scenario loading, overrides, TOML round trips and the command line's error messages."""

import pytest

import meanfield
from conftest import REPO, TINY, run_cli


def resolved_toml(printed):
    """`validate`'s output without its closing comment lines (the initial scales in both units)."""
    lines = printed.splitlines(keepends=True)
    while lines and lines[-1].startswith("#"):
        lines.pop()
    return "".join(lines)

QUICKSTART = REPO / "scenarios" / "quickstart.toml"


def test_public_names():
    for name in ["Scenario", "ScenarioError", "DivergedError", "Run", "Simulation", "run", "optimum", "sweep"]:
        assert hasattr(meanfield, name), name
    for name in ["gram", "min_norm", "svm"]:
        assert callable(getattr(meanfield.ntk, name)), name
    assert issubclass(meanfield.ScenarioError, ValueError)
    assert meanfield.__version__ == "0.1.0"


def test_load_matches_the_command_lines_resolved_scenario(cli):
    scenario = meanfield.Scenario.load(QUICKSTART)
    assert (scenario.name, scenario.seed, scenario.steps) == ("quickstart", 1, 4000)
    printed = run_cli(cli, "validate", QUICKSTART).stdout
    assert scenario.to_toml() == resolved_toml(printed)


def test_overrides_are_the_command_lines_set(cli):
    overrides = {"dynamics.eta": 0.1, "data.n": 30, "run.plots": False, "model.init": {"kind": "sphere", "radius": 2.0}}
    scenario = meanfield.Scenario.load(QUICKSTART, overrides=overrides)
    printed = run_cli(
        cli, "validate", QUICKSTART, "--set", "dynamics.eta=0.1", "--set", "data.n=30", "--set", "run.plots=false",
        "--set", "model.init={kind='sphere', radius=2.0}",
    ).stdout
    assert scenario.to_toml() == resolved_toml(printed)
    # A bare string, as on the command line, and the list form.
    xor = meanfield.Scenario.from_toml(TINY, overrides={"data.noise": "sign"})
    assert 'noise = "sign"' in xor.to_toml()
    assert meanfield.Scenario.from_toml(TINY, overrides=["data.noise=sign"]) == xor


def test_to_toml_round_trips():
    scenario = meanfield.Scenario.load(QUICKSTART, {"seed": 7})
    again = meanfield.Scenario.from_toml(scenario.to_toml())
    assert again == scenario and again.to_toml() == scenario.to_toml()
    assert again.seed == 7
    assert scenario.with_overrides({"seed": 9}).seed == 9


def test_unnamed_text_is_named_scenario():
    text = TINY.replace('name = "tiny"\n', "")
    assert meanfield.Scenario.from_toml(text).name == "scenario"


@pytest.mark.parametrize(
    "key, value, cli_value",
    [
        ("dynamics.eta", -0.5, "-0.5"),
        ("lambda", float("nan"), "nan"),
        ("data.n", 0, "0"),
        ("dynamics.kind", "gd+langevin", "gd+langevin"),
        ("data.size", 3, "3"),
    ],
)
def test_invalid_values_raise_the_command_lines_message(cli, key, value, cli_value):
    with pytest.raises(meanfield.ScenarioError) as caught:
        meanfield.Scenario.load(QUICKSTART, {key: value})
    proc = run_cli(cli, "validate", QUICKSTART, "--set", f"{key}={cli_value}", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {caught.value}"


def test_malformed_override_and_syntax_errors():
    with pytest.raises(meanfield.ScenarioError, match=r"^--set lambda: expected KEY=VALUE, for example dynamics.eta=0.1$"):
        meanfield.Scenario.load(QUICKSTART, ["lambda"])
    with pytest.raises(meanfield.ScenarioError, match=r"^<string>: not valid TOML: .*line 1"):
        meanfield.Scenario.from_toml("lambda = [1, 2")
    with pytest.raises(meanfield.ScenarioError, match=r"field `model.m`: invalid type: string \"many\""):
        meanfield.Scenario.from_toml(TINY.replace("m = 300", 'm = "many"'))


def test_wrong_argument_types_and_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        meanfield.Scenario.load(tmp_path / "nope.toml")
    with pytest.raises(TypeError):
        meanfield.Scenario.load(QUICKSTART, overrides=3)
    with pytest.raises(TypeError):
        meanfield.run(12345)
