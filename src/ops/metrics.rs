//! Prometheus metrics for `/metrics` (text exposition format, `prometheus-client`):
//! runs by outcome, run duration, rows read / accepted / rejected and refused
//! files per source, last successful delivery and freshness per source.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::status::{SourceStatus, classify};
use crate::config::Project;
use crate::runtime::record::RunRecord;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

pub struct Metrics {
    registry: Registry,
    runs: Family<OutcomeLabel, Counter>,
    run_duration: Histogram,
    last_run_finished: FloatGauge,
    last_success: FloatGauge,
    in_progress: Gauge,
    rows_read: Family<SourceLabel, Counter>,
    rows_accepted: Family<SourceLabel, Counter>,
    rows_rejected: Family<SourceLabel, Counter>,
    files_refused: Family<SourceLabel, Counter>,
    source_last_delivery: Family<SourceLabel, FloatGauge>,
    source_age: Family<SourceLabel, FloatGauge>,
    source_freshness: Family<SourceLabel, Gauge>,
    /// The latest source statuses (ages are recomputed at every scrape).
    sources: Mutex<Vec<SourceStatus>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("startwell");
        let m = Metrics {
            runs: Family::default(),
            run_duration: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            last_run_finished: FloatGauge::default(),
            last_success: FloatGauge::default(),
            in_progress: Gauge::default(),
            rows_read: Family::default(),
            rows_accepted: Family::default(),
            rows_rejected: Family::default(),
            files_refused: Family::default(),
            source_last_delivery: Family::default(),
            source_age: Family::default(),
            source_freshness: Family::default(),
            sources: Mutex::new(Vec::new()),
            registry: Registry::default(),
        };
        registry.register("runs", "Runs finished, by outcome", m.runs.clone());
        registry.register(
            "run_duration_seconds",
            "Duration of finished runs",
            m.run_duration.clone(),
        );
        registry.register(
            "last_run_finished_timestamp_seconds",
            "When the last run finished (Unix time)",
            m.last_run_finished.clone(),
        );
        registry.register(
            "last_success_timestamp_seconds",
            "When the last successful run finished (Unix time)",
            m.last_success.clone(),
        );
        registry.register(
            "run_in_progress",
            "1 while a run is in progress",
            m.in_progress.clone(),
        );
        registry.register("rows_read", "Rows read from landing files", m.rows_read.clone());
        registry.register(
            "rows_accepted",
            "Rows accepted into the lake",
            m.rows_accepted.clone(),
        );
        registry.register("rows_rejected", "Rows quarantined", m.rows_rejected.clone());
        registry.register("files_refused", "Files refused whole", m.files_refused.clone());
        registry.register(
            "source_last_delivery_timestamp_seconds",
            "When the source's newest ingested file was recorded (Unix time)",
            m.source_last_delivery.clone(),
        );
        registry.register(
            "source_age_seconds",
            "Seconds since the source's newest ingested file",
            m.source_age.clone(),
        );
        registry.register(
            "source_freshness",
            "Freshness against the source's cadence: 0 fresh or not tracked, 1 warn, 2 error or never delivered",
            m.source_freshness.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn run_started(&self) {
        self.in_progress.set(1);
    }

    /// Count a finished run.
    pub fn observe_run(&self, rec: &RunRecord) {
        self.in_progress.set(0);
        self.runs
            .get_or_create(&OutcomeLabel {
                outcome: rec.status.to_string(),
            })
            .inc();
        self.run_duration.observe(rec.seconds);
        let now = Utc::now().timestamp() as f64;
        self.last_run_finished.set(now);
        if rec.status == crate::runtime::record::RunStatus::Succeeded {
            self.last_success.set(now);
        }
        for s in &rec.sources {
            let l = SourceLabel {
                source: s.source.clone(),
            };
            self.rows_read.get_or_create(&l).inc_by(s.rows_read);
            self.rows_accepted.get_or_create(&l).inc_by(s.rows_accepted);
            self.rows_rejected.get_or_create(&l).inc_by(s.rows_rejected);
            self.files_refused.get_or_create(&l).inc_by(s.refused);
        }
    }

    /// A run that did not start (lease held, configuration): only ends "in progress".
    pub fn run_not_started(&self, outcome: &str) {
        self.in_progress.set(0);
        self.runs
            .get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn set_sources(&self, statuses: Vec<SourceStatus>) {
        *self.sources.lock().unwrap_or_else(|p| p.into_inner()) = statuses;
    }

    /// The exposition text, with source ages as of `now`.
    pub fn render(&self, project: &Project, now: DateTime<Utc>) -> String {
        for s in self.sources.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let l = SourceLabel {
                source: s.source.clone(),
            };
            let fresh = project.plan.source(&s.source).and_then(|p| p.freshness);
            self.source_freshness
                .get_or_create(&l)
                .set(classify(fresh.as_ref(), s.last_delivery, now).level());
            if let Some(t) = s.last_delivery {
                self.source_last_delivery
                    .get_or_create(&l)
                    .set(t.timestamp() as f64);
                self.source_age
                    .get_or_create(&l)
                    .set((now - t).num_milliseconds() as f64 / 1000.0);
            }
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "could not encode metrics");
        }
        out
    }
}
