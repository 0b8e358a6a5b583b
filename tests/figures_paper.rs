//! The paper's figures in their `--quick` versions, through the binary: every file is written and the findings
//! are finite and say what the figure claims.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs `meanfield figure NAME --quick --out DIR --quiet`; the report (also written to DIR/NAME-quick.json).
fn quick(name: &str, out: &Path) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["figure", name, "--quick", "--quiet", "--json", "--out", out.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(format!("{name}-quick.json"))).unwrap()).unwrap();
    assert_eq!(report, written);
    for ext in ["png", "svg"] {
        let file = out.join(format!("{name}-quick.{ext}"));
        assert!(std::fs::metadata(&file).unwrap().len() > 1000, "{} is missing or empty", file.display());
    }
    report["findings"].clone()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn margin_rises_to_the_exact_max_margin() {
    let dir = tempfile::tempdir().unwrap();
    let f = quick("margin", dir.path());
    let star = f["gamma_star"].as_f64().unwrap();
    assert!((star - 0.125).abs() < 1e-9, "gamma* = {star} on the paper's data, where |x1| - |x2| is optimal");
    assert_eq!(f["paper_network_margin"].as_f64(), Some(0.125));
    let upper = f["gamma_star_upper_bound"].as_f64().unwrap();
    assert!(upper >= star && upper - star < 1e-8, "dual bound {upper}");
    let (trained, exact) = (numbers(&f["gamma_trained"]), numbers(&f["gamma_exact_optimum"]));
    assert_eq!((trained.len(), exact.len()), (2, 2));
    assert!(trained.iter().chain(&exact).all(|g| g.is_finite() && *g <= star + 1e-6), "{trained:?} {exact:?}");
    assert!(exact[0] < exact[1] && star - exact[1] < 0.4 * (star - exact[0]), "lambda 1e-2 -> 1e-4: {exact:?}");
    assert!(trained.iter().zip(&exact).all(|(t, e)| t > &0.0 && (t - e).abs() < 0.005), "{trained:?} {exact:?}");
}

#[test]
fn width_reports_margin_and_test_error_per_width() {
    let dir = tempfile::tempdir().unwrap();
    let f = quick("width", dir.path());
    assert_eq!(f["widths"], serde_json::json!([16, 64]));
    for key in ["margin", "test_error", "train_error"] {
        let (mean, sd) = (numbers(&f[key]["mean"]), numbers(&f[key]["sd"]));
        assert_eq!((mean.len(), sd.len()), (2, 2), "{key}");
        assert!(mean.iter().chain(&sd).all(|v| v.is_finite()) && sd.iter().all(|s| *s >= 0.0), "{key}");
    }
    let test = numbers(&f["test_error"]["mean"]);
    assert!(test.iter().all(|e| (0.0..0.5).contains(e)), "test errors {test:?}: better than chance");
    // The mean margin's change over the last 10% of training: from the last logged step <= 270 to the end.
    let margin = numbers(&f["margin"]["mean"]);
    for (k, late) in f["margin_change_last_10pct"].as_array().unwrap().iter().enumerate() {
        assert_eq!(late["from_step"].as_f64(), Some(270.0));
        let (from, to, change) =
            (late["from"].as_f64().unwrap(), late["to"].as_f64().unwrap(), late["change"].as_f64().unwrap());
        assert_eq!(to, margin[k], "the end of the curve is the final mean margin");
        assert!((change - (to - from)).abs() < 1e-15 && change > 0.0, "{late}: margins still rise at 300 steps");
    }
    // Paired differences m = 16 -> 64 over the 2 seeds: mean inside its interval, and the margin difference
    // equals the difference of the means (same seeds on both sides).
    let pairs = f["paired_differences"].as_array().unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!((pairs[0]["from_m"].as_u64(), pairs[0]["to_m"].as_u64()), (Some(16), Some(64)));
    for key in ["margin", "test_error"] {
        let p = &pairs[0][key];
        let (mean, ci) = (p["mean"].as_f64().unwrap(), numbers(&p["ci95"]));
        assert!(ci[0] <= mean && mean <= ci[1] && p["seeds"] == 2, "{key}: {p}");
    }
    let diff = pairs[0]["margin"]["mean"].as_f64().unwrap();
    assert!((diff - (margin[1] - margin[0])).abs() < 1e-12, "{diff} against {margin:?}");
}

#[test]
fn regime_tracks_error_margin_and_pattern_change_in_both_units() {
    let dir = tempfile::tempdir().unwrap();
    let f = quick("regime", dir.path());
    let finals = f["final"].as_array().unwrap();
    assert_eq!(finals.len(), 4);
    let keys: Vec<(String, f64)> =
        finals.iter().map(|r| (r["units"].as_str().unwrap().to_string(), r["lambda"].as_f64().unwrap())).collect();
    let expected = [("paper", 0.0), ("paper", 5e-4), ("mean-field", 0.0), ("mean-field", 5e-4)];
    assert_eq!(keys, expected.map(|(u, l)| (u.to_string(), l)));
    for run in finals {
        let value = |key: &str| run[key]["mean"].as_f64().unwrap();
        assert!((0.0..0.5).contains(&value("test_error")), "{run}");
        assert!(value("pattern_change") > 0.0 && value("pattern_change") < 1.0, "{run}");
        assert!(value("margin").is_finite());
    }
    // The paper's large initialisation is closer to the kernel regime: without weight decay it changes fewer
    // activation patterns than the same N(0, 1) scales in mean-field units.
    let change = |k: usize| finals[k]["pattern_change"]["mean"].as_f64().unwrap();
    assert!(change(0) < change(2), "paper {} against mean-field {}", change(0), change(2));
    // Paired test-error differences lambda = 0 minus lambda = 5e-4, one per units, equal to the difference of the
    // means (the same seeds on both sides) and inside their intervals.
    let differences = f["test_error_difference"].as_array().unwrap();
    assert_eq!(differences.len(), 2);
    for (k, difference) in differences.iter().enumerate() {
        assert_eq!(difference["units"], finals[2 * k]["units"]);
        let error = |j: usize| finals[j]["test_error"]["mean"].as_f64().unwrap();
        let mean = difference["mean"].as_f64().unwrap();
        assert!((mean - (error(2 * k) - error(2 * k + 1))).abs() < 1e-12, "{difference}");
        let ci = numbers(&difference["ci95"]);
        assert!(ci[0] <= mean + 1e-15 && mean <= ci[1] + 1e-15, "{difference}");
    }
}

#[test]
fn dynamics_stay_above_the_optimum_and_gd_closes_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let f = quick("dynamics", dir.path());
    assert_eq!(f["optimum_exact"], Value::Bool(true));
    let runs = f["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for run in runs {
        let (excess, gap) = (run["excess"].as_f64().unwrap(), run["gap"].as_f64().unwrap());
        assert!(excess >= -1e-9 && gap >= -1e-9 && gap >= excess - 1e-9, "{run}: L* <= L and D <= L*");
    }
    assert_eq!(runs[0]["label"], "gd");
    assert!(runs[0]["gap"].as_f64().unwrap() < 1e-3, "{}", runs[0]);
}

#[test]
fn the_figures_are_listed() {
    let output = Command::new(env!("CARGO_BIN_EXE_meanfield")).args(["figure", "--list"]).output().unwrap();
    let list = String::from_utf8(output.stdout).unwrap();
    for name in ["margin", "width", "regime", "dynamics", "escape"] {
        assert!(list.lines().any(|l| l.starts_with(name)), "{name} missing from {list}");
    }
}

#[test]
fn temperature_free_energy_and_its_bound_meet_and_the_excess_grows_with_tau() {
    let dir = tempfile::tempdir().unwrap();
    let f = quick("temperature", dir.path());
    let runs = f["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4, "three temperatures and the annealed run");
    assert_eq!(f["stop"], serde_json::json!({ "tau_change": 0.1, "window": 400 }));
    for run in runs {
        assert_eq!(run["certificate_free_energy"], serde_json::json!(["exact"]), "d = 2: {run}");
        let gap = numbers(&run["gap_free_energy"])[0];
        let tau = numbers(&run["final_tau"])[0];
        // Every run trains to the stopping rule (which cannot hold before two windows, 800 steps) or to the cap.
        let steps = run["steps"][0].as_u64().unwrap();
        match run["stop_reason"][0].as_str().unwrap() {
            "cap" => assert_eq!(steps, 2000, "{run}"),
            "free_energy_change" => assert!((800..=2000).contains(&steps) && steps % 100 == 0, "{run}"),
            other => panic!("unknown stop reason {other}: {run}"),
        }
        // The estimated free energy meets its certified lower bound up to the entropy estimate's error
        // (a few hundredths of a nat at m = 400 in D = 3, times tau) and the distance left to the optimum.
        assert!(gap.abs() < 0.2 * tau + 1e-4, "{}: final gap_free_energy {gap}", run["label"]);
    }
    let excess = numbers(&f["excess_mean"]);
    assert!(excess.iter().all(|e| *e > 0.0), "L stays above L*: {excess:?}");
    assert!(excess[0] < excess[1] && excess[1] < excess[2], "L - L* grows with tau: {excess:?}");
    let slope = f["slope"].as_f64().unwrap();
    assert!(slope > 0.3 && slope < 1.5, "log-log slope of L - L* against tau: {slope}");
}

#[test]
fn kernel_vs_net_compares_four_predictors_on_both_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let f = quick("kernel-vs-net", dir.path());
    // The quick `[quick.net_stop]` section merges into the full `[net_stop]`: the full run's boost (with the
    // fully corrective reweighting) and step sizes, the quick lambda.
    let boost = &f["params"]["net_stop"]["boost"];
    assert_eq!((boost["reweight"].as_bool(), boost["confirm"].as_u64()), (Some(true), Some(3)), "{boost}");
    assert_eq!(f["params"]["net_stop"]["eta_regression"].as_f64(), Some(0.2));
    assert_eq!(f["params"]["net_stop"]["lambda"].as_f64(), Some(1e-2));
    assert_eq!(f["curves"]["regression"]["net_stop"]["label"], "net, lambda = 1e-2, to the stopping rule (cap 20000)");
    for task in ["classification", "regression"] {
        for predictor in ["net_stop", "net_paper", "arccos", "ntk"] {
            let c = &f["curves"][task][predictor];
            let (mean, sd) = (numbers(&c["mean"]), numbers(&c["sd"]));
            assert_eq!((mean.len(), sd.len()), (2, 2), "{task} {predictor}");
            assert!(mean.iter().chain(&sd).all(|v| v.is_finite() && *v >= 0.0), "{task} {predictor}: {c}");
            if task == "classification" {
                assert!(mean.iter().all(|e| *e <= 1.0), "{c}");
            }
            if predictor == "arccos" || predictor == "ntk" {
                assert!(mean[1] < mean[0], "{task} {predictor}: the kernel's error does not fall with n: {mean:?}");
            }
        }
        let stop = &f["nets"][task]["net_stop"];
        assert!(stop["stop_reasons"].get("cap").is_none(), "{task}: a quick net_stop run hit the cap: {stop}");
        // A run stopped by the gap rule ends at G / L <= rel_gap; mass insertions happen in net_stop (boost) only.
        let rel_gap = f["params"]["net_stop"]["stop"]["rel_gap"].as_f64().unwrap();
        let runs = stop["runs"].as_array().unwrap();
        for r in runs.iter().map(|r| &r["run"]).filter(|r| r["stop_reason"] == "rel_gap") {
            assert!(r["relative_gap"].as_f64().unwrap() <= rel_gap, "{task}: {r}");
        }
        assert!(runs.iter().any(|r| r["run"]["inserted"].as_u64().unwrap() > 0), "{task}: no insertion in {stop}");
        let paper_runs = f["nets"][task]["net_paper"]["runs"].as_array().unwrap();
        assert!(paper_runs.iter().all(|r| r["run"]["inserted"] == 0), "{task}: the paper's recipe is plain gd");
        let paper = &f["nets"][task]["net_paper"];
        assert_eq!(paper["stop_reasons"]["cap"].as_u64(), Some(6), "{task}: the paper's recipe runs its fixed steps");
        assert_eq!(paper["mean_steps"].as_f64(), Some(500.0));
        // Per-seed errors: three seeds whose mean is the curve's; the paired differences are their differences.
        let per_seed = |p: &str| -> Vec<Vec<f64>> {
            let rows = f["curves"][task][p]["per_seed"].as_array().unwrap();
            assert_eq!(rows.iter().map(|r| r["seed"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
            rows.iter().map(|r| numbers(&r["errors"])).collect()
        };
        for predictor in ["net_stop", "net_paper", "arccos", "ntk"] {
            let (rows, mean) = (per_seed(predictor), numbers(&f["curves"][task][predictor]["mean"]));
            for k in 0..2 {
                let m = rows.iter().map(|r| r[k]).sum::<f64>() / 3.0;
                assert!((m - mean[k]).abs() < 1e-12, "{task} {predictor} n index {k}: {m} against {}", mean[k]);
            }
        }
        for kernel in ["arccos", "ntk"] {
            let pair = &f["paired_differences"][task][format!("net_stop_minus_{kernel}")];
            let (net, ker) = (per_seed("net_stop"), per_seed(kernel));
            for (k, n) in [20, 80].iter().enumerate() {
                let d: Vec<f64> = net.iter().zip(&ker).map(|(a, b)| a[k] - b[k]).collect();
                let mean = d.iter().sum::<f64>() / 3.0;
                let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
                let half = 4.303 * sd / 3f64.sqrt();
                let entry = &pair[k];
                assert_eq!((entry["n"].as_u64(), entry["seeds"].as_u64()), (Some(*n), Some(3)), "{entry}");
                assert!((entry["mean"].as_f64().unwrap() - mean).abs() < 1e-12, "{entry}");
                let ci = numbers(&entry["ci95"]);
                assert!((ci[0] - (mean - half)).abs() < 1e-12 && (ci[1] - (mean + half)).abs() < 1e-12, "{entry}");
            }
        }
    }
}

#[test]
fn kernel_vs_net_reuse_takes_the_chosen_predictors_and_refuses_other_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let first = quick("kernel-vs-net", dir.path());
    let earlier = dir.path().join("kernel-vs-net-quick.json");
    let scenario =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/paper/kernel-vs-net.toml"))
            .unwrap();
    let run = |header: &str, body: &str, out: &Path| {
        let config = dir.path().join("reuse.toml");
        std::fs::write(&config, format!("{header}\n{body}")).unwrap();
        Command::new(env!("CARGO_BIN_EXE_meanfield"))
            .args(["figure", "kernel-vs-net", "--quick", "--quiet", "--json"])
            .args(["--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    let reuse =
        format!("reuse = {:?}\nreuse_methods = [\"net_paper\", \"arccos\", \"ntk\"]", earlier.to_str().unwrap());
    let out = run(&reuse, &scenario, &dir.path().join("again"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    let again = &again["findings"];
    // The reused predictors are copied, net_stop is computed again: the same seeds give the same numbers.
    for key in ["curves", "paired_differences", "nets"] {
        assert_eq!(again[key], first[key], "{key}");
    }
    assert_eq!(again["params"]["reuse_methods"], serde_json::json!(["net_paper", "arccos", "ntk"]));
    // A different ridge parameter changes the kernels' regression errors: refused, naming the field.
    assert!(scenario.contains("\nridge_mu = 1e-6 "));
    let out = run(&reuse, &scenario.replace("\nridge_mu = 1e-6 ", "\nridge_mu = 1e-5 "), &dir.path().join("bad"));
    let message = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{message}");
    assert!(message.contains("field `params.ridge_mu` = 1e-6") && message.contains("needed for arccos"), "{message}");
    assert!(!dir.path().join("bad").join("kernel-vs-net-quick.json").exists());
}

#[test]
fn escape_gd_stays_at_dead_zero_and_collapsed_clouds_while_the_perturbed_flow_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let f = quick("escape", dir.path());
    assert_eq!(f["optimum_exact"], Value::Bool(true));
    let (l0, optimum) = (f["l0"].as_f64().unwrap(), f["optimum"].as_f64().unwrap());
    assert!((l0 - std::f64::consts::LN_2).abs() < 1e-12 && optimum < l0 - 0.1, "l(0) = {l0}, L* = {optimum}");
    let runs = f["runs"].as_array().unwrap();
    // Starts dead (R = 1), zero, collapsed; dynamics gd and perturbed (sigma = 1e-3) each.
    assert_eq!(runs.len(), 6);
    let value = |run: &Value, key: &str| run[key].as_f64().unwrap();
    for pair in runs.chunks(2) {
        let (gd, perturbed) = (&pair[0], &pair[1]);
        assert_eq!((gd["dynamics"].as_str(), pair[0]["start"].clone()), (Some("gd"), pair[1]["start"].clone()));
        assert!(perturbed["dynamics"].as_str().unwrap().starts_with("perturbed"));
        for run in pair {
            assert_eq!(run["certificate"], "exact", "{run}");
            assert!(value(run, "final_gap") >= value(run, "final_excess") - 1e-9, "{run}: D <= L*");
            assert!(value(run, "final_excess") >= -1e-9, "{run}: L >= L*");
        }
        assert!(gd["time_to_gap"].is_null(), "{gd}");
        assert!(value(gd, "final_gap") > 0.2, "{gd}: gd stays far from the optimum");
        // gd never meets the stopping rule G / L <= rel_gap: it runs to the cap.
        assert_eq!((gd["stop_reason"].as_str(), gd["steps"].as_u64()), (Some("cap"), f["steps"].as_u64()), "{gd}");
        let rel_gap = f["stop"]["rel_gap"].as_f64().unwrap();
        match perturbed["stop_reason"].as_str().unwrap() {
            "rel_gap" => {
                assert!(value(perturbed, "final_gap") <= rel_gap * value(perturbed, "final_loss"), "{perturbed}")
            }
            "cap" => assert_eq!(perturbed["steps"].as_u64(), f["steps"].as_u64(), "{perturbed}"),
            other => panic!("unknown stop reason {other}: {perturbed}"),
        }
        assert!(value(perturbed, "final_gap") < 0.5 * value(gd, "final_gap"), "{perturbed} against {gd}");
        assert!(value(perturbed, "final_loss") < value(gd, "final_loss") - 0.1, "{perturbed} against {gd}");
    }
    // Dead and zero clouds: the predictions stay 0, so gd's L is l(0) plus a penalty that decays to nothing.
    for gd in [&runs[0], &runs[2]] {
        assert!((value(gd, "final_data_fit") - l0).abs() < 1e-12, "{gd}");
        assert!((value(gd, "final_loss") - l0).abs() < 1e-12, "{gd}");
    }
    assert_eq!(value(&runs[2], "final_penalty"), 0.0, "the zero cloud does not move under gd");
    // Collapsed: gd keeps the particles together (one Dirac mass) at a point with a lower L than l(0) but a large
    // certified gap; the perturbed flow spreads them.
    let collapsed = &runs[4];
    assert!(collapsed["start"].as_str().unwrap().starts_with("collapsed"));
    assert_eq!(value(collapsed, "final_spread"), 0.0, "{collapsed}");
    assert!(value(collapsed, "final_loss") < l0 && value(&runs[5], "final_spread") > 1.0);
}

#[test]
fn kernel_vs_net_small_lambda_runs_classification_only_with_the_same_kernels() {
    let dir = tempfile::tempdir().unwrap();
    let both = quick("kernel-vs-net", dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["figure", "kernel-vs-net", "--quick", "--quiet", "--json"])
        .args(["--config", "scenarios/paper/kernel-vs-net-lambda-1e-5.toml", "--out"])
        .arg(dir.path().join("small"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &report["findings"];
    assert_eq!(f["params"]["tasks"], serde_json::json!(["classification"]));
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    for key in ["curves", "paired_differences", "nets"] {
        assert_eq!(keys(&f[key]), ["classification"], "{key}");
    }
    // The quick versions of both files differ in nothing but the tasks (and the quick file's empty reuse): the
    // classification numbers are those of the two-task run.
    for key in ["curves", "paired_differences", "nets"] {
        assert_eq!(f[key]["classification"], both[key]["classification"], "{key}");
    }
}
