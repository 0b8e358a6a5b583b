//! The `meanfield` command line: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use meanfield::bench::{BenchConfig, ScalingAxis};
use meanfield::comm::Communicator;
use meanfield::config::{DynamicsConfig, Precision, ValidScenario};
use meanfield::data::Dataset;
use meanfield::figures::{self, FigureOptions};
use meanfield::loss::Loss;
use meanfield::model::StoreActivations;
use meanfield::runner::{self, RunControl, Verbosity};
use meanfield::sweep::{self, Sweep, SweepOptions, SweepShard};
use meanfield::Error;

const EXAMPLES: &str = "\
Examples:
  meanfield run scenarios/quickstart.toml
  meanfield run scenarios/perturbed.toml --set dynamics.sigma=0.1 --set data.n=200 --seed 3
  meanfield run scenarios/paper-d.toml --out runs/paper-d20 --quiet
  meanfield validate scenarios/teacher.toml
  mpirun -n 4 meanfield run scenarios/teacher.toml   # 4 MPI processes (--features mpi)";

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
    /// The exact global minimum L* of the regularised loss, by the convex reformulation.
    #[command(after_help = "Examples:
  meanfield optimum scenarios/quickstart.toml --json
  meanfield optimum --data train.csv --lambda 0.01 --loss logistic --bias --particles optimum.npy")]
    Optimum(OptimumArgs),
    /// Compare finished runs on one figure: excess L - L* (or L) and gap against time.
    #[command(after_help = "Example:
  meanfield compare runs/gd runs/perturbed runs/langevin --out plots/certify-xor3")]
    Compare(CompareArgs),
    /// Run a parameter sweep (resumable, parallel, shardable) or collect a sharded one.
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        after_help = "Examples:
  meanfield sweep scenarios/sweeps/noise-temperature.toml --jobs 2
  meanfield sweep scenarios/sweeps/noise-temperature.toml --dry-run
  meanfield sweep scenarios/sweeps/noise-temperature.toml --out runs/nt --shard 2/3
  meanfield sweep collect runs/nt"
    )]
    Sweep(SweepArgs),
    /// Regenerate one of the paper's figures into plots/paper (see `meanfield figure --list`).
    #[command(after_help = "Examples:
  meanfield figure --list
  meanfield figure sample-complexity --quick")]
    Figure(FigureArgs),
}

#[derive(Args, Debug)]
struct FigureArgs {
    /// The figure's name.
    #[arg(required_unless_present = "list")]
    name: Option<String>,
    /// List the figures.
    #[arg(long)]
    list: bool,
    /// The fast variant (the `[quick]` settings of its parameter file).
    #[arg(long)]
    quick: bool,
    /// Output folder.
    #[arg(long, default_value = "plots/paper")]
    out: PathBuf,
    /// Parameter file (default scenarios/paper/NAME.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// No progress messages.
    #[arg(long, short)]
    quiet: bool,
    /// Print the whole report as JSON (the file NAME.json) instead of a short summary.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct CompareArgs {
    /// Run folders (each with a metrics.csv); a folder's name labels its curve.
    #[arg(required = true, num_args = 1..)]
    runs: Vec<PathBuf>,
    /// Output file stem: writes STEM.png and STEM.svg.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct SweepArgs {
    #[command(subcommand)]
    command: Option<SweepCommand>,
    /// The sweep file (TOML).
    #[arg(required = true)]
    file: Option<PathBuf>,
    /// Override a value of the base scenario by its dotted path, like `run --set` (applied to every run
    /// after the sweep file's `set` and before the axis values).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Output folder (default: runs/sweeps/<sweep name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Threads shared by the runs and their kernels (default: all cores, or RAYON_NUM_THREADS).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Run only part I of N (1-based, e.g. 2/3); default from SLURM_ARRAY_TASK_ID (minus
    /// SLURM_ARRAY_TASK_MIN, else counted from 0) and SLURM_ARRAY_TASK_COUNT.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Redo complete runs.
    #[arg(long)]
    force: bool,
    /// List the resolved runs and whether they are complete; run nothing.
    #[arg(long)]
    dry_run: bool,
    /// No progress bar or messages on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum SweepCommand {
    /// Merge the run folders of DIR (every shard) into sweep.csv and the figures.
    Collect {
        /// The sweep's output folder (with its sweep.toml).
        dir: PathBuf,
        /// No messages on stderr.
        #[arg(long, short)]
        quiet: bool,
    },
}

#[derive(Args, Debug)]
struct OptimumArgs {
    /// A scenario: its training data, loss and lambda (or give --data and --lambda).
    #[arg(required_unless_present = "data", conflicts_with = "data")]
    scenario: Option<PathBuf>,
    /// Override a scenario value by its dotted path (with SCENARIO).
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "scenario")]
    set: Vec<String>,
    /// A csv file with header x1,...,xd,y.
    #[arg(long, requires = "lambda")]
    data: Option<PathBuf>,
    /// Weight decay lambda > 0 (with --data; overrides the scenario's).
    #[arg(long)]
    lambda: Option<f64>,
    /// Loss (with --data).
    #[arg(long, value_enum, default_value_t = Loss::Logistic, requires = "data")]
    loss: Loss,
    /// Append a constant coordinate 1 to the inputs (with --data).
    #[arg(long, requires = "data")]
    bias: bool,
    /// Write the recovered network as a cloud (m x (1+d) float64) for `init = { file = ... }`.
    #[arg(long, value_name = "FILE.npy")]
    particles: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Stop the solve after this many seconds, keeping the last column-generation round's solution
    /// (an upper bound, status "sampled"); with none yet, exit 1 and write nothing.
    #[arg(long, value_name = "SECONDS", value_parser = time_limit)]
    time_limit: Option<f64>,
    /// Print no progress on stderr.
    #[arg(long)]
    quiet: bool,
}

/// A `--time-limit`: a finite number of seconds > 0.
fn time_limit(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
        _ => Err(format!("`{text}`: must be a finite number of seconds > 0")),
    }
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Particles (default 100000; with --scaling m the largest of the series, default 1000000).
    #[arg(long)]
    m: Option<usize>,
    /// Samples (default 2000; with --scaling n the largest of the series, default 20000).
    #[arg(long)]
    n: Option<usize>,
    /// Input dimension.
    #[arg(long, default_value_t = 20)]
    d: usize,
    /// Particle precision.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    dtype: Precision,
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
    /// Time a series over m (1e3, 1e4, ... up to --m) or n (200, 2000, ... up to --n) with 1 and
    /// all threads, print JSON lines and draw STEM.png/svg (see --plot).
    #[arg(long, value_enum)]
    scaling: Option<Scaling>,
    /// Figure stem of --scaling.
    #[arg(long, default_value = "plots/performance/scaling")]
    plot: PathBuf,
    /// Keep the pre-activations between the forward pass and the next gradient (as the scenario
    /// key run.store_activations).
    #[arg(long, value_enum, default_value_t = StoreArg::Auto)]
    store_activations: StoreArg,
    /// Also measure the machine's GEMM peak (C = A B, --peak-size squared, in --dtype) and report
    /// peak_gflops and fraction_of_peak (the step's useful GFLOP/s over the peak).
    #[arg(long)]
    peak: bool,
    /// Matrix order of the --peak GEMM.
    #[arg(long, default_value_t = 2000)]
    peak_size: usize,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum StoreArg {
    Auto,
    Always,
    Never,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Scaling {
    M,
    N,
}

#[derive(Args, Debug)]
struct ScenarioArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Override a scenario value by its dotted path, e.g. --set dynamics.sigma=0.1 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Remove a key of the scenario file, e.g. --unset data.margin (repeatable; applied before --set).
    #[arg(long = "unset", value_name = "KEY")]
    unset: Vec<String>,
    /// Override the scenario seed (0 to 9223372036854775807, TOML's integer range).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    seed: Option<u64>,
}

impl ScenarioArgs {
    /// The `--set` overrides, with `--seed` as `seed=N`.
    fn overrides(&self) -> Vec<String> {
        let mut overrides = self.set.clone();
        if let Some(seed) = self.seed {
            overrides.push(format!("seed={seed}"));
        }
        overrides
    }

    fn load(&self) -> Result<ValidScenario, Error> {
        ValidScenario::load_cli(&self.scenario, &self.unset, &self.overrides())
    }

    /// An error found after loading (an overflow of the initial state, a size beyond the machine)
    /// in a field an override set names that override, as errors of loading do.
    fn blame(&self, error: Error) -> Error {
        meanfield::scenario::blame_override(error, &self.overrides())
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
    /// Continue from the checkpoint in the output folder (written every run.checkpoint_every steps
    /// and on Ctrl-C).
    #[arg(long)]
    resume: bool,
    /// Overwrite an output folder that holds a different scenario's run.
    #[arg(long)]
    force: bool,
    /// Threads of this process (default: all cores, or RAYON_NUM_THREADS); the results do not
    /// depend on it.
    #[arg(long)]
    threads: Option<usize>,
}

const ADVICE: &str = meanfield::resources::MEMORY_ADVICE;

/// Exit codes (documented in the README).
fn exit_code(error: &Error) -> u8 {
    error.exit_code()
}

/// The processes of this job: MPI's world (feature `mpi`; one process when not started by
/// `mpirun`), or this one process.
struct Processes {
    #[cfg(feature = "mpi")]
    universe: mpi::environment::Universe,
    comm: Arc<dyn Communicator>,
}

impl Processes {
    #[cfg(feature = "mpi")]
    fn start() -> Result<Processes, Error> {
        let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Funneled)
            .ok_or_else(|| Error::Invalid("MPI is already initialised".into()))?;
        Ok(Processes { universe, comm: Arc::new(meanfield::comm::Mpi) })
    }

    #[cfg(not(feature = "mpi"))]
    fn start() -> Result<Processes, Error> {
        Ok(Processes { comm: Arc::new(meanfield::comm::Single) })
    }

    /// Ends the whole job after an error of this process (others may wait in a collective).
    #[cfg(feature = "mpi")]
    fn abort(&self, code: u8) {
        use mpi::traits::Communicator as _;
        if self.comm.size() > 1 {
            self.universe.world().abort(i32::from(code));
        }
    }

    #[cfg(not(feature = "mpi"))]
    fn abort(&self, _code: u8) {}
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `run` reports its errors itself, while MPI is still up.
    let mut report = true;
    // A tier forced by MEANFIELD_SIMD that is unknown or that the CPU lacks stops every command.
    let result = meanfield::linalg::Simd::selected().and_then(|_| match &cli.command {
        Command::Run(args) => {
            report = false;
            Processes::start().inspect_err(|e| eprintln!("error: {e}")).and_then(|p| run(args, &p))
        }
        Command::Validate(args) => args.load().and_then(|s| {
            meanfield::cli::read_inputs(&s).map_err(|e| args.blame(e))?;
            print!("{}", s.to_toml());
            if let meanfield::scenario::InitSource::Sampled { m, init } = &s.init {
                print!("{}", meanfield::initial::scales_comment(init, *m));
            }
            Ok(())
        }),
        Command::Bench(args) => Processes::start().and_then(|p| bench(args, p.comm)),
        Command::Optimum(args) => optimum(args),
        Command::Compare(args) => compare(args),
        Command::Sweep(args) => Processes::start().and_then(|p| sweep(args, p.comm.as_ref())),
        Command::Figure(args) => figure(args),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if report {
                eprintln!("error: {error}");
            }
            ExitCode::from(exit_code(&error))
        }
    }
}

/// `meanfield run`, on every process of the job, reporting its error. Interruption and divergence
/// happen on every process at the same step (after a checkpoint): rank 0 reports them and every
/// process exits normally. Any other error of one process ends them all.
fn run(args: &RunArgs, processes: &Processes) -> Result<(), Error> {
    let comm = &processes.comm;
    let result = run_on(args, comm.clone());
    if let Err(error) = &result {
        let shared = matches!(error, Error::Interrupted { .. } | Error::Terminated { .. } | Error::Diverged { .. });
        if comm.size() == 1 || (shared && comm.is_root()) {
            eprintln!("error: {error}");
        } else if !shared {
            let line = format!("error (rank {} of {}): {error}\n", comm.rank(), comm.size());
            // One write, so that the lines of several processes do not interleave.
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
            processes.abort(exit_code(error));
        }
    }
    result
}

fn run_on(args: &RunArgs, comm: Arc<dyn Communicator>) -> Result<(), Error> {
    if let Some(threads) = args.threads {
        meanfield::cli::use_threads(threads)?;
    }
    let scenario = args.scenario.load()?;
    let out = args.out.clone().unwrap_or_else(|| runner::default_out_dir(&scenario));
    meanfield::paths::output_folder("--out", &out)?;
    let signals = meanfield::signals::StopSignals::install()?;
    meanfield::interrupt::watch(&signals);
    let control = RunControl {
        verbosity: if args.quiet { Verbosity::Quiet } else { Verbosity::Normal },
        resume: args.resume,
        force: args.force,
        interrupt: Some(signals.stop.clone()),
        comm: Some(comm.clone()),
    };
    let summary = runner::run_with(&scenario, &out, &control).map_err(|e| args.scenario.blame(signals.explain(e)))?;
    if !args.quiet && comm.is_root() {
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

fn sweep(args: &SweepArgs, comm: &dyn Communicator) -> Result<(), Error> {
    let (file, quiet) = match (&args.command, &args.file) {
        (Some(SweepCommand::Collect { dir, quiet }), _) => {
            let results = sweep::collect(dir)?;
            if !quiet {
                eprintln!(
                    "{} runs{}; sweep.csv and {} figures in {}",
                    results.total,
                    if results.failed > 0 {
                        format!(" ({} diverged or failed)", results.failed)
                    } else {
                        String::new()
                    },
                    results.figures.len(),
                    dir.display()
                );
            }
            return Ok(());
        }
        (None, Some(file)) => (file, args.quiet),
        (None, None) => unreachable!("clap requires FILE without a subcommand"),
    };
    let shard = match &args.shard {
        Some(text) => Some(SweepShard::parse(text)?),
        None => SweepShard::from_slurm(|name| std::env::var(name).ok())?,
    };
    let jobs = args.jobs.map(|j| meanfield::resources::check_threads("--jobs", j)).transpose()?;
    let (plan, scenarios) = Sweep::load_with(file, &args.set)?;
    let out = args.out.clone().unwrap_or_else(|| plan.default_out_dir());
    if args.dry_run {
        print!("{}", plan.describe(&out, shard));
        return Ok(());
    }
    let options = SweepOptions {
        jobs,
        shard,
        force: args.force,
        verbosity: if quiet { Verbosity::Quiet } else { Verbosity::Normal },
        interrupt: None,
    };
    let report = sweep::run_sweep_across(&plan, &scenarios, &out, &options, comm)?;
    if !quiet {
        let part = match shard {
            Some(s) => format!(" (shard {}/{})", s.index, s.count),
            None if comm.size() > 1 => format!(" (process {} of {})", comm.rank() + 1, comm.size()),
            None => String::new(),
        };
        let results = if report.collected { "sweep.csv" } else { "run folders; `meanfield sweep collect` merges them" };
        eprintln!(
            "{}{part}: {} runs, {} complete before, {} run in {:.1} s; {results} in {}",
            plan.name,
            report.selected,
            report.skipped,
            report.ran,
            report.seconds,
            out.display()
        );
    }
    Ok(())
}

fn bench(args: &BenchArgs, comm: Arc<dyn Communicator>) -> Result<(), Error> {
    let mut dynamics = DynamicsConfig::new(&args.dynamics, args.eta);
    dynamics.set_where_used("sigma", args.sigma);
    dynamics.set_where_used("tau", args.tau);
    let (m_top, n_top) = match args.scaling {
        Some(Scaling::M) => (args.m.unwrap_or(1_000_000), args.n.unwrap_or(2000)),
        Some(Scaling::N) => (args.m.unwrap_or(100_000), args.n.unwrap_or(20_000)),
        None => (args.m.unwrap_or(100_000), args.n.unwrap_or(2000)),
    };
    let (m, n, d, s) = (m_top as u128, n_top as u128, args.d as u128, args.dtype.bytes() as u128);
    let mut needs = meanfield::footprint::Footprint::default();
    let (field_m, value_m) = if d > m { ("--d", d) } else { ("--m", m) };
    needs.add(field_m, value_m, "the particles", meanfield::resources::product(&[m, d + 1, 2 * s + 16]));
    let (field_n, value_n) = if d > n { ("--d", d) } else { ("--n", n) };
    needs.add(field_n, value_n, "the data", meanfield::resources::product(&[n, d, 8 + s]));
    needs.check("meanfield bench", meanfield::resources::available_memory_bytes(), "use smaller --m, --n or --d")?;
    let config = BenchConfig {
        m: m_top,
        n: n_top,
        d: args.d,
        precision: args.dtype,
        dynamics: dynamics.check("meanfield bench")?,
        steps: args.steps,
        store_activations: match args.store_activations {
            StoreArg::Auto => StoreActivations::Auto,
            StoreArg::Always => StoreActivations::Always,
            StoreArg::Never => StoreActivations::Never,
        },
    };
    if let Some(scaling) = args.scaling {
        let (axis, values, suffix) = match scaling {
            Scaling::M => (ScalingAxis::M, meanfield::cli::decades(1_000, m_top, "--m")?, "m"),
            Scaling::N => (ScalingAxis::N, meanfield::cli::decades(200, n_top, "--n")?, "n"),
        };
        let stem = PathBuf::from(format!("{}-{suffix}", args.plot.display()));
        meanfield::paths::writable_stem(&stem)?;
        let reports = meanfield::bench::scaling(&config, axis, &values)?;
        for r in &reports {
            println!("{}", serde_json::to_string(r).expect("a report always serialises"));
        }
        meanfield::bench::scaling_figure(&stem, axis, &reports)?;
        eprintln!("wrote {}.png and {}.svg", stem.display(), stem.display());
        return Ok(());
    }
    let root = comm.is_root();
    let peak = if args.peak { Some(meanfield::bench::peak(config.precision, args.peak_size)?) } else { None };
    let report = meanfield::bench::bench_on(&config, comm)?;
    let report = match &peak {
        Some(p) => meanfield::bench::with_peak(report, p),
        None => report,
    };
    if !root {
        return Ok(());
    }
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("a report always serialises"));
    } else {
        println!(
            "m = {}, n = {}, d = {}, {}, {}, {} threads x {} processes, {} steps\n\
             particle_steps_per_sec  {:.4e}\ngflops                  {:.2}\nseconds_per_step        {:.4e}\n\
             allreduce_seconds       {:.4e}\npeak_rss_bytes          {}\nsimd                    {}\n\
             store_activations       {}",
            report.m,
            report.n,
            report.d,
            report.dtype,
            report.dynamics,
            report.threads,
            report.processes,
            report.steps,
            report.particle_steps_per_sec,
            report.gflops,
            report.seconds_per_step,
            report.allreduce_seconds,
            report.peak_rss_bytes.map_or("unknown".to_string(), |b| b.to_string()),
            report.simd,
            report.store_activations
        );
        if let (Some(p), Some(fraction)) = (&peak, report.fraction_of_peak) {
            let each: Vec<String> = p.backends.iter().map(|(name, g)| format!("{name} {g:.1}")).collect();
            println!(
                "peak_gflops             {:.2} ({}, {}^3, {} threads; {})\nfraction_of_peak        {:.3}",
                p.gflops,
                p.backend,
                p.size,
                p.threads,
                each.join(", "),
                fraction
            );
        }
    }
    Ok(())
}

fn optimum(args: &OptimumArgs) -> Result<(), Error> {
    let (data, loss, lambda, seed) = match (&args.scenario, &args.data) {
        (Some(path), _) => {
            let scenario = ValidScenario::load_cli(path, &[], &args.set)?;
            let available = meanfield::resources::available_memory_bytes();
            let mut needs = meanfield::footprint::of_scenario(&scenario, 1)?;
            if !scenario.scenario.run.reference {
                let (n, d) =
                    (scenario.scenario.data.n.unwrap_or(0) as u128, scenario.scenario.data.d.unwrap_or(0) as u128);
                needs.add_convex_program(n, d);
            }
            needs
                .check(&scenario.source, available, ADVICE)
                .map_err(|e| meanfield::scenario::blame_override(e, &args.set))?;
            let (train, _) = meanfield::setup::datasets(&scenario)?;
            (train, scenario.scenario.loss, args.lambda.unwrap_or(scenario.scenario.lambda), scenario.seed())
        }
        (None, Some(path)) => {
            let loss = args.loss;
            let data =
                meanfield::optimum::prepare(Dataset::from_csv(path)?, loss, args.bias, &path.display().to_string())?;
            meanfield::footprint::check_convex("meanfield optimum", "--data", data.x.nrows(), data.x.ncols())?;
            (data, loss, args.lambda.expect("clap requires --lambda with --data"), 0)
        }
        (None, None) => unreachable!("clap requires SCENARIO or --data"),
    };
    let signals = meanfield::signals::StopSignals::install()?;
    meanfield::interrupt::watch(&signals);
    meanfield::interrupt::set_time_limit(args.time_limit);
    let (optimum, report) = meanfield::optimum::solve_with_progress(&data, loss, lambda, seed, !args.quiet)?;
    if let Some(path) = &args.particles {
        meanfield::output::write_npy(path, &optimum.particles)?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("a report always serialises"));
    } else {
        println!(
            "L* = {:.12e} ({}; dual bound {:.12e}, gap {:.3e})\n{} activation patterns, {} neurons, {:.2} s",
            report.value, report.status, report.dual, report.gap, report.patterns, report.neurons, report.seconds
        );
    }
    Ok(())
}

fn compare(args: &CompareArgs) -> Result<(), Error> {
    meanfield::paths::writable_stem(&args.out)?;
    let runs = args
        .runs
        .iter()
        .map(|dir| {
            let label = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
            Ok((label, meanfield::metrics::Metrics::read_csv(&meanfield::cli::run_metrics(dir)?)?))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    meanfield::report::compare_figure(&args.out, &runs)?;
    println!("wrote {0}.png and {0}.svg", args.out.display());
    Ok(())
}

fn figure(args: &FigureArgs) -> Result<(), Error> {
    if args.list {
        for f in figures::all() {
            println!("{:<22} {}", f.name(), f.about());
        }
        return Ok(());
    }
    let figure = figures::find(args.name.as_deref().expect("clap requires NAME without --list"))?;
    let options = FigureOptions {
        quick: args.quick,
        out: args.out.clone(),
        config: args.config.clone(),
        verbosity: if args.quiet { Verbosity::Quiet } else { Verbosity::Normal },
    };
    // Before the output folder exists: a figure too large for the machine leaves nothing.
    figure.footprint(&options)?.check(
        &figures::config_source(figure.name(), &options),
        meanfield::resources::available_memory_bytes(),
        "reduce the sizes in the figure's parameter file (--config FILE)",
    )?;
    meanfield::paths::writable_folder(&args.out)?;
    let report = figure.run(&options)?;
    let json = serde_json::to_string_pretty(&report).expect("a report always serialises");
    let stem = if args.quick { format!("{}-quick", report.name) } else { report.name.clone() };
    let path = args.out.join(format!("{stem}.json"));
    meanfield::output::write_atomic(&path, json.as_bytes())?;
    if args.json {
        println!("{json}");
    } else {
        print!("{}", meanfield::cli::figure_summary(&report, &path));
        println!("  parameters: {}", figures::config_source(&report.name, &options));
    }
    Ok(())
}
