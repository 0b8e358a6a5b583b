//! `meanfield figure sample-complexity --quick` through the binary: files, the JSON report and
//! its findings.

use std::process::Command;

#[test]
fn quick_sample_complexity_writes_its_figures_and_finite_slopes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meanfield"))
        .args(["figure", "sample-complexity", "--quick", "--quiet", "--out"])
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
    let findings = &report["findings"];
    for method in ["net", "ntk_interpolation", "ntk_svm"] {
        let fit = &findings["fits"][method];
        let slope = fit["slope"].as_f64().unwrap_or(f64::NAN);
        assert!(slope.is_finite() && slope > 0.0, "{method}: slope {slope}");
        let (lo, hi) = (fit["ci95"][0].as_f64().unwrap(), fit["ci95"][1].as_f64().unwrap());
        assert!(lo <= slope && slope <= hi, "{method}: {slope} outside [{lo}, {hi}]");
        let n_star = findings["n_star"][method].as_array().unwrap();
        assert_eq!(n_star.len(), 3, "{method}: one n* per dimension of the quick grid");
        for point in n_star {
            let n = point["n_star"].as_f64().unwrap();
            assert!((10.0..=320.0).contains(&n), "{method}: n* = {n} outside the quick grid");
        }
    }
    // Every curve point holds one test error per seed, in [0, 1], averaged into mean_error.
    for point in findings["curves"].as_array().unwrap() {
        let errors: Vec<f64> = point["errors"].as_array().unwrap().iter().map(|e| e.as_f64().unwrap()).collect();
        assert_eq!(errors.len(), 2);
        assert!(errors.iter().all(|e| (0.0..=1.0).contains(e)));
        let mean = errors.iter().sum::<f64>() / 2.0;
        assert!((point["mean_error"].as_f64().unwrap() - mean).abs() < 1e-12);
    }
}

#[test]
fn unknown_figures_and_bad_parameters_are_errors_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_meanfield"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("the binary runs")
    };
    let out = run(&["figure", "no-such-figure"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sample-complexity"));
    let config = tmp.path().join("bad.toml");
    let text =
        std::fs::read_to_string("scenarios/paper/sample-complexity.toml").unwrap().replace("eps = 0.1", "eps = 1.5");
    std::fs::write(&config, text).unwrap();
    let out = run(&["figure", "sample-complexity", "--quick", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("field `eps` = 1.5: must be in (0, 1)"), "{stderr}");
}
