//! The performance options keep the numbers: stored pre-activations give bit-identical runs, the
//! SIMD tier can be forced (and a wrong one is refused with a clear message), and `bench` reports
//! the tier, the store and, when asked, the GEMM peak.

use std::process::{Command, Output};

use meanfield::data::{Distribution, XorNoise};
use meanfield::dynamics::{Combined, Dynamics, Gd, Langevin, Perturbed};
use meanfield::engine::{Problem, RunOptions, Simulation};
use meanfield::loss::Loss;
use meanfield::metrics::Metrics;
use meanfield::model::{Cloud, Init, StoreActivations};
use meanfield::rng::Purpose;

fn meanfield(args: &[&str], simd: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meanfield"));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("MEANFIELD_SIMD");
    if let Some(tier) = simd {
        cmd.env("MEANFIELD_SIMD", tier);
    }
    cmd.output().expect("the binary runs")
}

/// The JSON object `bench` prints.
fn bench_json(args: &[&str], simd: Option<&str>) -> serde_json::Value {
    let out = meanfield(args, simd);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("bench --json prints one JSON object")
}

/// The metrics without the wall-clock time.
fn without_wall(history: &[Metrics]) -> Vec<Metrics> {
    history.iter().map(|m| Metrics { wall_seconds: 0.0, ..m.clone() }).collect()
}

/// A run with every dynamics, a test set and optionally mini-batches, keeping the pre-activations
/// as `store` says: the final cloud, predictions, metrics and whether it kept them.
fn run(
    store: StoreActivations,
    batch: Option<usize>,
    threads: usize,
) -> (ndarray::Array2<f64>, Vec<f64>, Vec<Metrics>, bool) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let xor = Distribution::Xor { d: 12, noise: XorNoise::Gaussian };
        let train = xor.sample(150, 3, Purpose::TrainData).unwrap();
        let test = xor.sample(80, 3, Purpose::TestData).unwrap();
        let problem = Problem::<f64>::new(train, Some(test), Loss::Logistic, 1e-3).unwrap();
        let cloud = Cloud::<f64>::sample(1500, 12, &Init::Gaussian { s_w: 1.0, s_u: 1.0 }, 4);
        let options = RunOptions { batch, store_activations: store, ..RunOptions::new(0.2, 6, 2, 5) };
        let dynamics: Box<dyn Dynamics<f64>> = Box::new(Combined::<f64>(vec![
            Box::new(Gd),
            Box::new(Langevin { tau: 1e-3, tau_decay: 1.0 }),
            Box::new(Perturbed { sigma: 0.5, reinit_radius: 1.0 }),
        ]));
        let (mut sim, state) = Simulation::new(problem, dynamics, options, cloud).unwrap();
        let stored = sim.stores_activations();
        let state = sim.run(state, &mut []).unwrap();
        (state.cloud.theta, state.predictions.to_vec(), without_wall(sim.history()), stored)
    })
}

#[test]
fn stored_pre_activations_give_bit_identical_runs() {
    for batch in [None, Some(40)] {
        let never = run(StoreActivations::Never, batch, 2);
        let always = run(StoreActivations::Always, batch, 2);
        assert!(!never.3 && always.3, "the store follows the option");
        assert_eq!(never.0, always.0, "particles, batch {batch:?}");
        assert_eq!(never.1, always.1, "predictions, batch {batch:?}");
        assert_eq!(never.2, always.2, "metrics, batch {batch:?}");
        assert_eq!(always.0, run(StoreActivations::Always, batch, 1).0, "1 and 2 threads, batch {batch:?}");
    }
    assert!(run(StoreActivations::Auto, None, 1).3, "auto keeps 1500 x 150 pre-activations");
}

#[test]
fn store_activations_always_needs_the_gemm_kernels() {
    let out = meanfield(&["validate", "scenarios/quickstart.toml", "--set", "run.store_activations=always"], None);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: --set run.store_activations=always: field `run.store_activations` = \"always\": needs an input dimension \
         d > 8 (here d = 2, bias included): below it the kernels compute the pre-activations in registers and \
         keep none; use \"auto\" or \"never\""
    );
    let out = meanfield(&["validate", "scenarios/quickstart.toml", "--set", "run.store_activations=sometimes"], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: --set run.store_activations=sometimes: field `run.store_activations`: unknown variant `sometimes`, expected one \
         of `auto`, `always`, `never`"
    );
}

#[test]
fn bench_reports_the_tier_the_store_and_the_peak() {
    let small = ["bench", "--m", "2000", "--n", "100", "--d", "12", "--steps", "1", "--json"];
    let report = bench_json(&small, None);
    assert_eq!(report["simd"], meanfield::linalg::Simd::best().name());
    assert_eq!(report["store_activations"], true);
    assert!(report.get("peak_gflops").is_none(), "the peak is measured only when asked");
    let portable = bench_json(&[&small[..], &["--store-activations", "never"]].concat(), Some("portable"));
    assert_eq!(portable["simd"], "portable");
    assert_eq!(portable["store_activations"], false);
    let peaked = bench_json(&[&small[..], &["--peak", "--peak-size", "300", "--dtype", "f64"]].concat(), None);
    let (gflops, peak) = (peaked["gflops"].as_f64().unwrap(), peaked["peak_gflops"].as_f64().unwrap());
    assert!(peak > 0.0);
    assert_eq!(peaked["fraction_of_peak"].as_f64().unwrap(), gflops / peak);
}

#[test]
fn an_unknown_or_missing_simd_tier_is_refused() {
    let out = meanfield(&["bench", "--m", "100", "--steps", "1"], Some("avx3"));
    assert!(!out.status.success());
    let have: Vec<&str> = meanfield::linalg::Simd::available().iter().map(|s| s.name()).collect();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "error: MEANFIELD_SIMD = \"avx3\": unknown SIMD tier; use one of avx512, avx2, neon, portable (this CPU \
             has {})",
            have.join(", ")
        )
    );
    let missing = meanfield::linalg::Tier::ALL.into_iter().find(|t| !t.is_available()).expect("no CPU has every tier");
    let out = meanfield(&["bench", "--m", "100", "--steps", "1"], Some(missing.name()));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with(&format!("error: MEANFIELD_SIMD = \"{}\": this CPU lacks ", missing.name())), "{err}");
}
