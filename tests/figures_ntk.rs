//! `meanfield figure sample-complexity --quick` through the binary: files, the JSON report and
//! its findings.

use std::process::Command;

#[test]
fn quick_sample_complexity_trains_every_net_to_a_rule_and_the_kernel_needs_more_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["figure", "sample-complexity", "--quick", "--quiet", "--json", "--out"])
        .arg(tmp.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for stem in ["sample-complexity-quick-error", "sample-complexity-quick-nstar"] {
        for ext in ["png", "svg"] {
            let path = tmp.path().join(format!("{stem}.{ext}"));
            assert!(std::fs::metadata(&path).map(|m| m.len() > 1000).unwrap_or(false), "{} missing", path.display());
        }
    }
    let text = std::fs::read_to_string(tmp.path().join("sample-complexity-quick.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report, serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(), "stdout is the JSON file");
    assert_eq!(report["name"], "sample-complexity");
    assert_eq!(report["files"].as_array().unwrap().len(), 4);
    let f = &report["findings"];
    for method in ["net", "ntk_interpolation", "ntk_svm"] {
        let all = &f["slopes"][method]["eps_0.1"]["all"];
        let slope = all["fit"]["slope"].as_f64().unwrap_or(f64::NAN);
        assert!(slope.is_finite() && slope > 0.0, "{method}: slope {slope}");
        let (lo, hi) = (all["fit"]["ci95"][0].as_f64(), all["fit"]["ci95"][1].as_f64());
        assert!(lo.is_none() && hi.is_none(), "two dimensions leave no degrees of freedom for a t-interval");
        let (lo, hi) = (all["bootstrap_ci95"][0].as_f64().unwrap(), all["bootstrap_ci95"][1].as_f64().unwrap());
        assert!(lo <= slope + 1e-9 && slope <= hi + 1e-9 && all["bootstrap_fitted"].as_u64().unwrap() > 0, "{all}");
        for half in ["lower_half", "upper_half"] {
            assert!(f["slopes"][method]["eps_0.1"][half]["dims"].is_array(), "{method} {half}");
        }
        let n_star = f["n_star"][method]["eps_0.1"].as_array().unwrap();
        assert_eq!(n_star.len(), 2, "{method}: one n* per dimension of the quick grid");
        for point in n_star {
            let n = point["n_star"].as_f64().unwrap();
            assert!((8.0..=512.0).contains(&n), "{method}: n* = {n} outside the quick grid");
        }
    }
    // Every curve point holds one test error per seed, in [0, 1], averaged into mean_error.
    let curves = f["curves"].as_array().unwrap();
    for point in curves {
        let errors: Vec<f64> = point["errors"].as_array().unwrap().iter().map(|e| e.as_f64().unwrap()).collect();
        assert_eq!(errors.len(), 3);
        assert!(errors.iter().all(|e| (0.0..=1.0).contains(e)));
        let mean = errors.iter().sum::<f64>() / 3.0;
        assert!((point["mean_error"].as_f64().unwrap() - mean).abs() < 1e-12);
    }
    let mut max_gap = 0.0f64;
    for c in curves.iter().filter(|c| c["method"] == "net") {
        for run in c["runs"].as_array().unwrap() {
            let reason = run["stop_reason"].as_str().unwrap();
            assert_ne!(reason, "cap", "a quick net run hit the step cap: {c}");
            let gap = run["relative_gap"].as_f64().unwrap();
            if reason == "rel_gap" {
                assert!(gap <= 1e-2, "stopped by rel_gap = 1e-2 at G/L = {gap}");
            }
            max_gap = max_gap.max(gap);
        }
    }
    assert_eq!(f["max_final_relative_gap"].as_f64().unwrap(), max_gap);
    assert_eq!(f["capped_runs"].as_array().unwrap().len(), 0);
    // Around n* the grid is at most 2^(1/4) apart (up to rounding).
    for method in ["net", "ntk_interpolation"] {
        for d in [8, 12] {
            let n: Vec<f64> = curves
                .iter()
                .filter(|c| c["method"] == method && c["d"] == d)
                .map(|c| c["n"].as_f64().unwrap())
                .collect();
            let star = f["n_star"][method]["eps_0.1"].as_array().unwrap().iter().find(|p| p["d"] == d).unwrap()
                ["n_star"]
                .as_f64()
                .unwrap_or_else(|| panic!("{method} d = {d}: no n*"));
            let below = n.iter().copied().filter(|&x| x <= star).fold(0.0, f64::max);
            let above = n.iter().copied().filter(|&x| x >= star).fold(f64::INFINITY, f64::min);
            assert!(
                above / below <= 2f64.powf(0.25) * 1.05,
                "{method} d = {d}: n* = {star} between {below} and {above}"
            );
        }
    }
    // The kernel needs more samples than the net at every d, for every eps.
    for eps in ["eps_0.05", "eps_0.1", "eps_0.2"] {
        let stars = |m: &str| -> Vec<f64> {
            f["n_star"][m][eps].as_array().unwrap().iter().map(|p| p["n_star"].as_f64().unwrap()).collect()
        };
        let (net, ntk) = (stars("net"), stars("ntk_interpolation"));
        assert!(net.iter().zip(&ntk).all(|(a, b)| a < b), "{eps}: net {net:?}, NTK {ntk:?}");
    }
    let all = &f["slopes"]["net"]["eps_0.1"]["all"];
    let slope = all["fit"]["slope"].as_f64().unwrap();
    let (lo, hi) = (all["bootstrap_ci95"][0].as_f64().unwrap(), all["bootstrap_ci95"][1].as_f64().unwrap());
    assert!(lo <= slope + 1e-9 && slope <= hi + 1e-9 && all["bootstrap_fitted"].as_u64().unwrap() > 0, "{all}");
    assert!(
        f["slopes"]["net"]["eps_0.1"]["lower_half"].is_object()
            && f["slopes"]["net"]["eps_0.1"]["upper_half"].is_object()
    );
}
