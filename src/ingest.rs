//! Ingesting one landing file: sniff, read, check, pseudonymise and stream the
//! accepted rows into one Delta commit; rejected rows go to quarantine first.
//! Only the run orchestrator (`run.rs`) decides which files to ingest.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::error::DataFusionError;
use datafusion::parquet::arrow::ArrowWriter;
use tokio::sync::mpsc;

use crate::check::{BatchBuilder, Checked, Checker, FileInfo, map_header, quarantine_schema};
use crate::config::compile::PeriodPlan;
use crate::config::{Redelivery, SourcePlan};
use crate::error::{Error, Result};
use crate::lake::{self, Replace};
use crate::pseudo::PseudoKey;
use crate::read;
use crate::seeds::Seeds;
use crate::storage::{LandingFile, LocalFile, Storage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Rows committed to the lake.
    Ingested,
    /// Committed by an earlier, interrupted run; only the ledger entry was missing.
    Recovered,
    /// The file could not be used (unreadable, or too many rejected rows); nothing published.
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ingested => "ingested",
            Outcome::Recovered => "recovered",
            Outcome::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    pub source: String,
    pub file: String,
    pub size: u64,
    pub sha256: String,
    pub period: Option<String>,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rows_skipped: u64,
    pub outcome: Outcome,
    pub message: String,
    pub quarantine: Option<String>,
    pub seconds: f64,
}

/// Shared, per-run inputs of ingestion.
pub struct IngestContext {
    pub storage: Storage,
    pub key: PseudoKey,
    pub seeds: Arc<Seeds>,
    pub run_id: String,
    pub batch_rows: usize,
    pub progress: crate::progress::Reporter,
}

/// Default `delivery` of a file that carries its whole period.
pub const WHOLE_DELIVERY: &str = "all";

/// The period a file belongs to, and which part of that period's delivery it
/// carries (the pattern's `delivery` group, lowercased; `all` without one).
pub fn period_from_name(plan: &SourcePlan, file_name: &str) -> Option<(String, String)> {
    match &plan.period {
        PeriodPlan::FileName { pattern, format } => {
            let caps = pattern.captures(file_name)?;
            let mut out = format.clone();
            for name in pattern.capture_names().flatten() {
                let v = caps.name(name).map(|m| m.as_str()).unwrap_or("");
                out = out.replace(&format!("{{{name}}}"), v);
            }
            let delivery = caps
                .name("delivery")
                .map(|m| m.as_str().to_lowercase())
                .unwrap_or_else(|| WHOLE_DELIVERY.to_string());
            Some((out, delivery))
        }
        PeriodPlan::Column { .. } => None,
    }
}

/// What the reading thread reports when it finishes.
#[derive(Default)]
struct ReadReport {
    read: u64,
    accepted: u64,
    rejected: u64,
    skipped: u64,
    reasons: HashMap<String, u64>,
    /// The first rejected row: its line and reasons (values shown only for
    /// columns that are not identifiers).
    first: Option<(u64, String)>,
    /// Why the whole file is refused (nothing is committed).
    refused: Option<String>,
    quarantine: Option<String>,
    /// Header cells that map to no column: new columns, ignored until configured.
    unmapped: Vec<String>,
}

impl ReadReport {
    /// A rejected row: its reasons counted, the first one kept for the message.
    fn count_rejection(&mut self, line: u64, reasons: &[crate::check::Reason]) {
        self.rejected += 1;
        for r in reasons {
            *self.reasons.entry(r.summary()).or_default() += 1;
        }
        if self.first.is_none() {
            let text: Vec<String> = reasons.iter().map(|r| r.to_string()).collect();
            self.first = Some((line, text.join("; ")));
        }
    }

    /// Why the file is refused for its rows: none readable, or more rejected
    /// than the source's `max_reject_ratio`.
    fn refusal(&self, plan: &SourcePlan, display: &str) -> Option<String> {
        let ratio = match rejected_share(self.read, self.rejected) {
            None => return Some(no_data_rows(display)),
            Some(ratio) if ratio > plan.max_reject_ratio => ratio,
            Some(_) => return None,
        };
        let first = self
            .first
            .as_ref()
            .map(|(line, why)| format!("; first at line {line}: {why}"))
            .unwrap_or_default();
        Some(format!(
            "{display}: refused, {} of {} rows ({:.1}%) failed their checks, over the limit of {:.1}%; commonest reasons: {}{first}; rejected rows are in {}",
            self.rejected,
            self.read,
            ratio * 100.0,
            plan.max_reject_ratio * 100.0,
            top_reasons(&self.reasons, 3),
            self.quarantine.as_deref().unwrap_or("quarantine")
        ))
    }
}

/// How a `--full-refresh` run treats a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// A normal run: a file already committed is only recorded.
    No,
    /// The first file of its source in a full refresh: it replaces the whole table.
    FirstFile,
    /// A later file in a full refresh: written again whatever the lake holds.
    LaterFile,
}

/// Ingest one file that the ledger does not know yet: `local` is its readable
/// copy and `sniffed` what [`read::sniff`] learnt of it (the caller has both).
pub async fn ingest_file(
    ctx: &IngestContext,
    plan: Arc<SourcePlan>,
    lf: &LandingFile,
    local: LocalFile,
    sniffed: read::Sniff,
    refresh: Refresh,
) -> Result<FileReport> {
    let started = std::time::Instant::now();
    let display = format!("landing/{}/{}", plan.name, lf.relative);
    let mut report = FileReport::new(&plan.name, &lf.relative, &sniffed);
    // A text file whose last line has no line break may have been cut short.
    let cut_short = matches!(sniffed.kind, read::Detected::Text { .. }) && !sniffed.ends_with_newline;
    let app_id = lake::file_app_id(&plan.name, &sniffed.sha256);
    let done = |mut report: FileReport, outcome: Outcome, message: String| {
        report.outcome = outcome;
        report.message = message;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    };
    if refresh == Refresh::No && lake::is_committed(&ctx.storage, &plan.table, &app_id).await? {
        let message = "already committed by an interrupted run; ledger completed".into();
        return done(report, Outcome::Recovered, message);
    }
    let file_name = lf.relative.rsplit('/').next().unwrap_or(&lf.relative);
    // The period its name gives, also on a file refused for it.
    report.period = period_from_name(&plan, file_name).map(|(p, _)| p);
    let (replace, info) = match destination(&plan, &display, file_name, refresh) {
        Ok((replace, period, delivery)) => {
            let info = FileInfo {
                period,
                delivery,
                file: lf.relative.clone(),
                run_id: ctx.run_id.clone(),
            };
            (replace, info)
        }
        Err(why) => return done(report, Outcome::Refused, why),
    };
    let (completeness, min_rows) =
        whole_table_limits(&ctx.storage, &plan, matches!(replace, Replace::Table)).await?;
    let (tx, rx) = mpsc::channel::<Result<RecordBatch, DataFusionError>>(2);
    let job = ReadJob {
        plan: plan.clone(),
        display,
        sniffed,
        key: ctx.key.clone(),
        seeds: ctx.seeds.clone(),
        info,
        batch_rows: ctx.batch_rows,
        completeness,
        min_rows,
        storage: ctx.storage.clone(),
        handle: tokio::runtime::Handle::current(),
        progress: ctx.progress.clone(),
    };
    // The temporary copy (if any) lives until reading ends.
    // The file is read on a blocking thread, whose heap keeps what the reading
    // freed until the thread next allocates; it hands it back when done (a
    // national first run: 242-258 -> 172-191 MiB resident when the scorecard
    // starts, 563-578 -> 512-518 MiB peak, no change in time).
    let producer = tokio::task::spawn_blocking(move || {
        let read = job.run(local.path(), &tx);
        crate::heap::release_freed();
        read
    });
    let metadata = serde_json::Map::from_iter(
        [
            ("startwell_file", lf.relative.clone()),
            ("startwell_sha256", report.sha256.clone()),
            ("startwell_run_id", ctx.run_id.clone()),
        ]
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(v))),
    );
    let written = lake::write_stream(
        &ctx.storage,
        &plan.table,
        plan.schema.clone(),
        rx,
        replace,
        &app_id,
        metadata,
    )
    .await;
    let rr = match producer.await.map_err(Error::internal)? {
        Ok(r) => r,
        Err(Error::BadFile { file, message }) => {
            return done(report, Outcome::Refused, format!("{file}: {message}"));
        }
        Err(e) => return Err(e),
    };
    report.rows_read = rr.read;
    report.rows_accepted = rr.accepted;
    report.rows_rejected = rr.rejected;
    report.rows_skipped = rr.skipped;
    report.quarantine = rr.quarantine.clone();
    const CUT_SHORT: &str = "the file does not end with a line break: its last row may have been cut short; \
                             check it against the partner's copy";
    if let Some(why) = rr.refused {
        let message = if cut_short {
            format!("{why}; {CUT_SHORT}")
        } else {
            why
        };
        return done(report, Outcome::Refused, message);
    }
    written?;
    let mut notes = Vec::new();
    if rr.rejected > 0 {
        let commonest = top_reasons(&rr.reasons, 3);
        notes.push(format!(
            "{} row(s) quarantined; commonest: {commonest}",
            rr.rejected
        ));
    }
    if cut_short {
        notes.push(CUT_SHORT.to_string());
    }
    if !rr.unmapped.is_empty() {
        let (file, columns) = (plan.file.display(), rr.unmapped.join(", "));
        notes.push(format!(
            "column(s) not in the schema, ignored until configured in {file}: {columns}"
        ));
    }
    done(report, Outcome::Ingested, notes.join("; "))
}

impl FileReport {
    /// A file about to be read: nothing counted yet.
    fn new(source: &str, file: &str, sniffed: &read::Sniff) -> FileReport {
        FileReport {
            source: source.to_string(),
            file: file.to_string(),
            size: sniffed.size,
            sha256: sniffed.sha256.clone(),
            period: None,
            rows_read: 0,
            rows_accepted: 0,
            rows_rejected: 0,
            rows_skipped: 0,
            outcome: Outcome::Ingested,
            message: String::new(),
            quarantine: None,
            seconds: 0.0,
        }
    }
}

/// Where a file's rows go: what they replace, and the period and delivery its
/// name gives; or why the file is refused (its name gives no period, or one
/// that is not a valid period of the source's kind).
fn destination(
    plan: &SourcePlan,
    display: &str,
    file_name: &str,
    refresh: Refresh,
) -> std::result::Result<(Replace, Option<String>, String), String> {
    let replace = match plan.redelivery {
        _ if refresh == Refresh::FirstFile => Replace::Table,
        Redelivery::Append => Replace::Nothing,
        Redelivery::ReplaceTable => Replace::Table,
        Redelivery::ReplacePeriod => match period_from_name(plan, file_name) {
            Some((p, d)) => Replace::Period(p, d),
            None => {
                return Err(format!(
                    "{display}: the file name does not say which period it belongs to (expected to match `{}` from {})",
                    match &plan.period {
                        PeriodPlan::FileName { pattern, .. } => pattern.as_str().to_string(),
                        PeriodPlan::Column { .. } => String::new(),
                    },
                    plan.file.display()
                ));
            }
        },
    };
    let (period, delivery) = match period_from_name(plan, file_name) {
        Some((p, d)) => (Some(p), d),
        None => (None, WHOLE_DELIVERY.to_string()),
    };
    if let (Some(kind), Some(p)) = (plan.period_kind, &period)
        && !kind.is_valid(p)
    {
        return Err(format!(
            "{display}: the file name gives period `{p}`, which is not a valid {} (like `{}`): rename the file \
             with its real period",
            kind.as_str().replace('_', " "),
            kind.example()
        ));
    }
    Ok((replace, period, delivery))
}

/// Header cells that map to no column of the source (quoted only when they
/// could be a column name, never a value from a data row).
pub fn unmapped_columns(header: &[String], map: &crate::check::HeaderMap) -> Vec<String> {
    header
        .iter()
        .enumerate()
        .filter(|(i, h)| !h.trim().is_empty() && !map.cells.contains(&Some(*i)))
        .map(|(_, h)| {
            if crate::check::could_be_header(h) {
                h.trim().to_string()
            } else {
                "(a cell that is not quoted)".to_string()
            }
        })
        .collect()
}

/// For a file that replaces its whole table: its `[completeness]` checks, and
/// (least usable rows, rows the table holds now), so it is not much smaller
/// than what it replaces. Nothing for other files.
pub async fn whole_table_limits(
    storage: &Storage,
    plan: &SourcePlan,
    replaces_table: bool,
) -> Result<(
    Option<crate::config::compile::CompletenessPlan>,
    Option<(u64, u64)>,
)> {
    let Some(c) = plan.completeness.as_ref().filter(|_| replaces_table) else {
        return Ok((None, None));
    };
    let min_rows = match c.min_rows_ratio {
        Some(r) => {
            let now = lake::count_rows(storage, &plan.table).await?;
            Some(((now as f64 * r).ceil() as u64, now))
        }
        None => None,
    };
    Ok((Some(c.clone()), min_rows))
}

/// The checks on a file that would replace its whole table (`[completeness]`),
/// followed row by row: a required value some row must have, and the least
/// number of usable rows. Shared by `run` and `plan`.
pub struct WholeTableCheck<'a> {
    completeness: Option<&'a crate::config::compile::CompletenessPlan>,
    found: Vec<bool>,
    /// (least accepted rows, rows the table holds now)
    min_rows: Option<(u64, u64)>,
}

impl<'a> WholeTableCheck<'a> {
    pub fn new(
        completeness: Option<&'a crate::config::compile::CompletenessPlan>,
        min_rows: Option<(u64, u64)>,
    ) -> Self {
        WholeTableCheck {
            found: vec![false; completeness.map_or(0, |c| c.require.len())],
            completeness,
            min_rows,
        }
    }

    /// An accepted row's values.
    pub fn see(&mut self, slots: &[crate::check::Value]) {
        if let Some(c) = self.completeness {
            for (f, (ix, values)) in self.found.iter_mut().zip(&c.require) {
                *f = *f || matches!(&slots[*ix], crate::check::Value::Str(v) if values.contains(v));
            }
        }
    }

    /// Why the file is refused, after its `accepted` rows.
    pub fn refusal(&self, display: &str, plan: &SourcePlan, accepted: u64) -> Option<String> {
        if let Some(c) = self.completeness
            && let Some(k) = self.found.iter().position(|f| !f)
        {
            let (ix, values) = &c.require[k];
            let mut values: Vec<&String> = values.iter().collect();
            values.sort();
            return Some(format!(
                "{display}: no row has {} = {}: an incomplete download? It would replace the whole table, so it is refused",
                plan.columns[*ix].name,
                values
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        if let Some((least, now)) = self.min_rows
            && accepted < least
        {
            return Some(format!(
                "{display}: {accepted} usable row(s), fewer than the {least} required ({:.0}% of the {now} rows the table \
                 holds now): an incomplete download? It would replace the whole table, so it is refused",
                100.0 * self.completeness.and_then(|c| c.min_rows_ratio).unwrap_or(0.0)
            ));
        }
        None
    }
}

/// The share of a file's rows that were rejected; `None` when it has no data rows
/// (refused as such). `run` and `plan` refuse a file over `max_reject_ratio`.
pub fn rejected_share(read: u64, rejected: u64) -> Option<f64> {
    (read > 0).then(|| rejected as f64 / read as f64)
}

/// Why a file with a header and no rows is refused.
pub fn no_data_rows(display: &str) -> String {
    format!("{display}: the file has a header but no data rows")
}

fn top_reasons(reasons: &HashMap<String, u64>, n: usize) -> String {
    let mut v: Vec<(&String, &u64)> = reasons.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.into_iter()
        .take(n)
        .map(|(r, c)| format!("{r} ×{c}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Everything the reading thread needs for one file.
struct ReadJob {
    plan: Arc<SourcePlan>,
    display: String,
    sniffed: read::Sniff,
    key: PseudoKey,
    seeds: Arc<Seeds>,
    info: FileInfo,
    batch_rows: usize,
    /// Checks on a file that replaces its whole table.
    completeness: Option<crate::config::compile::CompletenessPlan>,
    /// (least accepted rows, rows the table holds now) for such a file.
    min_rows: Option<(u64, u64)>,
    storage: Storage,
    handle: tokio::runtime::Handle,
    progress: crate::progress::Reporter,
}

impl ReadJob {
    /// The reading thread: rows → checks → batches on `tx`; rejects → quarantine.
    fn run(
        self,
        path: &std::path::Path,
        tx: &mpsc::Sender<Result<RecordBatch, DataFusionError>>,
    ) -> Result<ReadReport> {
        let ReadJob {
            plan,
            display,
            sniffed,
            key,
            seeds,
            info,
            batch_rows,
            completeness,
            min_rows,
            storage,
            handle,
            progress,
        } = self;
        let mut whole = WholeTableCheck::new(completeness.as_ref(), min_rows);
        let (plan, display, sniffed, key, seeds): (&SourcePlan, &str, _, _, &Seeds) =
            (&plan, &display, &sniffed, &key, &seeds);
        let (storage, handle, progress) = (&storage, &handle, &progress);
        let fail = |tx: &mpsc::Sender<Result<RecordBatch, DataFusionError>>, msg: String| {
            let _ = tx.blocking_send(Err(DataFusionError::External(msg.into())));
        };
        let reader = match read::open(path, display, &plan.format, sniffed) {
            Ok(r) => r,
            Err(e) => {
                fail(tx, e.to_string());
                return Err(e);
            }
        };
        let header = match map_header(plan, &reader.header, display) {
            Ok(h) => h,
            Err(e) => {
                fail(tx, e.to_string());
                return Err(e);
            }
        };
        let unmapped = unmapped_columns(&reader.header, &header);
        let file = info.file.clone();
        let file = file.as_str();
        let mut checker = Checker::new(plan, header, key, seeds, info);
        let mut batch = BatchBuilder::new(plan);
        let mut q = Quarantine::new(plan)?;
        let mut rep = ReadReport {
            unmapped,
            ..ReadReport::default()
        };
        for row in reader.rows {
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    fail(tx, e.to_string());
                    return Err(e);
                }
            };
            rep.read += 1;
            match checker.check(&row) {
                Checked::Ok(slots) => {
                    rep.accepted += 1;
                    whole.see(&slots);
                    batch.push(slots);
                    if batch.len() >= batch_rows {
                        let b = batch.finish()?;
                        if tx.blocking_send(Ok(b)).is_err() {
                            // The writer stopped (its error is reported by the caller).
                            return Ok(rep);
                        }
                        progress.advance(batch_rows as u64);
                    }
                }
                Checked::Rejected(reasons) => {
                    rep.count_rejection(row.line, &reasons);
                    let raw: Vec<String> = (0..plan.columns.len())
                        .map(|i| checker.raw(&row, i).to_string())
                        .collect();
                    q.push(file, row.line, &reasons, raw)?;
                }
            }
        }
        rep.skipped = reader.skipped.load(std::sync::atomic::Ordering::Relaxed);
        if rep.rejected > 0 {
            let stem = file.rsplit('/').next().unwrap_or(file);
            let rel = format!(
                "quarantine/{}/{}-{}.parquet",
                plan.name,
                stem,
                &sniffed.sha256[..12]
            );
            q.finish_and_upload(storage, handle, &rel)?;
            rep.quarantine = Some(rel);
        }
        rep.refused = rep
            .refusal(plan, display)
            .or_else(|| whole.refusal(display, plan, rep.accepted));
        if let Some(why) = &rep.refused {
            fail(tx, why.clone());
            return Ok(rep);
        }
        if !batch.is_empty() {
            let n = batch.len() as u64;
            let b = batch.finish()?;
            let _ = tx.blocking_send(Ok(b));
            progress.advance(n);
        }
        Ok(rep)
    }
}

/// Rejected rows, streamed to a local Parquet file, then uploaded.
struct Quarantine {
    schema: datafusion::arrow::datatypes::SchemaRef,
    tmp: tempfile::NamedTempFile,
    writer: Option<ArrowWriter<std::fs::File>>,
    rows: Vec<(String, i64, String, Vec<String>)>,
}

impl Quarantine {
    fn new(plan: &SourcePlan) -> Result<Self> {
        Ok(Quarantine {
            schema: quarantine_schema(plan),
            tmp: tempfile::NamedTempFile::new().map_err(Error::internal)?,
            writer: None,
            rows: Vec::new(),
        })
    }

    fn push(
        &mut self,
        file: &str,
        line: u64,
        reasons: &[crate::check::Reason],
        raw: Vec<String>,
    ) -> Result<()> {
        let text = reasons
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        self.rows.push((file.to_string(), line as i64, text, raw));
        if self.rows.len() >= 4096 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0.as_str()))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2.as_str()))),
        ];
        let ncols = self.schema.fields().len() - 3;
        for c in 0..ncols {
            cols.push(Arc::new(StringArray::from_iter(
                rows.iter()
                    .map(|r| r.3.get(c).filter(|s| !s.is_empty()).map(String::as_str)),
            )));
        }
        let batch = RecordBatch::try_new(self.schema.clone(), cols).map_err(Error::internal)?;
        if self.writer.is_none() {
            let f = self.tmp.reopen().map_err(Error::internal)?;
            self.writer = Some(ArrowWriter::try_new(f, self.schema.clone(), None).map_err(Error::internal)?);
        }
        self.writer
            .as_mut()
            .expect("just set")
            .write(&batch)
            .map_err(Error::internal)?;
        Ok(())
    }

    fn finish_and_upload(
        mut self,
        storage: &Storage,
        handle: &tokio::runtime::Handle,
        rel: &str,
    ) -> Result<()> {
        self.flush()?;
        if let Some(w) = self.writer.take() {
            w.close().map_err(Error::internal)?;
        }
        let path = self.tmp.path().to_path_buf();
        let storage = storage.clone();
        let rel = rel.to_string();
        handle.block_on(async move { crate::storage::upload_file(&storage, &path, &rel).await })
    }
}
