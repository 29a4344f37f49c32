//! The run orchestrator: the only module that knows the order of a run.
//! Lease → run record → seeds → ledger → for each source, each new landing
//! file → ingest → ledger entry → scorecard → run record
//! (`state/runs/<run_id>.json`) → lease released → summary.
//! A stop request (SIGTERM, SIGINT, a lost lease) is honoured between files;
//! the file in progress gets the grace period and is otherwise abandoned
//! before its commit.

use std::collections::HashMap;

use tracing::{Instrument, error, info, info_span, warn};

use crate::config::{Project, SourcePlan};
use crate::error::{Error, Result};
use crate::ingest::{self, FileReport, IngestContext, Outcome};
use crate::lake::{self, LedgerEntry};
use crate::ops::clock::SystemClock;
use crate::ops::lease::{self, Acquire, HeldLease};
use crate::ops::shutdown::Shutdown;
use crate::pseudo::PseudoKey;
use crate::storage::{LandingFile, Storage};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop requests (signals) from outside the run.
    pub shutdown: Shutdown,
    /// What started the run (`cli`, `schedule:<name>`, `arrival`, …), for the record.
    pub trigger: Option<String>,
    /// Only this source.
    pub source: Option<String>,
    /// Re-ingest everything still in the landing zone.
    pub full_refresh: bool,
    /// Ingest only: leave the scorecard as it is.
    pub no_scorecard: bool,
    /// Recompute the scorecard even when nothing it is computed from changed.
    pub force_scorecard: bool,
    /// Change the pseudonymisation key: rebuild every table under this run's key
    /// (with `full_refresh`, every source; see `keycheck`).
    pub new_key: bool,
    /// Where progress is reported (the CLI draws it on a terminal).
    pub progress: crate::progress::Reporter,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceTotals {
    pub source: String,
    pub files: u64,
    pub refused: u64,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub seconds: f64,
}

/// How a run (or purge) ended; written as `running`, `succeeded`, `failed` or
/// `interrupted` in the run record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The record's text form compares equal to the status (`rec.status == "succeeded"`).
impl PartialEq<&str> for RunStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What `state/runs/<run_id>.json` holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub run_id: String,
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub seconds: f64,
    pub demo_key: bool,
    /// What started the run.
    pub trigger: String,
    pub options: serde_json::Value,
    pub sources: Vec<SourceTotals>,
    pub files: Vec<FileReport>,
    /// Rows published in the scorecard, and the time computing and publishing took.
    pub scorecard_rows: usize,
    pub scorecard_seconds: f64,
    /// Why some published rows are `x` (e.g. cohorts the extracts did not see whole).
    pub scorecard_notes: Vec<String>,
    /// Nothing the scorecard is computed from changed since this run's scorecard
    /// (lake tables, indicator SQL and catalogue, settings, the program): it was
    /// not recomputed.
    pub no_changes_since: Option<String>,
    #[serde(skip)]
    pub scorecard: Vec<crate::indicators::Row>,
    /// The `[[target]]`s evaluated on this run's scorecard (in `outputs/targets.*`).
    #[serde(skip)]
    pub targets: Vec<crate::indicators::targets::TargetRow>,
    /// Files deleted under `[retention]` (`startwell purge`): name, size, SHA-256.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purged: Vec<crate::purge::Purged>,
    /// Landing files no source reads (`landing/<source>/<file>`): not matching the
    /// source's `files` pattern.
    pub not_recognised: Vec<String>,
    pub error: Option<String>,
}

impl RunRecord {
    /// A run just started.
    pub fn new(run_id: &str, trigger: String, demo_key: bool, options: serde_json::Value) -> Self {
        RunRecord {
            run_id: run_id.to_string(),
            status: RunStatus::Running,
            started_at: chrono::Utc::now().to_rfc3339(),
            finished_at: None,
            seconds: 0.0,
            demo_key,
            trigger,
            options,
            sources: Vec::new(),
            files: Vec::new(),
            scorecard_rows: 0,
            scorecard_notes: Vec::new(),
            no_changes_since: None,
            scorecard_seconds: 0.0,
            scorecard: Vec::new(),
            targets: Vec::new(),
            purged: Vec::new(),
            not_recognised: Vec::new(),
            error: None,
        }
    }
}

/// The run lease for `run_id`, or the error saying which run holds it.
pub(crate) async fn acquire_lease(
    project: &Project,
    storage: &Storage,
    run_id: &str,
) -> Result<lease::Lease> {
    storage.check_put_if_absent(run_id).await?;
    match lease::try_acquire(
        storage,
        std::sync::Arc::new(SystemClock),
        project.ops.lease,
        run_id,
    )
    .await?
    {
        Acquire::Acquired(l) => Ok(l),
        Acquire::Held(other) => Err(Error::LeaseHeld(format!(
            "another run is in progress on {}: run {} on host {} (pid {}) holds the run lease until {} (renewed while it runs); this run did nothing",
            storage.display(""),
            other.purpose,
            other.host,
            other.pid,
            other
                .expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))),
    }
}

pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    format!("{}-{:04x}", now.format("%Y%m%dT%H%M%SZ"), rand::random::<u16>())
}

pub(crate) async fn write_record(storage: &Storage, rec: &RunRecord) -> Result<()> {
    let json = serde_json::to_vec_pretty(rec).map_err(Error::internal)?;
    storage
        .put(&format!("state/runs/{}.json", rec.run_id), json.into())
        .await
}

/// The nightly job's ingest stage. Returns the run record; a refused file makes
/// the result an error after every other file has been processed.
pub async fn run(
    project: &Project,
    storage: &Storage,
    key: PseudoKey,
    opts: &RunOptions,
) -> Result<RunRecord> {
    let (rec, outcome) = run_with_record(project, storage, key, opts).await?;
    outcome.map(|()| rec)
}

/// Like [`run`], but returns the run record whatever happened (for the summary),
/// with the run's outcome beside it. Only a failure before the run starts is `Err`.
pub async fn run_with_record(
    project: &Project,
    storage: &Storage,
    key: PseudoKey,
    opts: &RunOptions,
) -> Result<(RunRecord, Result<()>)> {
    let run_id = new_run_id();
    let started = std::time::Instant::now();
    let mut rec = RunRecord::new(
        &run_id,
        opts.trigger.clone().unwrap_or_else(|| "cli".into()),
        key.is_demo,
        serde_json::json!({"source": opts.source, "full_refresh": opts.full_refresh, "new_key": opts.new_key}),
    );
    if opts.new_key && (!opts.full_refresh || opts.source.is_some()) {
        return Err(Error::config(
            project.dir.join("startwell.toml"),
            "--new-key rebuilds every table under the new key: use it with --full-refresh and without --source",
        ));
    }
    if let Some(s) = &opts.source
        && project.plan.source(s).is_none()
    {
        return Err(Error::config(
            project.dir.join("pipelines"),
            format!(
                "no source named `{s}`; sources are: {}",
                project
                    .plan
                    .sources
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    // Never two runs at once on one storage root.
    let held = acquire_lease(project, storage, &run_id).await?;
    // The run stops on an outside request or when its lease is lost.
    let stop = Shutdown::new();
    let forward = {
        let (outer, stop) = (opts.shutdown.clone(), stop.clone());
        tokio::spawn(async move { stop.request(outer.requested().await) })
    };
    let held = HeldLease::start(held, stop.clone());
    let span = info_span!("run", run_id = %run_id, trigger = %rec.trigger);
    let result = async {
        write_record(storage, &rec).await?;
        run_inner(project, storage, key, opts, &stop, &mut rec).await
    }
    .instrument(span)
    .await;
    forward.abort();
    rec.seconds = started.elapsed().as_secs_f64();
    rec.finished_at = Some(chrono::Utc::now().to_rfc3339());
    let refused: Vec<&FileReport> = rec
        .files
        .iter()
        .filter(|f| f.outcome == Outcome::Refused)
        .collect();
    let outcome = match result {
        Err(e) => Err(e),
        Ok(()) if !refused.is_empty() => Err(Error::DataRefused(format!(
            "{} file(s) refused, nothing of them was published; data published earlier is unchanged:\n{}",
            refused.len(),
            refused
                .iter()
                .map(|f| format!("  - {}", f.message))
                .collect::<Vec<_>>()
                .join("\n")
        ))),
        Ok(()) => Ok(()),
    };
    match &outcome {
        Ok(()) => rec.status = RunStatus::Succeeded,
        Err(e) => {
            rec.status = match e {
                Error::Interrupted(_) => RunStatus::Interrupted,
                _ => RunStatus::Failed,
            };
            rec.error = Some(e.to_string());
        }
    }
    let written = write_record(storage, &rec).await;
    let released = held.release().await;
    written?;
    if let Err(e) = released {
        warn!(error = %e, "could not release the run lease; it expires by itself");
    }
    Ok((rec, outcome))
}

/// [`run_with_record`], retried with exponential backoff (`[run] retry_*`) while
/// it fails on the store — a transient error. Partner data problems and
/// configuration errors are never retried. Each attempt is its own run.
pub async fn run_with_retries(
    project: &Project,
    storage: &Storage,
    key: PseudoKey,
    opts: &RunOptions,
) -> Result<(RunRecord, Result<()>)> {
    use backon::BackoffBuilder;
    let ops = &project.ops;
    let mut delays = backon::ExponentialBuilder::default()
        .with_min_delay(ops.retry_initial)
        .with_max_delay(ops.retry_max)
        .with_max_times(ops.retry_attempts.saturating_sub(1) as usize)
        .with_jitter()
        .build();
    let mut attempt = 1;
    loop {
        let result = run_with_record(project, storage, key.clone(), opts).await;
        let transient = match &result {
            Err(e) => e.is_transient(),
            Ok((_, Err(e))) => e.is_transient(),
            Ok((_, Ok(()))) => false,
        };
        if !transient || opts.shutdown.is_requested() {
            return result;
        }
        let Some(delay) = delays.next() else {
            return result;
        };
        let error = match &result {
            Err(e) | Ok((_, Err(e))) => e.to_string(),
            Ok(_) => String::new(),
        };
        warn!(
            attempt,
            of = ops.retry_attempts,
            retry_in_seconds = delay.as_secs(),
            error = %error,
            "run failed on the store; retrying"
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = opts.shutdown.requested() => return result,
        }
        attempt += 1;
    }
}

async fn run_inner(
    project: &Project,
    storage: &Storage,
    key: PseudoKey,
    opts: &RunOptions,
    stop: &Shutdown,
    rec: &mut RunRecord,
) -> Result<()> {
    // The catalogue and targets first: a typo fails the run before any ingest.
    let catalogue = if opts.no_scorecard {
        Vec::new()
    } else {
        crate::indicators::load_checked(project)?
    };
    let ledger = lake::read_ledger(storage).await?;
    let guard = crate::keycheck::guard(project, storage, &key, &rec.run_id, opts.new_key, &ledger).await?;
    crate::reference::publish_seeds(storage, &project.seeds).await?;
    // Files already settled: by content (any name) and by listing fingerprint.
    let done_hashes: HashMap<(String, String), (String, String)> = ledger
        .iter()
        .map(|e| {
            (
                (e.source.clone(), e.sha256.clone()),
                (e.outcome.clone(), e.file.clone()),
            )
        })
        .collect();
    // Name and size → the content hash and when it was recorded. A file changed
    // since (same name and size, newer modification time) is hashed again.
    type Recorded = (String, Option<chrono::DateTime<chrono::Utc>>);
    let fingerprints: HashMap<(String, String, i64), Recorded> = ledger
        .iter()
        .map(|e| {
            let recorded = chrono::DateTime::parse_from_rfc3339(&e.recorded_at)
                .ok()
                .map(|t| t.with_timezone(&chrono::Utc));
            (
                (e.source.clone(), e.file.clone(), e.size),
                (e.sha256.clone(), recorded),
            )
        })
        .collect();

    let progress = opts.progress.clone();
    progress.begin("ingest", 0);
    let ctx = IngestContext {
        storage: storage.clone(),
        key,
        seeds: project.seeds.clone(),
        run_id: rec.run_id.clone(),
        batch_rows: project.batch_rows,
        progress: progress.clone(),
    };
    for plan in &project.plan.sources {
        if opts.source.as_ref().is_some_and(|s| s != &plan.name) {
            continue;
        }
        let span = info_span!("source", source = %plan.name);
        let started = std::time::Instant::now();
        let files = storage.list_landing(&plan.name).instrument(span.clone()).await?;
        let mut first = true;
        let mut totals = SourceTotals {
            source: plan.name.clone(),
            files: 0,
            refused: 0,
            rows_read: 0,
            rows_accepted: 0,
            rows_rejected: 0,
            seconds: 0.0,
        };
        for lf in files.iter().filter(|f| !plan.glob.is_match(&f.relative)) {
            warn!(
                source = %plan.name,
                file = %lf.relative,
                "file not recognised: its name does not match `{}` (from {}), so it is not read",
                plan.glob.glob(),
                plan.file.display()
            );
            rec.not_recognised
                .push(format!("landing/{}/{}", plan.name, lf.relative));
        }
        // Content ingested (or refused) earlier in this run, by hash: its first file.
        let mut this_run: HashMap<String, String> = HashMap::new();
        for lf in files.iter().filter(|f| plan.glob.is_match(&f.relative)) {
            if let Some(reason) = stop.reason() {
                progress.end();
                totals.seconds = started.elapsed().as_secs_f64();
                rec.sources.push(totals);
                return Err(Error::Interrupted(reason));
            }
            if !opts.full_refresh
                && let Some((sha, recorded)) =
                    fingerprints.get(&(plan.name.clone(), lf.relative.clone(), lf.size as i64))
                && recorded.is_some_and(|r| lf.last_modified <= r)
                && let Some((outcome, _)) = done_hashes.get(&(plan.name.clone(), sha.clone()))
            {
                if outcome == Outcome::Refused.as_str() {
                    warn!(source = %plan.name, file = %lf.relative, "file refused earlier is still in the landing zone: not processed again; ask the partner for a corrected file");
                }
                continue;
            }
            let fspan = info_span!(parent: &span, "file", file = %lf.relative);
            progress.restart();
            progress.message(&format!("{}/{}", plan.name, lf.relative));
            let report = async {
                if let Some(path) = &lf.bad_name {
                    return refuse_bad_name(plan, lf, path).await.map(Some);
                }
                // Same bytes under any name: a no-op.
                let local = storage.local_copy(&lf.location).await?;
                let p = local.path().to_path_buf();
                let sniff = tokio::task::spawn_blocking(move || crate::read::sniff(&p))
                    .await
                    .map_err(Error::internal)?
                    .map_err(|e| Error::storage(lf.relative.clone(), e))?;
                if let Some(first) = this_run.get(&sniff.sha256) {
                    warn!(same_as = %first, "same content as {first}, read earlier in this run: skipped");
                    return Ok(None);
                }
                this_run.insert(sniff.sha256.clone(), lf.relative.clone());
                if !opts.full_refresh
                    && let Some((outcome, earlier)) = done_hashes.get(&(plan.name.clone(), sniff.sha256.clone()))
                {
                    let period = |f: &str| ingest::period_from_name(plan, f.rsplit('/').next().unwrap_or(f));
                    if outcome == Outcome::Refused.as_str() {
                        warn!(earlier = %earlier, "same bytes as a file refused earlier: not processed again; ask the partner for a corrected file");
                    } else if let (Some(now), Some(then)) = (period(&lf.relative), period(earlier))
                        && now != then
                    {
                        warn!(
                            earlier = %earlier,
                            "same bytes as {earlier}, delivered for period {} but named for period {}: usually a copy \
                             mistake by the partner; not ingested (ask for the right file)",
                            then.0,
                            now.0
                        );
                    } else {
                        info!(earlier = %earlier, "same bytes as a file already ingested: nothing to do");
                    }
                    return Ok(None);
                }
                let refresh = match (opts.full_refresh, first) {
                    (false, _) => ingest::Refresh::No,
                    (true, true) => ingest::Refresh::FirstFile,
                    (true, false) => ingest::Refresh::LaterFile,
                };
                // Finish within the grace period after a stop request, or abandon
                // the file before its commit (dropping the ingest commits nothing).
                tokio::select! {
                    r = ingest::ingest_file(&ctx, plan.clone(), lf, local, sniff, refresh) => r.map(Some),
                    reason = stop.requested_then(project.ops.shutdown_grace) => {
                        warn!("file abandoned uncommitted: the stop request's grace period ran out");
                        Err(Error::Interrupted(reason))
                    }
                }
            }
            .instrument(fspan.clone())
            .await;
            let report = match report {
                Ok(r) => r,
                Err(e) => {
                    // The summary still shows what this source did before the stop.
                    progress.end();
                    totals.seconds = started.elapsed().as_secs_f64();
                    rec.sources.push(totals);
                    return Err(e);
                }
            };
            let Some(report) = report else { continue };
            first = false;
            let _g = fspan.enter();
            match report.outcome {
                Outcome::Refused => error!(message = %report.message, "file refused"),
                Outcome::Recovered => warn!("{}", report.message),
                Outcome::Ingested => {
                    info!(
                        rows_read = report.rows_read,
                        rows_accepted = report.rows_accepted,
                        rows_rejected = report.rows_rejected,
                        seconds = format!("{:.2}", report.seconds),
                        "file ingested"
                    );
                    if !report.message.is_empty() {
                        warn!(message = %report.message, "file ingested with notes");
                    }
                }
            }
            drop(_g);
            totals.files += 1;
            totals.refused += (report.outcome == Outcome::Refused) as u64;
            totals.rows_read += report.rows_read;
            totals.rows_accepted += report.rows_accepted;
            totals.rows_rejected += report.rows_rejected;
            lake::append_ledger(
                storage,
                &[LedgerEntry {
                    run_id: rec.run_id.clone(),
                    source: plan.name.clone(),
                    file: lf.relative.clone(),
                    size: report.size as i64,
                    sha256: report.sha256.clone(),
                    rows_read: report.rows_read as i64,
                    rows_accepted: report.rows_accepted as i64,
                    rows_rejected: report.rows_rejected as i64,
                    outcome: report.outcome.as_str().into(),
                    message: report.message.clone(),
                    recorded_at: chrono::Utc::now().to_rfc3339(),
                }],
            )
            .await?;
            rec.files.push(report);
        }
        totals.seconds = started.elapsed().as_secs_f64();
        rec.sources.push(totals);
    }
    progress.end();
    if guard == crate::keycheck::Guard::Rotating {
        if let Some(reason) = stop.reason() {
            return Err(Error::Interrupted(reason));
        }
        crate::keycheck::finish_rotation(storage, &ctx.key, &rec.run_id).await?;
    }
    if opts.no_scorecard {
        return Ok(());
    }
    if let Some(reason) = stop.reason() {
        return Err(Error::Interrupted(reason));
    }

    let started = std::time::Instant::now();
    let fingerprint = crate::indicators::fingerprint(project, storage).await?;
    if !opts.force_scorecard
        && let Some(since) = crate::indicators::unchanged_since(storage, &fingerprint).await?
    {
        info!(since = %since, "no changes since run {since}: the published scorecard stands");
        rec.no_changes_since = Some(since);
        return Ok(());
    }
    let card = tokio::select! {
        r = crate::indicators::build_scorecard(project, &catalogue, storage, &rec.run_id, &opts.progress)
            .instrument(info_span!("scorecard")) => r?,
        reason = stop.requested_then(project.ops.shutdown_grace) => {
            warn!("scorecard abandoned: the stop request's grace period ran out; the published scorecard is the previous run's");
            return Err(Error::Interrupted(reason));
        }
    };
    crate::indicators::record_fingerprint(storage, &fingerprint, &rec.run_id).await?;
    rec.scorecard_seconds = started.elapsed().as_secs_f64();
    let rows = card.rows;
    rec.scorecard_rows = rows.len();
    rec.scorecard_notes = card.notes;
    info!(
        rows = rows.len(),
        seconds = format!("{:.2}", rec.scorecard_seconds),
        "scorecard published"
    );
    rec.scorecard = rows;
    for t in &card.targets {
        info!(target_name = %t.target, status = t.status.as_str(), "target: {}", t.wording);
    }
    rec.targets = card.targets;
    Ok(())
}

/// A landing file whose name is not UTF-8 text: refused by name (its hash still
/// goes to the ledger, so later runs know it), the rest of the run goes on.
async fn refuse_bad_name(plan: &SourcePlan, lf: &LandingFile, path: &std::path::Path) -> Result<FileReport> {
    let p = path.to_path_buf();
    let sniff = tokio::task::spawn_blocking(move || crate::read::sniff(&p))
        .await
        .map_err(Error::internal)?
        .map_err(|e| Error::storage(lf.relative.clone(), e))?;
    Ok(FileReport {
        source: plan.name.clone(),
        file: lf.relative.clone(),
        size: sniff.size,
        sha256: sniff.sha256,
        period: None,
        rows_read: 0,
        rows_accepted: 0,
        rows_rejected: 0,
        rows_skipped: 0,
        outcome: Outcome::Refused,
        message: format!(
            "landing/{}/{}: the file name is not valid UTF-8 text: \
             rename it, e.g. with letters, digits, `-` and `_` only",
            plan.name, lf.relative
        ),
        quarantine: None,
        seconds: 0.0,
    })
}

/// The human summary printed at the end of every run.
pub fn summary(rec: &RunRecord) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "run {} {} in {:.1}s{}\n",
        rec.run_id,
        rec.status,
        rec.seconds,
        if rec.demo_key {
            " (DEMO pseudonymisation key)"
        } else {
            ""
        }
    ));
    out.push_str(&format!(
        "{:<34} {:>5} {:>7} {:>11} {:>11} {:>9} {:>8}\n",
        "source", "files", "refused", "rows read", "accepted", "rejected", "seconds"
    ));
    for s in &rec.sources {
        out.push_str(&format!(
            "{:<34} {:>5} {:>7} {:>11} {:>11} {:>9} {:>8.1}\n",
            s.source, s.files, s.refused, s.rows_read, s.rows_accepted, s.rows_rejected, s.seconds
        ));
    }
    if let Some(since) = &rec.no_changes_since {
        out.push_str(&format!(
            "no changes since run {since}: the scorecard was not recomputed (`run --force-scorecard` recomputes it)\n"
        ));
    }
    if !rec.not_recognised.is_empty() {
        out.push_str(&format!(
            "not recognised (not read; rename to match the source's `files` pattern, or remove): {}\n",
            rec.not_recognised.join(", ")
        ));
    }
    if rec.scorecard_rows > 0 {
        out.push_str(&format!(
            "scorecard: {} rows computed and published in {:.1}s\n",
            rec.scorecard_rows, rec.scorecard_seconds
        ));
        for n in &rec.scorecard_notes {
            out.push_str(&format!("  note: {n}\n"));
        }
    }
    out
}
