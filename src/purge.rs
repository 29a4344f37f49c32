//! Retention of identifiable files (`[retention]`, `startwell purge`, and daily
//! under `serve`). Landing files and quarantine Parquet hold names, NHS numbers,
//! UPNs, dates of birth and postcodes; the lake does not. So:
//!
//! - a **landing** file is deleted `landing_days` after its rows were ingested
//!   (the ingest ledger says so, for the same size, and the file has not changed
//!   since). A file never ingested — new, refused, or changed since — is never
//!   deleted: a refused file waits for a person to remove it.
//! - a **quarantine** file is deleted `quarantine_days` after it was written.
//!
//! What is deleted is recorded by name, size and SHA-256 (never content) in the
//! run history (`state/runs/<id>.json`, trigger `purge`). Time comes from the
//! caller, so tests move the clock.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::config::Project;
use crate::error::Result;
use crate::ingest::Outcome;
use crate::lake::LedgerEntry;
use crate::runtime::record::Purged;
use crate::storage::Storage;

/// What is due for deletion now, and what is kept for now.
#[derive(Debug, Default)]
pub struct Plan {
    /// As they will be recorded; a quarantine file's `sha256` is empty until it is read.
    pub due: Vec<Purged>,
    /// Landing files kept because they were never ingested (new, refused, changed).
    pub unsettled: usize,
}

/// The files `[retention]` makes due at `now` (deleting nothing).
pub async fn plan(
    project: &Project,
    storage: &Storage,
    ledger: &[LedgerEntry],
    now: DateTime<Utc>,
) -> Result<Plan> {
    let mut out = Plan::default();
    if let Some(days) = project.retention.landing_days {
        // The latest ingest of each landing file.
        let mut ingested: HashMap<(&str, &str), &LedgerEntry> = HashMap::new();
        for e in ledger
            .iter()
            .filter(|e| e.outcome == Outcome::Ingested.as_str() || e.outcome == Outcome::Recovered.as_str())
        {
            let k = (e.source.as_str(), e.file.as_str());
            if ingested
                .get(&k)
                .is_none_or(|prev| prev.recorded_at < e.recorded_at)
            {
                ingested.insert(k, e);
            }
        }
        for plan in &project.plan.sources {
            for lf in storage.list_landing(&plan.name).await? {
                let settled = ingested
                    .get(&(plan.name.as_str(), lf.relative.as_str()))
                    .and_then(|e| {
                        Some((
                            *e,
                            DateTime::parse_from_rfc3339(&e.recorded_at)
                                .ok()?
                                .with_timezone(&Utc),
                        ))
                    })
                    .filter(|(e, at)| {
                        lf.bad_name.is_none() && e.size == lf.size as i64 && lf.last_modified <= *at
                    });
                let Some((e, at)) = settled else {
                    out.unsettled += 1;
                    continue;
                };
                if at + Duration::days(days.into()) <= now {
                    out.due.push(Purged {
                        file: format!("landing/{}/{}", plan.name, lf.relative),
                        size: lf.size,
                        sha256: e.sha256.clone(),
                        reason: format!("ingested {}, {days}-day landing retention", at.format("%Y-%m-%d")),
                    });
                }
            }
        }
    }
    if let Some(days) = project.retention.quarantine_days {
        let root = storage.path("");
        for m in storage.list("quarantine").await? {
            if m.last_modified + Duration::days(days.into()) > now {
                continue;
            }
            let rel: String = m
                .location
                .prefix_match(&root)
                .map(|parts| {
                    parts
                        .map(|p| p.as_ref().to_string())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_else(|| m.location.to_string());
            out.due.push(Purged {
                file: rel,
                size: m.size,
                sha256: String::new(),
                reason: format!(
                    "written {}, {days}-day quarantine retention",
                    m.last_modified.format("%Y-%m-%d")
                ),
            });
        }
    }
    Ok(out)
}

/// Delete what is due at `now` (see [`plan`]); quarantine files are hashed first.
pub async fn purge(
    project: &Project,
    storage: &Storage,
    ledger: &[LedgerEntry],
    now: DateTime<Utc>,
) -> Result<Vec<Purged>> {
    let plan = plan(project, storage, ledger, now).await?;
    let mut done = Vec::new();
    for mut f in plan.due {
        if f.sha256.is_empty() {
            let Some(bytes) = storage.get(&f.file).await? else {
                continue;
            };
            f.sha256 = hex::encode(Sha256::digest(&bytes));
        }
        storage.delete(&f.file).await?;
        tracing::info!(file = %f.file, sha256 = %f.sha256, "deleted under [retention]: {}", f.reason);
        done.push(f);
    }
    Ok(done)
}

/// `startwell purge` (and `serve`, daily): under the run lease, delete what is due
/// now and record it as a run (trigger `purge`) in `state/runs/`.
pub async fn run_purge(
    project: &Project,
    storage: &Storage,
    trigger: &str,
) -> Result<crate::runtime::record::RunRecord> {
    let run_id = crate::runtime::record::new_run_id();
    let started = std::time::Instant::now();
    let mut rec = crate::runtime::record::RunRecord::new(
        &run_id,
        trigger.to_string(),
        false,
        serde_json::json!({"purge": true, "retention": {
            "landing_days": project.retention.landing_days,
            "quarantine_days": project.retention.quarantine_days,
        }}),
    );
    let held = crate::runtime::lease::acquire_for_run(project, storage, &run_id).await?;
    let held = crate::runtime::lease::HeldLease::start(held, crate::runtime::shutdown::Shutdown::new());
    let result = async {
        let ledger = crate::lake::read_ledger(storage).await?;
        purge(project, storage, &ledger, Utc::now()).await
    }
    .await;
    rec.seconds = started.elapsed().as_secs_f64();
    rec.finished_at = Some(Utc::now().to_rfc3339());
    let outcome = match result {
        Ok(done) => {
            rec.status = crate::runtime::record::RunStatus::Succeeded;
            rec.purged = done;
            Ok(())
        }
        Err(e) => {
            rec.status = crate::runtime::record::RunStatus::Failed;
            rec.error = Some(e.to_string());
            Err(e)
        }
    };
    let written = crate::runtime::record::write_record(storage, &rec).await;
    if let Err(e) = held.release().await {
        tracing::warn!(error = %e, "could not release the run lease; it expires by itself");
    }
    written?;
    outcome.map(|()| rec)
}

/// `startwell status`'s retention line: the limits, what is due now, what is kept
/// because it was never ingested, and when files were last purged.
pub async fn status_line(project: &Project, storage: &Storage) -> Result<String> {
    let r = &project.retention;
    if r.landing_days.is_none() && r.quarantine_days.is_none() {
        return Ok("retention: none configured ([retention] in startwell.toml): landing and quarantine files are kept".into());
    }
    let ledger = crate::lake::read_ledger(storage).await?;
    let plan = plan(project, storage, &ledger, Utc::now()).await?;
    let days = |d: Option<u32>| d.map_or("kept".to_string(), |d| format!("{d} days"));
    let last = crate::runtime::record::recent_runs(storage, 200)
        .await?
        .into_iter()
        .find(|run| run["options"]["purge"] == true && run["status"] == "succeeded")
        .and_then(|run| run["finished_at"].as_str().map(String::from));
    Ok(format!(
        "retention: landing {}, quarantine {}; {} file(s) due now, {} landing file(s) kept until ingested; last purge {}",
        days(r.landing_days),
        days(r.quarantine_days),
        plan.due.len(),
        plan.unsettled,
        last.as_deref().unwrap_or("never")
    ))
}
