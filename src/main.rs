//! The `meanfield` command line: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use meanfield::runner::{self, Verbosity};
use meanfield::scenario::ValidScenario;
use meanfield::Error;

const EXAMPLES: &str = "\
Examples:
  meanfield run scenarios/quickstart.toml
  meanfield run scenarios/perturbed.toml --set dynamics.sigma=0.1 --set data.n=200 --seed 3
  meanfield run scenarios/paper-d.toml --out runs/paper-d20 --quiet
  meanfield validate scenarios/teacher.toml";

/// Simulate infinite-width two-layer ReLU networks as particle clouds (Wei, Lee, Liu & Ma 2019).
#[derive(Parser, Debug)]
#[command(name = "meanfield", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario and write metrics.csv, particles.npy, plots and summary.json.
    #[command(after_help = EXAMPLES)]
    Run(RunArgs),
    /// Check a scenario file (with overrides) without running it; prints the resolved scenario.
    Validate(ScenarioArgs),
}

#[derive(Args, Debug)]
struct ScenarioArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Override a scenario value by its dotted path, e.g. --set dynamics.sigma=0.1 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Override the scenario seed.
    #[arg(long)]
    seed: Option<u64>,
}

impl ScenarioArgs {
    fn load(&self) -> Result<ValidScenario, Error> {
        let mut overrides = self.set.clone();
        if let Some(seed) = self.seed {
            overrides.push(format!("seed={seed}"));
        }
        ValidScenario::load(&self.scenario, &overrides)
    }
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Output folder (default: runs/<scenario name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress bar or messages on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// Exit codes (documented in the README).
fn exit_code(error: &Error) -> u8 {
    match error {
        Error::Diverged { .. } => 3,
        Error::Io { .. } | Error::Plot { .. } | Error::Solver(_) => 1,
        _ => 2,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run(args),
        Command::Validate(args) => args.load().map(|s| print!("{}", s.to_toml())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(exit_code(&error))
        }
    }
}

fn run(args: &RunArgs) -> Result<(), Error> {
    let scenario = args.scenario.load()?;
    let out = args.out.clone().unwrap_or_else(|| runner::default_out_dir(&scenario));
    let verbosity = if args.quiet { Verbosity::Quiet } else { Verbosity::Normal };
    let summary = runner::run(&scenario, &out, verbosity)?;
    if !args.quiet {
        let last = &summary.last;
        eprintln!(
            "{}: {} steps of m = {} particles in {:.1} s; loss {:.6e} (data fit {:.6e}, penalty {:.6e}); outputs in {}",
            summary.name,
            summary.timings.steps,
            summary.m,
            summary.timings.total_seconds,
            last.loss,
            last.data_fit,
            last.penalty,
            out.display()
        );
    }
    Ok(())
}
