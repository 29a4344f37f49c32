//! Command-line interface: parse arguments, set up logging, call the library,
//! map errors to exit codes with one readable sentence on stderr.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::load_project;
use crate::error::{Error, Result, exit_code};
use crate::pseudo::PseudoKey;
use crate::run::{RunOptions, run_with_retries, summary};
use crate::runtime::shutdown::{Shutdown, listen_for_signals};
use crate::storage::Storage;

#[derive(Debug, Parser)]
#[command(
    name = "startwell",
    version,
    about = "Early-years outcomes pipeline for English local authorities"
)]
pub struct Cli {
    /// Project folder (holding startwell.toml, pipelines/ and schemas/).
    #[arg(long, global = true, default_value = ".")]
    pub project: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate synthetic extracts into the landing zone and run the nightly job on them (DEMO key).
    Demo(DemoArgs),
    /// The nightly job: ingest whatever is new in every landing zone and record the run.
    Run {
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
        /// Re-ingest everything still in the landing zone.
        #[arg(long)]
        full_refresh: bool,
        /// Ingest only: do not rebuild and publish the scorecard.
        #[arg(long)]
        no_scorecard: bool,
        /// Recompute the scorecard even when nothing it is computed from has changed.
        #[arg(long, conflicts_with = "no_scorecard")]
        force_scorecard: bool,
        /// Change the pseudonymisation key: with --full-refresh, rebuild every table
        /// from the landing zone under the key this run has (README, "Changing the
        /// pseudonymisation key").
        #[arg(long, requires = "full_refresh", conflicts_with = "source")]
        new_key: bool,
    },
    /// Write synthetic partner extracts (one folder per source, as the landing zone expects).
    Generate {
        #[arg(long, required_unless_present = "new_source_sample")]
        out: Option<PathBuf>,
        /// Write only a sample from a partner the project does not read yet (a
        /// nursery attendance export) to this file, for trying `startwell infer`.
        #[arg(long)]
        new_source_sample: Option<PathBuf>,
        /// Children per birth year.
        #[arg(long, default_value_t = crate::generate::DEFAULT_CHILDREN)]
        children: u32,
        /// Years of deliveries.
        #[arg(long, default_value_t = crate::generate::DEFAULT_YEARS)]
        years: u32,
        #[arg(long, default_value_t = 20_250_901)]
        seed: u64,
    },
    /// Check the whole project (configuration, schemas, seeds, indicator SQL) without touching data.
    Validate,
    /// Long-running scheduler: runs the `[[serve.schedule]]` entries (and new arrivals when
    /// `[serve.arrival]` is on) and serves /healthz, /readyz, /metrics and /runs.
    Serve {
        /// Address of the HTTP endpoint (overrides `[serve] listen`).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Recent runs, newest first.
    Runs {
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print the run records as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Each source's freshness against its cadence, and its last outcome.
    Status(StatusArgs),
    /// Run the indicator fixtures (`pipelines/indicators/tests/*.toml`): rows in, indicator rows out.
    Test,
    /// What `run` would do now, writing nothing: each landing file new, changed,
    /// ingested or refused; for each new file its columns, rows accepted and
    /// rejected (commonest reasons, first lines), and what it would replace.
    /// Exits 1 when a file would be refused.
    Plan(PlanArgs),
    /// Draft pipelines/<name>.toml and schemas/<name>.toml from a partner's
    /// sample CSV (dialect, types, identifiers, the child key, code lists, the
    /// period), and list what was guessed and how surely.
    Infer(InferArgs),
    /// The project's documentation as one self-contained HTML page: sources,
    /// lake tables (with their history), indicators (with their lineage), runs.
    Docs(DocsArgs),
    /// Query the lake and the published outputs with SQL (DataFusion, with the
    /// startwell functions). Tables: every lake table by name, and
    /// outputs_scorecard, outputs_targets, outputs_indicators.
    Sql(SqlArgs),
    /// Delete landing and quarantine files older than `[retention]` allows (landing
    /// files only once their rows are in the lake), recording each by name and hash.
    Purge(PurgeArgs),
}

#[derive(Debug, clap::Args)]
pub struct InferArgs {
    /// The sample file: CSV (in any encoding `run` reads) or xlsx.
    file: PathBuf,
    /// The sheet of an xlsx workbook (default: the first).
    #[arg(long)]
    sheet: Option<String>,
    /// Source name (default: the file name without its period).
    #[arg(long)]
    name: Option<String>,
    /// Overwrite existing files of that name.
    #[arg(long)]
    force: bool,
    /// The source exists: propose what a later delivery changes (new
    /// columns, renamed or dropped required ones) instead of drafting it.
    #[arg(long, conflicts_with = "force")]
    update: bool,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Only this source.
    #[arg(long)]
    source: Option<String>,
    /// Check these files (a partner's file as it arrives) instead of the landing zone.
    files: Vec<PathBuf>,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SqlArgs {
    /// The query, e.g. "SELECT period, count(*) FROM eyfsp GROUP BY period".
    query: String,
    #[arg(long, value_enum, default_value_t = crate::sql::Format::Table)]
    format: crate::sql::Format,
    /// Write the result to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Read every Delta table as it was: a version (3), a time
    /// (2025-11-20T02:00:00Z) or a date (2025-11-20).
    #[arg(long)]
    as_of: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DocsArgs {
    /// Folder to write index.html into (default: startwell-docs/ in the project).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Children per birth year.
    #[arg(long, default_value_t = crate::generate::DEFAULT_CHILDREN)]
    children: u32,
    #[arg(long, default_value_t = crate::generate::DEFAULT_YEARS)]
    years: u32,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// Only list what is due; delete nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Progress drawn on standard error when it is a terminal (nothing otherwise):
/// a spinner with rows and rate for work of unknown length, a bar otherwise.
pub struct TerminalProgress(indicatif::ProgressBar);

impl TerminalProgress {
    pub fn reporter() -> crate::progress::Reporter {
        let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            indicatif::ProgressBar::new(0)
        } else {
            indicatif::ProgressBar::hidden()
        };
        crate::progress::Reporter(std::sync::Arc::new(TerminalProgress(bar)))
    }
}

impl crate::progress::Progress for TerminalProgress {
    fn begin(&self, what: &str, total: u64) {
        let pb = &self.0;
        pb.reset();
        pb.set_length(total);
        let style = if total == 0 {
            pb.enable_steady_tick(std::time::Duration::from_millis(200));
            indicatif::ProgressStyle::with_template(&format!(
                "{{spinner}} {what} {{msg}} {{human_pos}} rows ({{per_sec}})"
            ))
        } else {
            indicatif::ProgressStyle::with_template(&format!("{what} {{bar:30}} {{pos}}/{{len}} {{msg}}"))
        };
        pb.set_style(style.unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    }
    fn message(&self, message: &str) {
        self.0.set_message(message.to_string());
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
    fn restart(&self) {
        self.0.set_position(0);
    }
    fn end(&self) {
        self.0.disable_steady_tick();
        self.0.finish_and_clear();
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("startwell=info,warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder.compact().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Run the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(crate::heap::release_freed_when_idle)
        // A blocking thread (file reads and writes) idle for this long ends, and
        // what its heap held goes back to the system: the query engine frees
        // the buffers it read on other threads, and the idle owner would keep
        // them (the national scorecard's memory between views: 220-300 MiB
        // with tokio's 10 s, 125-200 MiB with this).
        .thread_keep_alive(std::time::Duration::from_millis(100))
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("startwell: cannot start the async runtime: {e}");
            return exit_code::INTERNAL;
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(()) => exit_code::OK,
        Err(e) => {
            eprintln!("startwell: {e}");
            e.exit_code()
        }
    }
}

/// The project in `dir` and its storage root, as most commands start.
fn open_project(dir: &Path) -> Result<(crate::config::Project, Storage)> {
    let project = load_project(dir)?;
    let storage = Storage::open(&project.dir, &project.storage_root)?;
    Ok((project, storage))
}

async fn dispatch(cli: Cli) -> Result<()> {
    let project_dir = cli.project.clone();
    match cli.command {
        Command::Validate => validate_command(project_dir).await,
        Command::Purge(args) => purge_command(project_dir, args).await,
        Command::Infer(args) => infer_command(project_dir, args).await,
        Command::Docs(args) => docs_command(project_dir, args).await,
        Command::Plan(args) => plan_command(project_dir, args).await,
        Command::Sql(args) => sql_command(project_dir, args).await,
        Command::Test => test_command(project_dir).await,
        Command::Generate {
            out,
            new_source_sample,
            children,
            years,
            seed,
        } => {
            generate_command(
                out,
                new_source_sample,
                crate::generate::Options {
                    children,
                    years,
                    seed,
                },
            )
            .await
        }
        Command::Run {
            source,
            full_refresh,
            no_scorecard,
            force_scorecard,
            new_key,
        } => {
            let opts = RunOptions {
                source,
                full_refresh,
                no_scorecard,
                force_scorecard,
                new_key,
                shutdown: Shutdown::new(),
                trigger: Some("cli".into()),
                progress: TerminalProgress::reporter(),
            };
            run_command(project_dir, opts).await
        }
        Command::Serve { listen } => {
            let project = std::sync::Arc::new(load_project(&project_dir)?);
            let key = PseudoKey::from_env()?;
            let storage = Storage::open(&project.dir, &project.storage_root)?;
            let shutdown = Shutdown::new();
            listen_for_signals(shutdown.clone());
            crate::ops::serve::serve(project, storage, key, shutdown, listen).await
        }
        Command::Runs { limit, json } => runs_command(project_dir, limit, json).await,
        Command::Status(args) => status_command(project_dir, args).await,
        Command::Demo(args) => demo_command(project_dir, args).await,
    }
}

async fn validate_command(project_dir: PathBuf) -> Result<()> {
    let p = load_project(&project_dir)?;
    let issues = crate::indicators::validate(&p).await;
    if !issues.is_empty() {
        return Err(Error::Config(issues));
    }
    println!(
        "{}: configuration is valid ({} sources, {} postcodes in seeds)",
        project_dir.join("startwell.toml").display(),
        p.plan.sources.len(),
        p.seeds.postcodes.len()
    );
    Ok(())
}

async fn test_command(project_dir: PathBuf) -> Result<()> {
    let p = load_project(&project_dir)?;
    let report = crate::indicators::fixtures::run_all(&p).await?;
    for f in &report.failures {
        println!("FAIL {}: {}", f.file.display(), f.message);
    }
    for id in &report.untested {
        println!("UNTESTED {id}: no fixture checks this indicator");
    }
    println!("{} fixture files, {} checks", report.files, report.checks);
    println!(
        "fixtures: {} passed, {} failed",
        report.checks.saturating_sub(report.failures.len()),
        report.failures.len()
    );
    if report.failures.is_empty() && report.untested.is_empty() {
        Ok(())
    } else {
        Err(Error::DataRefused(format!(
            "{} indicator fixture check(s) failed, {} indicator(s) untested",
            report.failures.len(),
            report.untested.len()
        )))
    }
}

async fn generate_command(
    out: Option<PathBuf>,
    new_source_sample: Option<PathBuf>,
    opts: crate::generate::Options,
) -> Result<()> {
    if let Some(file) = new_source_sample {
        std::fs::write(&file, crate::generate::new_source_sample(60))
            .map_err(|e| Error::config(&file, format!("cannot write: {e}")))?;
        println!("wrote {}", file.display());
        return Ok(());
    }
    let Some(out) = out else {
        return Err(Error::config(Path::new("--out"), "give --out DIR"));
    };
    let n = tokio::task::spawn_blocking(move || {
        crate::generate::generate_with(&out, &opts, &*TerminalProgress::reporter())
    })
    .await
    .map_err(Error::internal)??;
    println!("wrote {} files", n.files);
    Ok(())
}

async fn run_command(project_dir: PathBuf, opts: RunOptions) -> Result<()> {
    let project = load_project(&project_dir)?;
    let key = PseudoKey::from_env()?;
    let storage = Storage::open(&project.dir, &project.storage_root)?;
    listen_for_signals(opts.shutdown.clone());
    let result = run_with_retries(&project, &storage, key, &opts).await;
    match &result {
        Ok((rec, _)) => crate::ops::alert_after_run(&project, &storage, Some(rec), None).await,
        Err(e) => crate::ops::alert_after_run(&project, &storage, None, Some(e)).await,
    }
    print_result(&storage, result?)
}

async fn runs_command(project_dir: PathBuf, limit: usize, json: bool) -> Result<()> {
    let (_, storage) = open_project(&project_dir)?;
    let runs = crate::ops::status::recent_runs(&storage, limit).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).map_err(Error::internal)?
        );
    } else if runs.is_empty() {
        println!("no runs recorded under {}", storage.display("state/runs/"));
    } else {
        print!("{}", crate::ops::status::render_runs(&runs));
    }
    Ok(())
}

fn demo_landing(storage: &Storage) -> Result<PathBuf> {
    storage.local_root().map(|r| r.join("landing")).ok_or_else(|| {
        Error::config(
            Path::new("startwell.toml"),
            "`demo` writes synthetic files to a local storage root; use `generate` and upload them for object stores",
        )
    })
}

fn print_result(storage: &Storage, (rec, outcome): (crate::run::RunRecord, Result<()>)) -> Result<()> {
    print!("{}", summary(&rec));
    println!(
        "run record: {}",
        storage.display(&format!("state/runs/{}.json", rec.run_id))
    );
    outcome
}

async fn infer_command(project_dir: PathBuf, args: InferArgs) -> Result<()> {
    let InferArgs {
        file,
        sheet,
        name,
        force,
        update,
    } = args;
    let readable = file
        .extension()
        .is_some_and(|e| ["csv", "txt", "xlsx"].iter().any(|x| e.eq_ignore_ascii_case(x)));
    if !readable {
        return Err(Error::config(
            &file,
            "infer reads CSV and xlsx samples (save an .xls workbook as .xlsx first)",
        ));
    }
    // The project's existing sources give the canonical names of known headers.
    let project = load_project(&project_dir).ok();
    let name = name.unwrap_or_else(|| crate::infer::name_from_file(&file));
    if update {
        let project = load_project(&project_dir)?;
        let Some(source) = project.plan.sources.iter().find(|s| s.name == name) else {
            return Err(Error::config(
                project.dir.join("pipelines"),
                format!("no source `{name}` to update (give --name)"),
            ));
        };
        let proposals = crate::infer::propose_update(&file, sheet.as_deref(), source)?;
        if proposals.is_empty() {
            println!(
                "{}: the file's columns are the ones `{name}` already reads",
                file.display()
            );
        }
        for p in proposals {
            println!("{p}");
        }
        return Ok(());
    }
    let draft = crate::infer::draft(&file, sheet.as_deref(), &name, project.as_ref())?;
    let written = crate::infer::write(&project_dir, &draft, force)?;
    for p in &written {
        println!("wrote {}", p.display());
    }
    print!("{}", crate::infer::render_review(&draft));
    println!("next: edit them, then `startwell validate` and `startwell plan`");
    Ok(())
}

async fn plan_command(project_dir: PathBuf, args: PlanArgs) -> Result<()> {
    let PlanArgs { source, files, json } = args;
    let (project, storage) = open_project(&project_dir)?;
    if let Some(s) = &source
        && !project.plan.sources.iter().any(|p| &p.name == s)
    {
        return Err(Error::config(
            project.dir.join("pipelines"),
            format!("no source `{s}` (pipelines/{s}.toml)"),
        ));
    }
    let plans = crate::plan::plan(&project, &storage, source.as_deref(), &files).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plans).map_err(Error::internal)?
        );
    } else {
        print!("{}", crate::plan::render(&plans));
    }
    if !files.is_empty() && plans.is_empty() {
        return Err(Error::config(
            &files[0],
            "no source's file pattern matches this file name, so `run` would not read it",
        ));
    }
    let refused = plans.iter().filter(|p| p.refused.is_some()).count();
    if refused > 0 {
        return Err(Error::DataRefused(format!("{refused} file(s) would be refused")));
    }
    Ok(())
}

async fn sql_command(project_dir: PathBuf, args: SqlArgs) -> Result<()> {
    let SqlArgs {
        query,
        format,
        out,
        as_of,
    } = args;
    let (_, storage) = open_project(&project_dir)?;
    let as_of = as_of.as_deref().map(crate::sql::AsOf::parse).transpose()?;
    let rows = crate::sql::run(&storage, &query, format, out.as_deref(), as_of).await?;
    if let Some(out) = &out {
        eprintln!("{rows} row(s) written to {}", out.display());
    } else if format == crate::sql::Format::Table {
        eprintln!("{rows} row(s)");
    }
    Ok(())
}

async fn docs_command(project_dir: PathBuf, args: DocsArgs) -> Result<()> {
    let DocsArgs { out } = args;
    let (project, storage) = open_project(&project_dir)?;
    let out = out.unwrap_or_else(|| project.dir.join("startwell-docs"));
    let page = crate::docs::write(&project, &storage, &out).await?;
    println!("documentation: {}", page.display());
    Ok(())
}

async fn demo_command(project_dir: PathBuf, args: DemoArgs) -> Result<()> {
    let DemoArgs { children, years } = args;
    let (project, storage) = open_project(&project_dir)?;
    let landing = demo_landing(&storage)?;
    let opts = crate::generate::Options {
        children,
        years,
        seed: 20_250_901,
    };
    eprintln!("generating synthetic extracts into {} …", landing.display());
    let l2 = landing.clone();
    tokio::task::spawn_blocking(move || {
        crate::generate::generate_with(&l2, &opts, &*TerminalProgress::reporter())
    })
    .await
    .map_err(Error::internal)??;
    eprintln!("running the nightly job with the DEMO pseudonymisation key (never use it for real data) …");
    let shutdown = Shutdown::new();
    listen_for_signals(shutdown.clone());
    let opts = RunOptions {
        shutdown,
        trigger: Some("demo".into()),
        // The demo always shows a freshly computed scorecard.
        force_scorecard: true,
        progress: TerminalProgress::reporter(),
        ..RunOptions::default()
    };
    let rec = run_with_retries(&project, &storage, PseudoKey::demo(), &opts).await?;
    let headline = crate::indicators::headline(&rec.0.scorecard, &crate::indicators::council(&project));
    let targets = crate::indicators::targets::summary(&rec.0.targets);
    print_result(&storage, rec)?;
    println!("lake tables: {}", storage.display("lake/"));
    println!(
        "\nThe report (open it in a browser): {}",
        storage.display("outputs/scorecard.html")
    );
    println!("  workbook:   {}", storage.display("outputs/scorecard.xlsx"));
    println!(
        "  scorecard:  {} (and .csv)",
        storage.display("outputs/scorecard.parquet")
    );
    println!(
        "  targets:    {} (and .csv)",
        storage.display("outputs/targets.parquet")
    );
    println!(
        "  indicators: {} (metadata, and .csv)",
        storage.display("outputs/indicators.parquet")
    );
    println!(
        "  open data:  {} (DfE EES format)",
        storage.display("outputs/ees/")
    );
    println!("\n{headline}");
    println!("{targets}");
    Ok(())
}

async fn status_command(project_dir: PathBuf, args: StatusArgs) -> Result<()> {
    let StatusArgs { json } = args;
    let (project, storage) = open_project(&project_dir)?;
    let rows = crate::ops::status::sources(&project, &storage, chrono::Utc::now()).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(Error::internal)?
        );
    } else {
        print!("{}", crate::ops::status::render_sources(&rows));
        let last = crate::ops::status::recent_runs(&storage, 1).await?;
        if let Some(r) = last.first() {
            println!(
                "last run: {} {} (trigger {}, started {})",
                r["run_id"].as_str().unwrap_or("?"),
                r["status"].as_str().unwrap_or("?"),
                r["trigger"].as_str().unwrap_or("cli"),
                r["started_at"].as_str().unwrap_or("?")
            );
        }
        if let Some(l) = crate::runtime::lease::current(&storage).await?
            && l.is_live(chrono::Utc::now())
        {
            println!(
                "run in progress: {} on {} (pid {}), lease until {}",
                l.purpose, l.host, l.pid, l.expires_at
            );
        }
        println!("{}", crate::purge::status_line(&project, &storage).await?);
    }
    Ok(())
}

async fn purge_command(project_dir: PathBuf, args: PurgeArgs) -> Result<()> {
    let PurgeArgs { dry_run } = args;
    let p = load_project(&project_dir)?;
    let storage = Storage::open(&p.dir, &p.storage_root)?;
    if p.retention.landing_days.is_none() && p.retention.quarantine_days.is_none() {
        println!("no [retention] in startwell.toml: every file is kept");
    }
    if dry_run {
        let ledger = crate::lake::read_ledger(&storage).await?;
        let plan = crate::purge::plan(&p, &storage, &ledger, chrono::Utc::now()).await?;
        for f in &plan.due {
            println!("due  {} ({} bytes): {}", f.file, f.size, f.reason);
        }
        println!(
            "{} file(s) due; {} landing file(s) kept because their rows are not in the lake (new, refused or changed)",
            plan.due.len(),
            plan.unsettled
        );
        return Ok(());
    }
    let rec = crate::purge::run_purge(&p, &storage, "cli").await?;
    for f in &rec.purged {
        println!(
            "deleted {} ({} bytes, sha256 {}): {}",
            f.file, f.size, f.sha256, f.reason
        );
    }
    println!(
        "purge: {} file(s) deleted; recorded in {}",
        rec.purged.len(),
        storage.display(&format!("state/runs/{}.json", rec.run_id))
    );
    Ok(())
}
