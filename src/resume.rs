//! Resuming and extending runs: which fields of two resolved scenarios differ (so that a refused
//! `--resume` names them), and the state of a finished run rebuilt from its outputs, so that
//! `meanfield run SCENARIO --resume --set run.steps=N` continues a complete run of K < N steps to
//! the outputs of an uninterrupted run of N steps.
//!
//! A finished run keeps no checkpoint, but its outputs hold its state exactly: `particles.npy`
//! (float64, exact for f32 particles too), the step and the time (the last row of `metrics.csv`,
//! written with shortest round-trip formatting), and the rows logged so far. The predictions are
//! recomputed from the particles (sums of the neurons' contributions are exact, so they are
//! the ones the run carried), the initial cloud is drawn again from the seed, and L* is computed
//! again when `run.reference` asks for it.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::ValidScenario;
use crate::engine::{Checkpoint, Simulation, State};
use crate::error::{Error, Result};
use crate::linalg::Real;
use crate::metrics::Metrics;
use crate::model::Cloud;

/// The scalar leaves of a TOML document by dotted path.
fn leaves(text: &str) -> BTreeMap<String, String> {
    fn walk(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
        match value {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&path, v, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(table) = toml::from_str::<toml::Table>(text) {
        walk("", &toml::Value::Table(table), &mut out);
    }
    out
}

/// The fields whose values differ between two resolved scenarios: (dotted path, value in `old`,
/// value in `new`), `None` where a field is absent, in path order.
pub fn differences(old: &str, new: &str) -> Vec<(String, Option<String>, Option<String>)> {
    let (a, b) = (leaves(old), leaves(new));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| ((*k).clone(), a.get(k).cloned(), b.get(k).cloned()))
        .collect()
}

/// "`dynamics.eta` = 0.5 there, 0.1 now (and 2 more fields: run.steps, seed)".
pub fn describe(differences: &[(String, Option<String>, Option<String>)]) -> String {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not set)".into());
    let Some((first, old, new)) = differences.first() else { return "no field differs".into() };
    let mut text = format!("`{first}` = {} there, {} now", show(old), show(new));
    if differences.len() > 1 {
        let rest: Vec<&str> = differences[1..].iter().map(|d| d.0.as_str()).collect();
        text += &format!(" (and {} more: {})", rest.len(), rest.join(", "));
    }
    text
}

/// Checks that a run resolved as `old` (a checkpoint's or a finished run's scenario) may be
/// continued as `new`: they may differ only in `run.steps`, and only upwards from `step`, the
/// step the run reached. `what` names the source in errors.
pub fn check_continuation(path: &Path, what: &str, old: &str, new: &str, step: u64, steps: u64) -> Result<()> {
    let differing = differences(old, new);
    if differing.iter().any(|d| d.0 != "run.steps") {
        return Err(Error::data(
            path,
            "resume",
            format!(
                "{what} belongs to a different scenario: {}; only run.steps may change on --resume \
                 (to start afresh, run with --force and without --resume)",
                describe(&differing)
            ),
        ));
    }
    if steps < step {
        return Err(Error::data(
            path,
            "resume",
            format!("{what} is at step {step}, beyond run.steps = {steps}; give run.steps >= {step}"),
        ));
    }
    Ok(())
}

/// The summary of a finished run in `out`: its scenario text, steps and stop reason.
struct Finished {
    scenario: String,
    steps: u64,
    stop_reason: String,
}

fn finished(out: &Path) -> Result<Finished> {
    let path = out.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let bad = |what: &str| Error::data(&path, "resume", format!("{what}; the summary is damaged"));
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
    let scenario_path = out.join("scenario.toml");
    Ok(Finished {
        scenario: std::fs::read_to_string(&scenario_path).map_err(|e| Error::io(&scenario_path, e))?,
        steps: json["steps"].as_u64().ok_or_else(|| bad("no `steps`"))?,
        stop_reason: json["stop_reason"].as_str().unwrap_or("cap").to_string(),
    })
}

/// Whether `out` holds a finished run that `--resume` may extend to the scenario `toml` with
/// `steps` steps: an error saying why not (no checkpoint and no finished run, a different
/// scenario, a run a stopping rule ended, nothing left to do).
pub fn check_extension(out: &Path, toml: &str, steps: u64, movie: bool) -> Result<()> {
    let checkpoint = out.join("checkpoint.bin");
    if !out.join("summary.json").is_file() {
        return Err(Error::data(&checkpoint, "resume", "no checkpoint to resume from; run without --resume"));
    }
    let done = finished(out)?;
    let summary = out.join("summary.json");
    check_continuation(&summary, "the finished run", &done.scenario, toml, done.steps, steps)?;
    if done.stop_reason != "cap" {
        return Err(Error::data(
            &summary,
            "resume",
            format!(
                "the run was ended by its stopping rule ({}) at step {}; a longer run would have stopped there too",
                done.stop_reason, done.steps
            ),
        ));
    }
    if movie {
        return Err(Error::data(
            &summary,
            "resume",
            "a run with run.movie = true cannot be extended (its frames are not kept)",
        ));
    }
    if steps == done.steps {
        return Err(Error::data(
            &summary,
            "resume",
            format!(
                "the run is complete at run.steps = {steps}; to extend it, raise run.steps (--set run.steps=N, N > {steps})"
            ),
        ));
    }
    Ok(())
}

/// Clears the certificate columns of a row (a finished run certified its last step, which a
/// longer run certifies only when it is a multiple of `run.certify_every`).
fn uncertified(mut row: Metrics) -> Metrics {
    row.dual_bound = None;
    row.gap = None;
    row.certificate = None;
    row.entropy = None;
    row.free_energy = None;
    row.dual_free_energy = None;
    row.gap_free_energy = None;
    row.certificate_free_energy = None;
    row
}

/// The checkpoint of the finished run in `out` (checked by [`check_extension`]), for `sim` built
/// from `scenario` (the longer run; `toml` its resolved text): the state at the last step from
/// the outputs, the history without the rows a longer run would not have logged or certified.
pub fn from_finished<F: Real>(
    out: &Path,
    scenario: &ValidScenario,
    sim: &Simulation<F>,
    toml: &str,
) -> Result<Checkpoint<F>> {
    let particles = out.join("particles.npy");
    let theta = crate::output::read_npy(&particles)?;
    let width = sim.problem.x().ncols() + 1;
    if theta.ncols() != width {
        return Err(Error::data(
            &particles,
            "shape",
            format!("{} columns, but the run has 1 + d = {width}", theta.ncols()),
        ));
    }
    let cloud = Cloud::new(theta.mapv(F::of)).map_err(|e| Error::data(&particles, "values", e.to_string()))?;
    let mut history = Metrics::read_csv(&out.join("metrics.csv"))?;
    let last = history.last().cloned().ok_or_else(|| Error::data(out.join("metrics.csv"), "resume", "no rows"))?;
    let run = &scenario.scenario.run;
    let (log_every, certify_every) = (run.log_every.max(1), run.certify_every.unwrap_or(run.log_every));
    history.pop();
    if last.step % log_every == 0 {
        let certified = certify_every > 0 && last.step % certify_every == 0;
        history.push(if certified { last.clone() } else { uncertified(last.clone()) });
    }
    let predictions = cloud.predict(sim.problem.x().view());
    let initial = crate::setup::initial_cloud::<F>(scenario, &sim.problem.train)?;
    Ok(Checkpoint {
        scenario: toml.to_string(),
        state: State { cloud, step: last.step, time: last.time, predictions },
        initial,
        history,
        optimum: sim.optimum(),
        wall_seconds: last.wall_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_fields_are_named() {
        let old = "seed = 1\n[dynamics]\neta = 0.5\n[run]\nsteps = 10\n";
        let new = "seed = 2\n[dynamics]\neta = 0.1\n[run]\nsteps = 10\nplots = false\n";
        let d = differences(old, new);
        assert_eq!(describe(&d), "`dynamics.eta` = 0.5 there, 0.1 now (and 2 more: run.plots, seed)");
        assert!(differences(old, old).is_empty());
        let longer = old.replace("steps = 10", "steps = 20");
        check_continuation(Path::new("c"), "the checkpoint", old, &longer, 10, 20).unwrap();
        assert_eq!(
            check_continuation(Path::new("c"), "the checkpoint", old, &longer, 30, 20).unwrap_err().to_string(),
            "c:resume: the checkpoint is at step 30, beyond run.steps = 20; give run.steps >= 30"
        );
        assert_eq!(
            check_continuation(Path::new("c"), "the checkpoint", old, new, 10, 10).unwrap_err().to_string(),
            "c:resume: the checkpoint belongs to a different scenario: `dynamics.eta` = 0.5 there, 0.1 now \
             (and 2 more: run.plots, seed); only run.steps may change on --resume (to start afresh, run with --force \
             and without --resume)"
        );
    }
}
