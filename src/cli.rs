//! Helpers of the command line that are worth testing on their own: what `validate` reads, the
//! thread count of `run --threads`, the series of `bench --scaling`, the run folders of `compare`
//! and the short summary `figure` prints.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::config::{InitSource, ValidScenario};
use crate::error::{Error, Result};
use crate::figures::FigureReport;

/// Reads the files a run of `scenario` would read: the csv data (training and test) and a cloud
/// given by `model.init.file` or drawn dead on the data, with the messages `meanfield run`
/// gives, and checks that such a cloud's initial predictions and penalty are finite
/// ([`crate::diagnose::check_initial`]). `validate` checks values, not the machine: a scenario
/// too large for this machine is not refused, and then only its csv files are read (generated
/// data and clouds are built only when they fit in memory). A Gaussian or sphere cloud is not
/// drawn; its scales are checked by the scenario rules.
pub fn read_inputs(scenario: &ValidScenario) -> Result<()> {
    let available = crate::resources::available_memory_bytes();
    let footprint = crate::footprint::of_scenario(scenario, 1)?;
    let fits = footprint.check(&scenario.source, available, crate::resources::MEMORY_ADVICE).is_ok();
    let csv = matches!(scenario.data, crate::config::DataSource::Csv { .. });
    if !fits && !csv {
        return Ok(());
    }
    let (train, _test) = crate::setup::datasets(scenario)?;
    if !fits {
        return Ok(());
    }
    if matches!(scenario.init, InitSource::File { .. } | InitSource::Dead { .. }) {
        let cloud = crate::setup::initial_cloud::<f64>(scenario, &train)?;
        let predictions = cloud.predict(train.x.view());
        let predictions = predictions.as_slice().expect("fresh predictions are contiguous");
        crate::diagnose::check_initial(scenario, &train, &cloud, predictions)?;
    }
    Ok(())
}

/// Makes this process use `threads` threads for its parallel work (`run --threads`), after
/// [`crate::resources::check_threads`].
pub fn use_threads(threads: usize) -> Result<()> {
    let threads = crate::resources::check_threads("--threads", threads)?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| Error::Invalid(format!("--threads {threads}: {e}")))
}

/// The series `start, 10 start, 100 start, ...` up to `top`, ending at `top` itself (`flag` names
/// it in the error when `top < start`).
pub fn decades(start: usize, top: usize, flag: &str) -> Result<Vec<usize>> {
    if top < start {
        return Err(Error::Invalid(format!("{flag} {top}: a scaling series starts at {start}; give at least {start}")));
    }
    let mut values = vec![start];
    while let Some(next) = values.last().and_then(|v| v.checked_mul(10)).filter(|v| *v <= top) {
        values.push(next);
    }
    if values.last() != Some(&top) {
        values.push(top);
    }
    Ok(values)
}

/// The `metrics.csv` of a run folder given to `compare`; an error (exit 1, a file that cannot be
/// read) names a missing folder or a folder without metrics.
pub fn run_metrics(dir: &Path) -> Result<PathBuf> {
    let missing = |path: &Path, what: &str| Error::io(path, std::io::Error::new(ErrorKind::NotFound, what.to_string()));
    match std::fs::metadata(dir) {
        Err(_) => return Err(missing(dir, "no such run folder")),
        Ok(m) if !m.is_dir() => return Err(missing(dir, "is a file, not a run folder")),
        Ok(_) => {}
    }
    let path = dir.join("metrics.csv");
    if !path.is_file() {
        return Err(missing(&path, "missing: not a meanfield run folder, or its run logged nothing yet"));
    }
    Ok(path)
}

/// What `figure` prints without `--json`: the files, the time and the top-level numbers of the
/// findings (the whole report is in `json`, the file just written).
pub fn figure_summary(report: &FigureReport, json: &Path) -> String {
    let files: Vec<String> = report.files.iter().map(|f| f.display().to_string()).collect();
    let mut text =
        format!("{}: {:.1} s; wrote {} and {}\n", report.name, report.seconds, files.join(", "), json.display());
    let mut nested = 0;
    if let Some(findings) = report.findings.as_object() {
        for (key, value) in findings {
            match value {
                serde_json::Value::Number(x) => {
                    let shown = x.as_f64().map_or_else(|| x.to_string(), crate::diagnose::short_sig);
                    text += &format!("  {key} = {shown}\n");
                }
                serde_json::Value::String(s) => text += &format!("  {key} = {s}\n"),
                serde_json::Value::Bool(b) => text += &format!("  {key} = {b}\n"),
                serde_json::Value::Null => text += &format!("  {key} = null\n"),
                _ => nested += 1,
            }
        }
    }
    if nested > 0 {
        text += &format!("  and {nested} nested finding(s) in {} (--json prints the whole report)\n", json.display());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_series_end_at_the_requested_size() {
        assert_eq!(decades(1000, 1_000_000, "--m").unwrap(), vec![1000, 10_000, 100_000, 1_000_000]);
        assert_eq!(decades(200, 20_000, "--n").unwrap(), vec![200, 2000, 20_000]);
        assert_eq!(decades(1000, 50_000, "--m").unwrap(), vec![1000, 10_000, 50_000]);
        assert_eq!(decades(1000, 1000, "--m").unwrap(), vec![1000]);
        assert_eq!(
            decades(1000, 10, "--m").unwrap_err().to_string(),
            "--m 10: a scaling series starts at 1000; give at least 1000"
        );
    }

    #[test]
    fn compare_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let none = dir.path().join("none");
        let err = run_metrics(&none).unwrap_err();
        assert_eq!((err.exit_code(), err.to_string()), (1, format!("{}: no such run folder", none.display())));
        let err = run_metrics(dir.path()).unwrap_err();
        assert!(err
            .to_string()
            .ends_with("metrics.csv: missing: not a meanfield run folder, or its run logged nothing yet"));
        std::fs::write(dir.path().join("metrics.csv"), "step\n").unwrap();
        assert_eq!(run_metrics(dir.path()).unwrap(), dir.path().join("metrics.csv"));
    }

    #[test]
    fn figure_summaries_are_short() {
        let report = FigureReport {
            name: "margin".into(),
            files: vec![PathBuf::from("p/margin.png"), PathBuf::from("p/margin.svg")],
            seconds: 2.31,
            findings: serde_json::json!({"gamma_star": 0.125, "note": "ok", "runs": [1, 2], "slope": 0.98312345}),
        };
        assert_eq!(
            figure_summary(&report, Path::new("p/margin.json")),
            "margin: 2.3 s; wrote p/margin.png, p/margin.svg and p/margin.json\n  gamma_star = 0.125\n  note = ok\n  \
             slope = 0.9831\n  and 1 nested finding(s) in p/margin.json (--json prints the whole report)\n"
        );
    }
}
