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
use crate::pseudo::PseudoKey;
use crate::runtime::lease::{self, HeldLease};
use crate::runtime::record::write_record;
use crate::runtime::shutdown::Shutdown;
use crate::storage::{LandingFile, Storage};

// The run's result is its record.
pub use crate::runtime::record::{RunRecord, RunStatus, SourceTotals, new_run_id};

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
    let held = lease::acquire_for_run(project, storage, &run_id).await?;
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
    let settled = Settled::from_ledger(&ledger);
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
    let stage = IngestStage {
        project,
        ctx: &ctx,
        settled: &settled,
        opts,
        stop,
    };
    for plan in &project.plan.sources {
        if opts.source.as_ref().is_some_and(|s| s != &plan.name) {
            continue;
        }
        let started = std::time::Instant::now();
        let mut totals = SourceTotals {
            source: plan.name.clone(),
            files: 0,
            refused: 0,
            rows_read: 0,
            rows_accepted: 0,
            rows_rejected: 0,
            seconds: 0.0,
        };
        let done = stage.source(plan, &mut totals, rec).await;
        // The summary shows what each source did, also when a stop or an error
        // ends the run part-way through it.
        totals.seconds = started.elapsed().as_secs_f64();
        rec.sources.push(totals);
        if let Err(e) = done {
            progress.end();
            return Err(e);
        }
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
    scorecard_stage(project, &catalogue, storage, opts, stop, rec).await
}

/// What the ledger says is settled: files by content, and by listing (name and
/// size, with when their hash was recorded).
struct Settled {
    /// (source, SHA-256) → (outcome, file).
    by_hash: HashMap<(String, String), (String, String)>,
    /// (source, file, size) → its content hash and when that was recorded.
    by_listing: HashMap<(String, String, i64), Listed>,
}

impl Settled {
    fn from_ledger(ledger: &[LedgerEntry]) -> Settled {
        let by_hash = ledger
            .iter()
            .map(|e| {
                (
                    (e.source.clone(), e.sha256.clone()),
                    (e.outcome.clone(), e.file.clone()),
                )
            })
            .collect();
        let by_listing = ledger
            .iter()
            .map(|e| {
                let recorded = chrono::DateTime::parse_from_rfc3339(&e.recorded_at)
                    .ok()
                    .map(|t| t.with_timezone(&chrono::Utc));
                let listed = Listed {
                    sha256: e.sha256.clone(),
                    recorded,
                };
                ((e.source.clone(), e.file.clone(), e.size), listed)
            })
            .collect();
        Settled { by_hash, by_listing }
    }

    /// The outcome recorded for a file whose name and size are in the ledger and
    /// that has not changed since (a file changed since is hashed again).
    fn unchanged(&self, plan: &SourcePlan, lf: &LandingFile) -> Option<&str> {
        let listed = self
            .by_listing
            .get(&(plan.name.clone(), lf.relative.clone(), lf.size as i64))?;
        if listed.recorded.is_none_or(|r| lf.last_modified > r) {
            return None;
        }
        let (outcome, _) = self.by_hash.get(&(plan.name.clone(), listed.sha256.clone()))?;
        Some(outcome)
    }
}

/// A file the ledger lists: its content hash, and when that was recorded.
struct Listed {
    sha256: String,
    recorded: Option<chrono::DateTime<chrono::Utc>>,
}

/// The ingest stage: each source's new landing files, one at a time.
struct IngestStage<'a> {
    project: &'a Project,
    ctx: &'a IngestContext,
    settled: &'a Settled,
    opts: &'a RunOptions,
    stop: &'a Shutdown,
}

impl IngestStage<'_> {
    /// Every new file of one source: ingested, each with its ledger entry.
    async fn source(
        &self,
        plan: &std::sync::Arc<SourcePlan>,
        totals: &mut SourceTotals,
        rec: &mut RunRecord,
    ) -> Result<()> {
        let span = info_span!("source", source = %plan.name);
        let files = self
            .ctx
            .storage
            .list_landing(&plan.name)
            .instrument(span.clone())
            .await?;
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
        let mut first = true;
        for lf in files.iter().filter(|f| plan.glob.is_match(&f.relative)) {
            if let Some(reason) = self.stop.reason() {
                return Err(Error::Interrupted(reason));
            }
            if !self.opts.full_refresh
                && let Some(outcome) = self.settled.unchanged(plan, lf)
            {
                if outcome == Outcome::Refused.as_str() {
                    warn!(source = %plan.name, file = %lf.relative, "file refused earlier is still in the landing zone: not processed again; ask the partner for a corrected file");
                }
                continue;
            }
            let fspan = info_span!(parent: &span, "file", file = %lf.relative);
            self.ctx.progress.restart();
            self.ctx
                .progress
                .message(&format!("{}/{}", plan.name, lf.relative));
            let refresh = match (self.opts.full_refresh, first) {
                (false, _) => ingest::Refresh::No,
                (true, true) => ingest::Refresh::FirstFile,
                (true, false) => ingest::Refresh::LaterFile,
            };
            let report = self
                .file(plan, lf, refresh, &mut this_run)
                .instrument(fspan.clone())
                .await?;
            let Some(report) = report else { continue };
            first = false;
            fspan.in_scope(|| log_outcome(&report));
            totals.files += 1;
            totals.refused += (report.outcome == Outcome::Refused) as u64;
            totals.rows_read += report.rows_read;
            totals.rows_accepted += report.rows_accepted;
            totals.rows_rejected += report.rows_rejected;
            lake::append_ledger(
                &self.ctx.storage,
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
        Ok(())
    }

    /// One landing file: its report, or `None` when its bytes were seen before
    /// (earlier in this run, or settled in the ledger).
    async fn file(
        &self,
        plan: &std::sync::Arc<SourcePlan>,
        lf: &LandingFile,
        refresh: ingest::Refresh,
        this_run: &mut HashMap<String, String>,
    ) -> Result<Option<FileReport>> {
        if let Some(path) = &lf.bad_name {
            return refuse_bad_name(plan, lf, path).await.map(Some);
        }
        // Same bytes under any name: a no-op.
        let local = self.ctx.storage.local_copy(&lf.location).await?;
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
        if !self.opts.full_refresh
            && let Some((outcome, earlier)) = self
                .settled
                .by_hash
                .get(&(plan.name.clone(), sniff.sha256.clone()))
        {
            seen_before(plan, lf, outcome, earlier);
            return Ok(None);
        }
        // Finish within the grace period after a stop request, or abandon
        // the file before its commit (dropping the ingest commits nothing).
        tokio::select! {
            r = ingest::ingest_file(self.ctx, plan.clone(), lf, local, sniff, refresh) => r.map(Some),
            reason = self.stop.requested_then(self.project.ops.shutdown_grace) => {
                warn!("file abandoned uncommitted: the stop request's grace period ran out");
                Err(Error::Interrupted(reason))
            }
        }
    }
}

/// Say why a file whose bytes the ledger has seen is not ingested again.
fn seen_before(plan: &SourcePlan, lf: &LandingFile, outcome: &str, earlier: &str) {
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
}

/// A file's outcome in the log.
fn log_outcome(report: &FileReport) {
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
}

/// The scorecard, unless nothing it is computed from changed since the last one.
async fn scorecard_stage(
    project: &Project,
    catalogue: &[crate::indicators::catalogue::Indicator],
    storage: &Storage,
    opts: &RunOptions,
    stop: &Shutdown,
    rec: &mut RunRecord,
) -> Result<()> {
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
        r = crate::indicators::build_scorecard(project, catalogue, storage, &rec.run_id, &opts.progress)
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
