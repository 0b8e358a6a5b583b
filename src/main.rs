//! The `meanfield` command line: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use meanfield::bench::BenchConfig;
use meanfield::runner::{self, Verbosity};
use meanfield::scenario::{DynamicsConfig, Precision, ValidScenario};
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
    /// Time the full step on synthetic data and print throughput (particle-steps/s, GFLOP/s).
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Particles.
    #[arg(long, default_value_t = 100_000)]
    m: usize,
    /// Samples.
    #[arg(long, default_value_t = 2000)]
    n: usize,
    /// Input dimension.
    #[arg(long, default_value_t = 20)]
    d: usize,
    /// Particle precision.
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    dtype: Dtype,
    /// Dynamics: gd, langevin, perturbed or langevin+perturbed.
    #[arg(long, default_value = "gd")]
    dynamics: String,
    /// Step size.
    #[arg(long, default_value_t = 0.1)]
    eta: f64,
    /// Re-draw rate (perturbed).
    #[arg(long, default_value_t = 0.1)]
    sigma: f64,
    /// Temperature (langevin).
    #[arg(long, default_value_t = 1e-4)]
    tau: f64,
    /// Timed steps, after one warm-up step.
    #[arg(long, default_value_t = 10)]
    steps: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Dtype {
    F32,
    F64,
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
        Command::Bench(args) => bench(args),
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

fn bench(args: &BenchArgs) -> Result<(), Error> {
    let uses = |name: &str| args.dynamics.split('+').any(|p| p.trim() == name);
    let mut dynamics = DynamicsConfig {
        kind: args.dynamics.clone(),
        eta: args.eta,
        schedule: Default::default(),
        sigma: uses("perturbed").then_some(args.sigma),
        reinit_radius: None,
        tau: uses("langevin").then_some(args.tau),
        tau_decay: None,
    };
    let config = BenchConfig {
        m: args.m,
        n: args.n,
        d: args.d,
        precision: match args.dtype {
            Dtype::F32 => Precision::F32,
            Dtype::F64 => Precision::F64,
        },
        dynamics: dynamics.check("meanfield bench")?,
        steps: args.steps,
    };
    let report = meanfield::bench::bench(&config)?;
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("a report always serialises"));
    } else {
        println!(
            "m = {}, n = {}, d = {}, {}, {}, {} threads, {} steps\n\
             particle_steps_per_sec  {:.4e}\ngflops                  {:.2}\nseconds_per_step        {:.4e}\npeak_rss_bytes          {}",
            report.m,
            report.n,
            report.d,
            report.dtype,
            report.dynamics,
            report.threads,
            report.steps,
            report.particle_steps_per_sec,
            report.gflops,
            report.seconds_per_step,
            report.peak_rss_bytes.map_or("unknown".to_string(), |b| b.to_string())
        );
    }
    Ok(())
}
