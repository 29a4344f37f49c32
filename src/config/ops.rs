//! Operations settings in `startwell.toml`: `[run]` (lease, retries, shutdown),
//! `[serve]` with its `[[serve.schedule]]` entries and `[serve.arrival]`, and
//! `[alerts]`; plus a source's `[freshness]` in `pipelines/<source>.toml`.
//! The doc comments are the user documentation of the keys.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use crate::schedule::{CronSpec, MissedRuns};

/// `[run]`: how every run (from `run`, `demo` or `serve`) behaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    /// Seconds a run's lease lasts without renewal: after a crash, another run may start this long after the last renewal.
    #[serde(default = "default_lease_ttl")]
    pub lease_ttl_seconds: u64,
    /// Seconds between lease renewals while a run is in progress (well under the ttl).
    #[serde(default = "default_lease_renew")]
    pub lease_renew_seconds: u64,
    /// Attempts for a run that fails on the store (a transient error), including the first.
    #[serde(default = "default_retry_attempts")]
    pub retry_attempts: u32,
    /// Pause before the first retry; doubled each time.
    #[serde(default = "default_retry_initial")]
    pub retry_initial_seconds: u64,
    /// Longest pause between retries.
    #[serde(default = "default_retry_max")]
    pub retry_max_seconds: u64,
    /// After SIGTERM/SIGINT, how long the file in progress may take to finish before it is abandoned (uncommitted).
    #[serde(default = "default_grace")]
    pub shutdown_grace_seconds: u64,
}

impl Default for RawRun {
    fn default() -> Self {
        RawRun {
            lease_ttl_seconds: default_lease_ttl(),
            lease_renew_seconds: default_lease_renew(),
            retry_attempts: default_retry_attempts(),
            retry_initial_seconds: default_retry_initial(),
            retry_max_seconds: default_retry_max(),
            shutdown_grace_seconds: default_grace(),
        }
    }
}

fn default_lease_ttl() -> u64 {
    300
}
fn default_lease_renew() -> u64 {
    60
}
fn default_retry_attempts() -> u32 {
    3
}
fn default_retry_initial() -> u64 {
    30
}
fn default_retry_max() -> u64 {
    600
}
fn default_grace() -> u64 {
    20
}

/// `[serve]`: the long-running scheduler.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServe {
    /// Address of the HTTP endpoint (`/healthz`, `/readyz`, `/metrics`, `/runs`). Loopback unless you open it.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// IANA time zone the schedules' wall-clock times are read in.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Scheduled runs missed while the server was down: `catch_up` (run once) or `skip`.
    #[serde(default)]
    pub missed_runs: MissedRuns,
    /// Minutes between freshness checks (stale sources are alerted when their state changes).
    #[serde(default = "default_freshness_minutes")]
    pub freshness_check_minutes: u64,
    /// Scheduled runs.
    #[serde(default)]
    pub schedule: Vec<RawSchedule>,
    /// Also run when new files land.
    #[serde(default)]
    pub arrival: RawArrival,
}

impl Default for RawServe {
    fn default() -> Self {
        RawServe {
            listen: default_listen(),
            timezone: default_timezone(),
            missed_runs: MissedRuns::default(),
            freshness_check_minutes: default_freshness_minutes(),
            schedule: Vec::new(),
            arrival: RawArrival::default(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:9187".into()
}
fn default_timezone() -> String {
    "Europe/London".into()
}
fn default_freshness_minutes() -> u64 {
    60
}

/// `[[serve.schedule]]`: one scheduled run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// Name (used in logs, metrics and `state/schedules/<name>.json`).
    pub name: String,
    /// Standard five-field crontab expression (`minute hour day-of-month month day-of-week`) or `@daily` etc.
    pub cron: String,
    /// Only this source (default: all).
    #[serde(default)]
    pub source: Option<String>,
    /// Re-ingest everything still in the landing zone.
    #[serde(default)]
    pub full_refresh: bool,
}

/// `[serve.arrival]`: run when new files land, once a drop has gone quiet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArrival {
    #[serde(default)]
    pub enabled: bool,
    /// Seconds between listings of the landing zones.
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
    /// Seconds the set of new files must stay unchanged before a run starts (so a multi-file drop is ingested as one).
    #[serde(default = "default_quiet")]
    pub quiet_seconds: u64,
}

impl Default for RawArrival {
    fn default() -> Self {
        RawArrival {
            enabled: false,
            poll_seconds: default_poll(),
            quiet_seconds: default_quiet(),
        }
    }
}

fn default_poll() -> u64 {
    60
}
fn default_quiet() -> u64 {
    300
}

/// `[alerts]`: where failures, refused files and stale sources are posted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// Environment variable holding the webhook URL (webhook URLs carry a secret: keep them out of files).
    #[serde(default = "default_webhook_env")]
    pub webhook_url_env: String,
    /// Seconds before a webhook post is abandoned.
    #[serde(default = "default_webhook_timeout")]
    pub timeout_seconds: u64,
    /// Body shape: `slack` (`{"text": …, "startwell": {…}}`, also fine for generic JSON
    /// receivers and classic Office 365 connectors) or `teams` (an Adaptive Card message,
    /// as Teams Workflows webhooks expect).
    #[serde(default)]
    pub format: AlertFormat,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AlertFormat {
    #[default]
    Slack,
    Teams,
}

impl Default for RawAlerts {
    fn default() -> Self {
        RawAlerts {
            webhook_url_env: default_webhook_env(),
            timeout_seconds: default_webhook_timeout(),
            format: AlertFormat::default(),
        }
    }
}

fn default_webhook_env() -> String {
    "STARTWELL_WEBHOOK_URL".into()
}
fn default_webhook_timeout() -> u64 {
    10
}

/// How often a source is expected to deliver.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    Termly,
    Annual,
}

impl Cadence {
    /// Default (warn, error) ages in days: a little over one and over one-and-a-half periods.
    fn default_ages(self) -> (u32, u32) {
        match self {
            Cadence::Daily => (2, 4),
            Cadence::Weekly => (9, 14),
            Cadence::Monthly => (35, 50),
            Cadence::Quarterly => (100, 135),
            Cadence::Termly => (135, 180),
            Cadence::Annual => (380, 430),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
            Cadence::Monthly => "monthly",
            Cadence::Quarterly => "quarterly",
            Cadence::Termly => "termly",
            Cadence::Annual => "annual",
        }
    }
}

/// `[freshness]` in `pipelines/<source>.toml`: the expected delivery cadence.
/// Age is measured from the last file of the source that was ingested.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFreshness {
    pub cadence: Cadence,
    /// Days after the last delivery when the source is reported stale (warning). Default by cadence.
    #[serde(default)]
    pub warn_after_days: Option<u32>,
    /// Days after the last delivery when the source is an error. Default by cadence.
    #[serde(default)]
    pub error_after_days: Option<u32>,
}

/// A source's checked freshness expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub cadence: Cadence,
    pub warn_after_days: u32,
    pub error_after_days: u32,
}

impl RawFreshness {
    pub fn compile(&self, file: &Path, issues: &mut Vec<crate::error::ConfigIssue>) -> Freshness {
        let (w, e) = self.cadence.default_ages();
        let f = Freshness {
            cadence: self.cadence,
            warn_after_days: self.warn_after_days.unwrap_or(w),
            error_after_days: self.error_after_days.unwrap_or(e),
        };
        if f.warn_after_days == 0 || f.warn_after_days > f.error_after_days {
            issues.push(crate::error::ConfigIssue {
                file: file.to_path_buf(),
                message: format!(
                    "[freshness] warn_after_days ({}) must be at least 1 and not more than error_after_days ({})",
                    f.warn_after_days, f.error_after_days
                ),
            });
        }
        f
    }
}

/// The run lease's timing (interpreted by `runtime::lease`).
#[derive(Debug, Clone, Copy)]
pub struct LeaseConfig {
    /// How long a lease lasts without renewal.
    pub ttl: chrono::Duration,
    /// How often the holder renews it.
    pub renew_every: std::time::Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            ttl: chrono::Duration::seconds(300),
            renew_every: std::time::Duration::from_secs(60),
        }
    }
}

/// The checked operations settings.
#[derive(Debug, Clone)]
pub struct Ops {
    pub lease: LeaseConfig,
    pub retry_attempts: u32,
    pub retry_initial: std::time::Duration,
    pub retry_max: std::time::Duration,
    pub shutdown_grace: std::time::Duration,
    pub listen: SocketAddr,
    pub timezone: chrono_tz::Tz,
    pub missed_runs: MissedRuns,
    pub freshness_check: std::time::Duration,
    pub schedules: Vec<Schedule>,
    pub arrival: RawArrival,
    pub alerts: RawAlerts,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub spec: CronSpec,
    pub source: Option<String>,
    pub full_refresh: bool,
}

impl Default for Ops {
    fn default() -> Self {
        let mut issues = Vec::new();
        compile(
            Path::new("startwell.toml"),
            &RawRun::default(),
            &RawServe::default(),
            &RawAlerts::default(),
            &mut issues,
        )
    }
}

/// Check the operations settings; problems go to `issues` with `file`.
pub fn compile(
    file: &Path,
    run: &RawRun,
    serve: &RawServe,
    alerts: &RawAlerts,
    issues: &mut Vec<crate::error::ConfigIssue>,
) -> Ops {
    let mut push = |m: String| {
        issues.push(crate::error::ConfigIssue {
            file: file.to_path_buf(),
            message: m,
        })
    };
    if run.lease_ttl_seconds < 10 {
        push("[run] lease_ttl_seconds must be at least 10".into());
    }
    if run.lease_renew_seconds == 0 || run.lease_renew_seconds * 2 > run.lease_ttl_seconds {
        push(format!(
            "[run] lease_renew_seconds ({}) must be at least 1 and at most half of lease_ttl_seconds ({})",
            run.lease_renew_seconds, run.lease_ttl_seconds
        ));
    }
    if run.retry_attempts == 0 {
        push("[run] retry_attempts must be at least 1 (the first attempt)".into());
    }
    let listen = serve.listen.parse::<SocketAddr>().unwrap_or_else(|e| {
        push(format!(
            "[serve] listen `{}` is not an address like 127.0.0.1:9187: {e}",
            serve.listen
        ));
        SocketAddr::from(([127, 0, 0, 1], 9187))
    });
    let timezone = serve.timezone.parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
        push(format!(
            "[serve] timezone `{}` is not an IANA time zone (e.g. Europe/London)",
            serve.timezone
        ));
        chrono_tz::Europe::London
    });
    let mut names = std::collections::HashSet::new();
    let mut schedules = Vec::new();
    for s in &serve.schedule {
        if s.name.is_empty()
            || !s
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            push(format!(
                "[[serve.schedule]] name `{}` must be letters, digits, _ and -",
                s.name
            ));
        }
        if !names.insert(s.name.clone()) {
            push(format!("[[serve.schedule]] `{}` is defined twice", s.name));
        }
        match CronSpec::parse(&s.cron) {
            Ok(spec) => schedules.push(Schedule {
                name: s.name.clone(),
                spec,
                source: s.source.clone(),
                full_refresh: s.full_refresh,
            }),
            Err(e) => push(format!("[[serve.schedule]] `{}`: cron {e}", s.name)),
        }
    }
    if serve.arrival.poll_seconds == 0 {
        push("[serve.arrival] poll_seconds must be at least 1".into());
    }
    if serve.freshness_check_minutes == 0 {
        push("[serve] freshness_check_minutes must be at least 1".into());
    }
    if alerts.webhook_url_env.trim().is_empty() {
        push("[alerts] webhook_url_env must name an environment variable".into());
    }
    Ops {
        lease: LeaseConfig {
            ttl: chrono::Duration::seconds(run.lease_ttl_seconds as i64),
            renew_every: std::time::Duration::from_secs(run.lease_renew_seconds.max(1)),
        },
        retry_attempts: run.retry_attempts.max(1),
        retry_initial: std::time::Duration::from_secs(run.retry_initial_seconds),
        retry_max: std::time::Duration::from_secs(run.retry_max_seconds.max(run.retry_initial_seconds)),
        shutdown_grace: std::time::Duration::from_secs(run.shutdown_grace_seconds),
        listen,
        timezone,
        missed_runs: serve.missed_runs,
        freshness_check: std::time::Duration::from_secs(serve.freshness_check_minutes.max(1) * 60),
        schedules,
        arrival: serve.arrival.clone(),
        alerts: alerts.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_toml(text: &str) -> (Ops, Vec<String>) {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct T {
            #[serde(default)]
            run: RawRun,
            #[serde(default)]
            serve: RawServe,
            #[serde(default)]
            alerts: RawAlerts,
        }
        let t: T = toml::from_str(text).unwrap();
        let mut issues = Vec::new();
        let ops = compile(
            Path::new("startwell.toml"),
            &t.run,
            &t.serve,
            &t.alerts,
            &mut issues,
        );
        (ops, issues.into_iter().map(|i| i.message).collect())
    }

    #[test]
    fn defaults_are_valid() {
        let (ops, issues) = compile_toml("");
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(ops.timezone, chrono_tz::Europe::London);
        assert_eq!(ops.listen.to_string(), "127.0.0.1:9187");
        assert_eq!(ops.missed_runs, MissedRuns::CatchUp);
        assert!(!ops.arrival.enabled);
        assert_eq!(ops.alerts.format, AlertFormat::Slack);
    }

    #[test]
    fn every_problem_is_reported() {
        let (_, issues) = compile_toml(
            r#"
            [run]
            lease_ttl_seconds = 60
            lease_renew_seconds = 45
            retry_attempts = 0
            [serve]
            listen = "localhost"
            timezone = "Europe/Lundon"
            [[serve.schedule]]
            name = "nightly"
            cron = "30 1 * *"
            [[serve.schedule]]
            name = "nightly"
            cron = "@reboot"
            "#,
        );
        let all = issues.join("\n");
        for needle in [
            "lease_renew_seconds (45)",
            "retry_attempts",
            "listen `localhost`",
            "Europe/Lundon",
            "has 4 field(s)",
            "`nightly` is defined twice",
            "@reboot",
        ] {
            assert!(all.contains(needle), "missing {needle} in\n{all}");
        }
    }
}
