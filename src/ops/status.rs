//! What `startwell status`, `startwell runs`, `/runs` and the freshness
//! metrics and alerts report: each source's last delivery and its age against
//! the source's expected cadence, and the recent run records.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Project;
use crate::config::ops::Freshness;
use crate::error::Result;
use crate::storage::Storage;

/// A source's freshness against its cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FreshState {
    /// No cadence declared.
    NotTracked,
    Fresh,
    Warn,
    Error,
    /// Never delivered (an error when a cadence is declared).
    Never,
}

impl FreshState {
    pub fn as_str(self) -> &'static str {
        match self {
            FreshState::NotTracked => "not_tracked",
            FreshState::Fresh => "fresh",
            FreshState::Warn => "warn",
            FreshState::Error => "error",
            FreshState::Never => "never",
        }
    }

    /// Worth an alert.
    pub fn is_stale(self) -> bool {
        matches!(self, FreshState::Warn | FreshState::Error | FreshState::Never)
    }

    /// For `/metrics`: 0 fresh or not tracked, 1 warn, 2 error or never delivered.
    pub fn level(self) -> i64 {
        match self {
            FreshState::NotTracked | FreshState::Fresh => 0,
            FreshState::Warn => 1,
            FreshState::Error | FreshState::Never => 2,
        }
    }
}

/// Classify a source by the age of its last delivery.
pub fn classify(f: Option<&Freshness>, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> FreshState {
    let Some(f) = f else {
        return FreshState::NotTracked;
    };
    let Some(last) = last else {
        return FreshState::Never;
    };
    let age_days = (now - last).num_seconds() as f64 / 86_400.0;
    if age_days >= f.error_after_days as f64 {
        FreshState::Error
    } else if age_days >= f.warn_after_days as f64 {
        FreshState::Warn
    } else {
        FreshState::Fresh
    }
}

/// One source as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    pub source: String,
    pub cadence: Option<String>,
    pub warn_after_days: Option<u32>,
    pub error_after_days: Option<u32>,
    /// When the source's newest ingested file was recorded.
    pub last_delivery: Option<DateTime<Utc>>,
    pub last_file: Option<String>,
    pub age_days: Option<f64>,
    pub state: FreshState,
    /// Outcome of the source's most recent file (`ingested`, `recovered`, `refused`).
    pub last_outcome: Option<String>,
    pub last_outcome_at: Option<DateTime<Utc>>,
    pub files_ingested: u64,
    pub files_refused: u64,
    /// Files in the source's landing folder that its `files` pattern does not
    /// match, so no run reads them.
    pub not_recognised: Vec<String>,
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Every configured source's status, from the ingest ledger.
pub async fn sources(project: &Project, storage: &Storage, now: DateTime<Utc>) -> Result<Vec<SourceStatus>> {
    let ledger = crate::lake::read_ledger(storage).await?;
    let mut by_source: HashMap<&str, Vec<&crate::lake::LedgerEntry>> = HashMap::new();
    for e in &ledger {
        by_source.entry(e.source.as_str()).or_default().push(e);
    }
    let mut unmatched: HashMap<&str, Vec<String>> = HashMap::new();
    for p in &project.plan.sources {
        let files = storage.list_landing(&p.name).await?;
        unmatched.insert(
            p.name.as_str(),
            files
                .into_iter()
                .filter(|f| !p.glob.is_match(&f.relative))
                .map(|f| f.relative)
                .collect(),
        );
    }
    Ok(project
        .plan
        .sources
        .iter()
        .map(|p| {
            let entries = by_source.get(p.name.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            let ingested = entries.iter().filter(|e| e.outcome != "refused");
            let newest = ingested
                .clone()
                .filter_map(|e| Some((parse_time(&e.recorded_at)?, e)))
                .max_by_key(|(t, _)| *t);
            let latest_any = entries
                .iter()
                .filter_map(|e| Some((parse_time(&e.recorded_at)?, e)))
                .max_by_key(|(t, _)| *t);
            let last = newest.map(|(t, _)| t);
            SourceStatus {
                source: p.name.clone(),
                cadence: p.freshness.map(|f| f.cadence.as_str().to_string()),
                warn_after_days: p.freshness.map(|f| f.warn_after_days),
                error_after_days: p.freshness.map(|f| f.error_after_days),
                last_delivery: last,
                last_file: newest.map(|(_, e)| e.file.clone()),
                age_days: last.map(|t| (now - t).num_seconds() as f64 / 86_400.0),
                state: classify(p.freshness.as_ref(), last, now),
                last_outcome: latest_any.map(|(_, e)| e.outcome.clone()),
                last_outcome_at: latest_any.map(|(t, _)| t),
                files_ingested: ingested.count() as u64,
                files_refused: entries.iter().filter(|e| e.outcome == "refused").count() as u64,
                not_recognised: unmatched.remove(p.name.as_str()).unwrap_or_default(),
            }
        })
        .collect())
}

/// The table `startwell status` prints.
pub fn render_sources(rows: &[SourceStatus]) -> String {
    let mut out = format!(
        "{:<34} {:<10} {:<11} {:>9} {:<20} {:<10} {:>6} {:>7}\n",
        "source", "cadence", "freshness", "age days", "last delivery", "outcome", "files", "refused"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<34} {:<10} {:<11} {:>9} {:<20} {:<10} {:>6} {:>7}\n",
            r.source,
            r.cadence.as_deref().unwrap_or("-"),
            r.state.as_str(),
            r.age_days.map_or("-".into(), |a| format!("{a:.1}")),
            r.last_delivery
                .map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            r.last_outcome.as_deref().unwrap_or("-"),
            r.files_ingested,
            r.files_refused,
        ));
    }
    for r in rows {
        for f in &r.not_recognised {
            out.push_str(&format!(
                "not recognised: landing/{}/{f} (its name does not match the source's `files` pattern; not read)\n",
                r.source
            ));
        }
    }
    out
}

// The run records, as `status` and `runs` show them.
pub use crate::runtime::record::recent_runs;

/// The table `startwell runs` prints.
pub fn render_runs(runs: &[serde_json::Value]) -> String {
    let mut out = format!(
        "{:<26} {:<12} {:<20} {:>8} {:>5} {:>7} {:>11}  {}\n",
        "run", "status", "trigger", "seconds", "files", "refused", "rows", "error"
    );
    for r in runs {
        let sources = r["sources"].as_array().cloned().unwrap_or_default();
        let sum = |k: &str| sources.iter().filter_map(|s| s[k].as_u64()).sum::<u64>();
        let error = r["error"].as_str().unwrap_or("").lines().next().unwrap_or("");
        out.push_str(&format!(
            "{:<26} {:<12} {:<20} {:>8.1} {:>5} {:>7} {:>11}  {}\n",
            r["run_id"].as_str().unwrap_or("?"),
            match (r["status"].as_str(), r["no_changes_since"].as_str()) {
                (Some("succeeded"), Some(_)) => "no changes",
                (s, _) => s.unwrap_or("?"),
            },
            r["trigger"].as_str().unwrap_or("cli"),
            r["seconds"].as_f64().unwrap_or(0.0),
            sum("files"),
            sum("refused"),
            sum("rows_accepted"),
            error
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ops::Cadence;

    #[test]
    fn ages_against_cadence() {
        let f = Freshness {
            cadence: Cadence::Monthly,
            warn_after_days: 35,
            error_after_days: 50,
        };
        let now = DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ago = |d: i64| Some(now - chrono::Duration::days(d));
        assert_eq!(classify(Some(&f), ago(34), now), FreshState::Fresh);
        assert_eq!(classify(Some(&f), ago(35), now), FreshState::Warn);
        assert_eq!(classify(Some(&f), ago(50), now), FreshState::Error);
        assert_eq!(classify(Some(&f), None, now), FreshState::Never);
        assert_eq!(classify(None, ago(999), now), FreshState::NotTracked);
        assert!(!FreshState::NotTracked.is_stale() && FreshState::Never.is_stale());
    }
}
