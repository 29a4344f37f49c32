//! Operations: the long-running service that lets a council leave startwell
//! running unattended. It drives runs ([`crate::run`]) and watches them through
//! their records; what a run itself stands on (clock, stop requests, lease, run
//! record) is below, in [`crate::runtime`]; schedules are [`crate::schedule`].
//!
//! - [`status`]: source freshness against cadence; recent run records.
//! - [`alert`]: webhook alerts for failed runs, refused files, stale sources.
//! - [`metrics`]: Prometheus metrics.
//! - [`http`]: `/healthz`, `/readyz`, `/metrics`, `/runs`.
//! - [`serve`]: the scheduler loop and the pipeline it drives.

pub mod alert;
pub mod http;
pub mod metrics;
pub mod serve;
pub mod status;

/// The run lease, as the service reports it (`status`, `/readyz`).
pub use crate::runtime::lease;

use crate::config::Project;
use crate::runtime::record::RunRecord;
use crate::storage::Storage;

/// After a run from the command line: alert its failures and refused files,
/// and every stale source (a nightly timer run thus reminds each night).
pub async fn alert_after_run(
    project: &Project,
    storage: &Storage,
    rec: Option<&RunRecord>,
    error: Option<&crate::error::Error>,
) {
    let alerter = alert::Alerter::from_project(project);
    match (rec, error) {
        (Some(rec), _) => alerter.send_all(&alert::run_events(rec)).await,
        (None, Some(crate::error::Error::LeaseHeld(_))) | (None, None) => {}
        (None, Some(e)) => {
            alerter
                .send(&alert::Event::RunFailed {
                    run_id: "-".into(),
                    status: "not started".into(),
                    error: e.to_string(),
                })
                .await
        }
    }
    match status::sources(project, storage, chrono::Utc::now()).await {
        Ok(s) => {
            for s in s.iter().filter(|s| s.state.is_stale()) {
                alerter.send(&alert::stale_event(s)).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read source freshness"),
    }
}
