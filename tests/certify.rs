//! Certified convergence: the dual bound brackets the exact optimum at every logged step, the
//! exact solution is stationary with zero gap, and the command line agrees with the library.

use std::path::Path;
use std::process::Command;

use meanfield::config::ValidScenario;
use meanfield::convex::{self, OptimumOptions};
use meanfield::data::{Dataset, Distribution, Task, XorNoise};
use meanfield::dynamics::Gd;
use meanfield::engine::{Problem, RunOptions, Simulation};
use meanfield::loss::Loss;
use meanfield::model::{Cloud, Init};
use meanfield::rng::Purpose;

fn data(d: usize, bias: bool, loss: Loss) -> Dataset {
    let task = if loss == Loss::Squared { Task::Regression } else { Task::Classification };
    let dist = Distribution::Teacher { d, hidden: 3, task, margin: 0.05, label_noise: 0.1 };
    let data = dist.sample(16, 5, Purpose::TrainData).unwrap();
    if bias {
        data.with_bias()
    } else {
        data
    }
}

#[test]
fn dual_bound_and_loss_bracket_the_exact_optimum_at_every_logged_step() {
    for loss in [Loss::Logistic, Loss::Squared] {
        for (d, bias) in [(2, false), (2, true), (3, false)] {
            let train = data(d, bias, loss);
            let optimum = convex::solve(&train, loss, 0.02, &OptimumOptions::default()).unwrap();
            assert!(optimum.exact && optimum.gap.abs() < 1e-6, "{loss:?} d={d} bias={bias}: gap {}", optimum.gap);
            let problem = Problem::<f64>::new(train.clone(), None, loss, 0.02).unwrap();
            let cloud = Cloud::sample(300, train.d(), &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 6);
            let (mut sim, state) =
                Simulation::new(problem, Box::new(Gd), RunOptions::new(0.2, 300, 25, 7), cloud).unwrap();
            sim.set_optimum(optimum.value);
            sim.run(state, &mut []).unwrap();
            let tol = 1e-9 * optimum.value.abs().max(1.0);
            for row in sim.history() {
                let dual = row.dual_bound.unwrap();
                assert_eq!(row.certificate.as_deref(), Some("exact"), "d = {} is certified exactly", train.d());
                assert!(
                    dual <= optimum.value + tol,
                    "{loss:?} d={d} bias={bias} step {}: D = {dual} > L* = {}",
                    row.step,
                    optimum.value
                );
                assert!(
                    optimum.value <= row.loss + tol,
                    "step {}: L* = {} > L = {}",
                    row.step,
                    optimum.value,
                    row.loss
                );
                assert!(row.gap.unwrap() >= 0.0 && (row.excess.unwrap() - (row.loss - optimum.value)).abs() < 1e-15);
            }
        }
    }
}

#[test]
fn the_exact_solution_has_zero_gap_and_is_stationary() {
    // Labels in {-1, +1} for both losses; on these data no optimal neuron sits on an activation
    // boundary (where fixed-step gd would oscillate across the kink).
    for loss in [Loss::Logistic, Loss::Squared] {
        let train = data(2, false, Loss::Logistic);
        let optimum = convex::solve(&train, loss, 0.05, &OptimumOptions::default()).unwrap();
        let u = optimum.particles.slice(ndarray::s![.., 1..]);
        assert!(train.x.dot(&u.t()).iter().all(|z| z.abs() > 1e-6), "{loss:?}: a neuron sits on a boundary");
        let problem = Problem::<f64>::new(train, None, loss, 0.05).unwrap();
        let cloud = Cloud::new(optimum.particles.clone()).unwrap();
        let (mut sim, state) =
            Simulation::new(problem, Box::new(Gd), RunOptions::new(0.05, 400, 100, 1), cloud).unwrap();
        let first = sim.metrics(&state).unwrap();
        assert!((first.loss - optimum.value).abs() < 1e-12, "{loss:?}: {} vs {}", first.loss, optimum.value);
        assert!(first.gap.unwrap() < 1e-7, "{loss:?}: gap {} at the solution", first.gap.unwrap());
        let state = sim.run(state, &mut []).unwrap();
        let last = sim.metrics(&state).unwrap();
        assert!((last.loss - optimum.value).abs() < 1e-8, "{loss:?}: drifted from {} to {}", optimum.value, last.loss);
        assert!(last.gap.unwrap() < 1e-7);
    }
}

#[test]
fn a_long_gd_run_on_the_quickstart_reaches_the_exact_optimum() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    let scenario = ValidScenario::load(&path, &[]).unwrap();
    let (mut sim, state) = meanfield::setup::simulation::<f64>(&scenario).unwrap();
    let optimum =
        convex::solve(&sim.problem.train, sim.problem.loss, sim.problem.lambda, &OptimumOptions::default()).unwrap();
    assert!(optimum.exact);
    let state = sim.run(state, &mut []).unwrap();
    let last = sim.metrics(&state).unwrap();
    assert!((last.loss - optimum.value).abs() <= 1e-7 * optimum.value, "gd {} vs L* {}", last.loss, optimum.value);
    assert!(last.gap.unwrap() < 1e-6 && last.certificate.as_deref() == Some("exact"));
}

#[test]
fn hypercube_xor_is_certified_exactly() {
    let train = Distribution::Xor { d: 3, noise: XorNoise::Sign }.sample(40, 1, Purpose::TrainData).unwrap();
    let optimum = convex::solve(&train, Loss::Logistic, 0.01, &OptimumOptions::default()).unwrap();
    assert!(optimum.exact && optimum.gap < 1e-6);
    assert_eq!(optimum.neurons, 4, "the XOR optimum has four neurons");
}

#[test]
fn optimum_command_prints_json_and_writes_a_cloud_that_runs_start_from() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("train.csv");
    data(2, false, Loss::Logistic).to_csv(&csv).unwrap();
    let npy = tmp.path().join("opt.npy");
    let bin = env!("CARGO_BIN_EXE_meanfield");
    let out = Command::new(bin)
        .args([
            "optimum",
            "--data",
            csv.to_str().unwrap(),
            "--lambda",
            "0.02",
            "--loss",
            "logistic",
            "--bias",
            "--json",
        ])
        .args(["--particles", npy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["value", "dual", "gap", "patterns", "exact", "neurons"] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    assert_eq!(json["exact"], true);
    let value = json["value"].as_f64().unwrap();
    let expected =
        convex::solve(&data(2, false, Loss::Logistic).with_bias(), Loss::Logistic, 0.02, &OptimumOptions::default())
            .unwrap();
    assert!((value - expected.value).abs() < 1e-12);

    let scenario = tmp.path().join("s.toml");
    let text = format!(
        "lambda = 0.02\n[data]\nkind = \"csv\"\npath = \"train.csv\"\nbias = true\n[model]\ninit = {{ file = \"{}\" }}\n\
         [dynamics]\nkind = \"gd\"\neta = 0.05\n[run]\nsteps = 50\nlog_every = 10\nplots = false\n",
        npy.display()
    );
    std::fs::write(&scenario, text).unwrap();
    let run = Command::new(bin)
        .args(["run", scenario.to_str().unwrap(), "--quiet", "--out"])
        .arg(tmp.path().join("run"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("run/summary.json")).unwrap()).unwrap();
    assert!((summary["final"]["loss"].as_f64().unwrap() - value).abs() < 1e-8);
    assert!(summary["final"]["gap"].as_f64().unwrap() < 1e-7);
}
