//! The run record: what `state/runs/<run_id>.json` holds for each run (and
//! purge), written as the run goes and read back by `status`, `runs`, alerts
//! and metrics. A type of its own, below the run that writes it and the
//! service that reads it.

use object_store::ObjectStoreExt;

use crate::error::{Error, Result};
use crate::ingest::FileReport;
use crate::storage::Storage;

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
    pub purged: Vec<Purged>,
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

/// One deleted file, as the run history records it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Purged {
    /// `landing/<source>/<file>` or `quarantine/<source>/<file>`.
    pub file: String,
    pub size: u64,
    pub sha256: String,
    /// Why it was due, e.g. "ingested 2026-01-02, 90-day landing retention".
    pub reason: String,
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

/// The most recent run records, newest first (run ids sort by start time).
pub async fn recent_runs(storage: &Storage, limit: usize) -> Result<Vec<serde_json::Value>> {
    let mut listed = storage.list("state/runs").await?;
    listed.sort_by(|a, b| b.location.as_ref().cmp(a.location.as_ref()));
    let mut out = Vec::new();
    for m in listed
        .iter()
        .filter(|m| m.location.as_ref().ends_with(".json"))
        .take(limit)
    {
        let bytes = storage
            .store
            .get(&m.location)
            .await
            .map_err(|e| Error::storage(m.location.to_string(), e))?
            .bytes()
            .await
            .map_err(|e| Error::storage(m.location.to_string(), e))?;
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(v) => out.push(v),
            Err(e) => tracing::warn!(record = %m.location, error = %e, "unreadable run record skipped"),
        }
    }
    Ok(out)
}
