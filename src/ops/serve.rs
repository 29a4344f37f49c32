//! `startwell serve`: the scheduler loop (schedules, missed runs, the arrival
//! trigger, periodic freshness checks) and the pipeline it drives.
//!
//! The loop is generic over [`Hooks`] so tests drive it with a fake pipeline
//! and tokio's paused clock; [`PipelineHooks`] is the real one.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use super::alert::{self, Alerter};
use super::metrics::Metrics;
use super::status::{self, FreshState};
use crate::config::Project;
use crate::config::ops::Schedule;
use crate::error::{Error, Result};
use crate::pseudo::PseudoKey;
use crate::run::{RunOptions, run_with_retries};
use crate::runtime::clock::{SharedClock, SystemClock};
use crate::runtime::shutdown::Shutdown;
use crate::schedule::{MissedRuns, latest_due, missed_since};
use crate::storage::Storage;

/// A landing file as the arrival trigger compares it: (source, file, size, modified ms).
type LandingKey = (String, String, u64, i64);

/// Why a run starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    Schedule {
        name: String,
        slot: DateTime<Utc>,
        source: Option<String>,
        full_refresh: bool,
    },
    /// One run for whatever was missed while the server was down.
    CatchUp { names: Vec<String>, slot: DateTime<Utc> },
    /// New files have landed and gone quiet.
    Arrival { files: usize },
}

impl Trigger {
    pub fn label(&self) -> String {
        match self {
            Trigger::Schedule { name, .. } => format!("schedule:{name}"),
            Trigger::CatchUp { names, .. } => format!("catch-up:{}", names.join("+")),
            Trigger::Arrival { .. } => "arrival".into(),
        }
    }
}

/// What the loop drives.
#[allow(async_fn_in_trait)]
pub trait Hooks {
    /// Run the pipeline once.
    async fn run(&mut self, trigger: Trigger);
    /// New landing files not yet seen by a run: their count and a signature
    /// that changes whenever the set (names, sizes, times) changes.
    async fn pending(&mut self) -> Result<Option<(usize, u64)>>;
    /// Periodic work (freshness checks).
    async fn periodic(&mut self);
}

/// The settings the loop needs.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    pub schedules: Vec<Schedule>,
    pub timezone: chrono_tz::Tz,
    pub missed_runs: MissedRuns,
    /// `(poll, quiet)` when the arrival trigger is on.
    pub arrival: Option<(Duration, Duration)>,
    pub periodic_every: Duration,
    /// Longest single sleep (the loop re-reads the clock after each).
    pub tick: Duration,
}

impl LoopConfig {
    pub fn from_project(p: &Project) -> LoopConfig {
        let o = &p.ops;
        LoopConfig {
            schedules: o.schedules.clone(),
            timezone: o.timezone,
            missed_runs: o.missed_runs,
            arrival: o.arrival.enabled.then(|| {
                (
                    Duration::from_secs(o.arrival.poll_seconds.max(1)),
                    Duration::from_secs(o.arrival.quiet_seconds),
                )
            }),
            periodic_every: o.freshness_check,
            tick: Duration::from_secs(30),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ScheduleState {
    last_slot: DateTime<Utc>,
    fired_at: DateTime<Utc>,
}

fn state_rel(name: &str) -> String {
    format!("state/schedules/{name}.json")
}

async fn last_slot(storage: &Storage, name: &str) -> Option<DateTime<Utc>> {
    let bytes = storage.get(&state_rel(name)).await.ok()??;
    serde_json::from_slice::<ScheduleState>(&bytes)
        .ok()
        .map(|s| s.last_slot)
}

async fn record_slot(storage: &Storage, name: &str, slot: DateTime<Utc>, now: DateTime<Utc>) {
    let s = ScheduleState {
        last_slot: slot,
        fired_at: now,
    };
    if let Ok(json) = serde_json::to_vec_pretty(&s)
        && let Err(e) = storage.put(&state_rel(name), json.into()).await
    {
        warn!(schedule = name, error = %e, "could not record the schedule's last run");
    }
}

/// Waits for a set of new files to stop changing for the quiet period.
#[derive(Debug, Default)]
pub struct ArrivalWatch {
    seen: Option<(u64, DateTime<Utc>)>,
}

impl ArrivalWatch {
    /// Observe the pending set (`None`: nothing new); true when a run should start.
    pub fn observe(&mut self, pending: Option<u64>, now: DateTime<Utc>, quiet: Duration) -> bool {
        match pending {
            None => {
                self.seen = None;
                false
            }
            Some(sig) => {
                let since = match self.seen {
                    Some((s, since)) if s == sig => since,
                    _ => {
                        self.seen = Some((sig, now));
                        now
                    }
                };
                now - since >= chrono::Duration::from_std(quiet).unwrap_or_default()
            }
        }
    }

    pub fn reset(&mut self) {
        self.seen = None;
    }
}

/// The scheduler loop; returns when `shutdown` is requested.
pub async fn run_loop<H: Hooks>(
    cfg: &LoopConfig,
    clock: SharedClock,
    storage: &Storage,
    shutdown: &Shutdown,
    hooks: &mut H,
) {
    let tz = cfg.timezone;
    let now = clock.now();
    // Missed while down.
    let mut catch_up: Vec<(String, DateTime<Utc>)> = Vec::new();
    for s in &cfg.schedules {
        if let Some(first) = missed_since(&s.spec, tz, last_slot(storage, &s.name).await, now) {
            let latest = latest_due(&s.spec, tz, first, now);
            match cfg.missed_runs {
                MissedRuns::CatchUp => catch_up.push((s.name.clone(), latest)),
                MissedRuns::Skip => {
                    warn!(schedule = %s.name, missed_from = %first, missed_to = %latest, "scheduled runs were missed while the server was down; skipped (missed_runs = \"skip\")");
                    record_slot(storage, &s.name, latest, now).await;
                }
            }
        }
    }
    if !catch_up.is_empty() && !shutdown.is_requested() {
        let slot = catch_up.iter().map(|c| c.1).max().unwrap_or(now);
        info!(schedules = ?catch_up.iter().map(|c| &c.0).collect::<Vec<_>>(), "running once to catch up on runs missed while the server was down");
        for (name, slot) in &catch_up {
            record_slot(storage, name, *slot, now).await;
        }
        hooks
            .run(Trigger::CatchUp {
                names: catch_up.into_iter().map(|c| c.0).collect(),
                slot,
            })
            .await;
    }

    let mut next: Vec<Option<DateTime<Utc>>> = cfg
        .schedules
        .iter()
        .map(|s| s.spec.next_after(tz, clock.now()))
        .collect();
    for (s, n) in cfg.schedules.iter().zip(&next) {
        if let Some(n) = n {
            info!(schedule = %s.name, cron = %s.spec.expr, next_run = %n.with_timezone(&tz), "scheduled");
        }
    }
    let mut watch = ArrivalWatch::default();
    let mut next_poll = clock.now();
    let mut next_periodic = clock.now();
    loop {
        if shutdown.is_requested() {
            return;
        }
        let now = clock.now();
        // Scheduled runs that are due, in order.
        if let Some(i) = (0..next.len())
            .filter(|i| next[*i].is_some_and(|n| n <= now))
            .min_by_key(|i| next[*i])
        {
            let s = &cfg.schedules[i];
            let slot = next[i].unwrap_or(now);
            record_slot(storage, &s.name, slot, now).await;
            hooks
                .run(Trigger::Schedule {
                    name: s.name.clone(),
                    slot,
                    source: s.source.clone(),
                    full_refresh: s.full_refresh,
                })
                .await;
            let after = clock.now();
            next[i] = match s.spec.next_after(tz, slot) {
                Some(n) if n <= after => match cfg.missed_runs {
                    // Slots that passed during the run: one more run, now.
                    MissedRuns::CatchUp => Some(latest_due(&s.spec, tz, n, after)),
                    MissedRuns::Skip => {
                        warn!(schedule = %s.name, "the run outlasted the next scheduled time; that slot is skipped");
                        s.spec.next_after(tz, after)
                    }
                },
                other => other,
            };
            continue;
        }
        if let Some((poll, quiet)) = cfg.arrival
            && now >= next_poll
        {
            next_poll = now + chrono::Duration::from_std(poll).unwrap_or_default();
            match hooks.pending().await {
                Ok(p) => {
                    if watch.observe(p.map(|x| x.1), now, quiet) {
                        let files = p.map_or(0, |x| x.0);
                        info!(files, "new files have gone quiet in the landing zone: running");
                        watch.reset();
                        hooks.run(Trigger::Arrival { files }).await;
                        continue;
                    }
                }
                Err(e) => warn!(error = %e, "could not list the landing zones"),
            }
        }
        if now >= next_periodic {
            next_periodic = now + chrono::Duration::from_std(cfg.periodic_every).unwrap_or_default();
            hooks.periodic().await;
        }
        // Sleep until the next event (re-reading the clock at least every tick).
        let mut wake = next_periodic;
        for n in next.iter().flatten() {
            wake = wake.min(*n);
        }
        if cfg.arrival.is_some() {
            wake = wake.min(next_poll);
        }
        let now = clock.now();
        let nap = (wake - now).to_std().unwrap_or_default().min(cfg.tick);
        tokio::select! {
            _ = tokio::time::sleep(nap.max(Duration::from_millis(1))) => {}
            _ = shutdown.requested() => return,
        }
    }
}

/// The real pipeline behind the loop.
pub struct PipelineHooks {
    pub project: Arc<Project>,
    pub storage: Storage,
    pub key: PseudoKey,
    pub metrics: Arc<Metrics>,
    pub alerter: Alerter,
    pub shutdown: Shutdown,
    /// Landing files the ledger knows: (source, file, size) → when last recorded.
    known: HashMap<(String, String, i64), DateTime<Utc>>,
    /// Files listed at the start of a finished run (settled by it, even when
    /// the run found nothing to do with them): (source, file, size, modified ms).
    settled: HashSet<LandingKey>,
    /// Last alerted freshness per source (alerts go out when it changes).
    alerted: HashMap<String, FreshState>,
    /// When `[retention]` last purged (daily, after a run).
    last_purge: Option<std::time::Instant>,
}

impl PipelineHooks {
    pub fn new(
        project: Arc<Project>,
        storage: Storage,
        key: PseudoKey,
        metrics: Arc<Metrics>,
        alerter: Alerter,
        shutdown: Shutdown,
    ) -> Self {
        PipelineHooks {
            project,
            storage,
            key,
            metrics,
            alerter,
            shutdown,
            known: HashMap::new(),
            settled: HashSet::new(),
            alerted: HashMap::new(),
            last_purge: None,
        }
    }

    /// `[retention]`, at most once a day, after a run (under its own lease).
    async fn purge_daily(&mut self) {
        let r = &self.project.retention;
        let due = self
            .last_purge
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(24 * 3600));
        if (r.landing_days.is_none() && r.quarantine_days.is_none()) || !due || self.shutdown.is_requested() {
            return;
        }
        match crate::purge::run_purge(&self.project, &self.storage, "purge:daily").await {
            Ok(rec) => {
                self.last_purge = Some(std::time::Instant::now());
                info!(run_id = %rec.run_id, deleted = rec.purged.len(), "retention: purge done");
            }
            Err(Error::LeaseHeld(msg)) => info!("{msg}; purging after the next run"),
            Err(e) => {
                self.last_purge = Some(std::time::Instant::now());
                error!(error = %e, "retention: purge failed");
                self.alerter
                    .send(&alert::Event::RunFailed {
                        run_id: "-".into(),
                        status: "purge failed".into(),
                        error: e.to_string(),
                    })
                    .await;
            }
        }
    }

    async fn refresh_known(&mut self) -> Result<()> {
        let ledger = crate::lake::read_ledger(&self.storage).await?;
        self.known.clear();
        for e in ledger {
            if let Ok(t) = DateTime::parse_from_rfc3339(&e.recorded_at) {
                let t = t.with_timezone(&Utc);
                let slot = self.known.entry((e.source, e.file, e.size)).or_insert(t);
                *slot = (*slot).max(t);
            }
        }
        Ok(())
    }

    /// Every landing file of every source, as a comparable key.
    async fn list_all(&self) -> Result<Vec<LandingKey>> {
        let mut out = Vec::new();
        for p in &self.project.plan.sources {
            for f in self.storage.list_landing(&p.name).await? {
                if p.glob.is_match(&f.relative) {
                    out.push((
                        p.name.clone(),
                        f.relative,
                        f.size,
                        f.last_modified.timestamp_millis(),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Re-read freshness; alert sources whose state became stale or changed.
    async fn check_freshness(&mut self) {
        match status::sources(&self.project, &self.storage, Utc::now()).await {
            Ok(statuses) => {
                for s in &statuses {
                    let before = self.alerted.insert(s.source.clone(), s.state);
                    if s.state.is_stale() && before != Some(s.state) {
                        self.alerter.send(&alert::stale_event(s)).await;
                    }
                }
                self.metrics.set_sources(statuses);
            }
            Err(e) => warn!(error = %e, "could not read source freshness"),
        }
    }
}

impl Hooks for PipelineHooks {
    async fn run(&mut self, trigger: Trigger) {
        let label = trigger.label();
        let (source, full_refresh) = match &trigger {
            Trigger::Schedule {
                source, full_refresh, ..
            } => (source.clone(), *full_refresh),
            _ => (None, false),
        };
        let opts = RunOptions {
            shutdown: self.shutdown.clone(),
            trigger: Some(label.clone()),
            source,
            full_refresh,
            no_scorecard: false,
            force_scorecard: false,
            // Never from a schedule: a change of key is done by hand.
            new_key: false,
            // Nobody watches a terminal under `serve`: the log says what happens.
            progress: crate::progress::Reporter::default(),
        };
        self.metrics.run_started();
        // What is in the landing zones now is settled by this run (arrivals during it are not).
        let snapshot = self.list_all().await.unwrap_or_default();
        // The run's own span carries run_id and trigger.
        let result = run_with_retries(&self.project, &self.storage, self.key.clone(), &opts).await;
        self.settled.extend(snapshot);
        // Ledger and freshness first, so a scrape that sees the run sees its effects too.
        if let Err(e) = self.refresh_known().await {
            warn!(error = %e, "could not read the ingest ledger");
        }
        self.check_freshness().await;
        match result {
            Ok((rec, outcome)) => {
                self.metrics.observe_run(&rec);
                match &outcome {
                    Ok(()) => {
                        info!(run_id = %rec.run_id, seconds = format!("{:.1}", rec.seconds), "run succeeded")
                    }
                    Err(e) => error!(run_id = %rec.run_id, error = %e, "run {}", rec.status),
                }
                if !matches!(outcome, Err(Error::Interrupted(_))) || !self.shutdown.is_requested() {
                    self.alerter.send_all(&alert::run_events(&rec)).await;
                }
            }
            Err(Error::LeaseHeld(msg)) => {
                self.metrics.run_not_started("skipped");
                info!("{msg}; skipping this trigger");
            }
            Err(e) => {
                self.metrics.run_not_started("failed");
                self.alerter
                    .send(&alert::Event::RunFailed {
                        run_id: "-".into(),
                        status: "not started".into(),
                        error: e.to_string(),
                    })
                    .await;
            }
        }
        self.purge_daily().await;
    }

    async fn pending(&mut self) -> Result<Option<(usize, u64)>> {
        let mut new: Vec<LandingKey> = self
            .list_all()
            .await?
            .into_iter()
            .filter(|k| {
                let recorded = self.known.get(&(k.0.clone(), k.1.clone(), k.2 as i64));
                let in_ledger = recorded.is_some_and(|r| k.3 <= r.timestamp_millis());
                !in_ledger && !self.settled.contains(k)
            })
            .collect();
        if new.is_empty() {
            return Ok(None);
        }
        new.sort();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        new.hash(&mut h);
        Ok(Some((new.len(), h.finish())))
    }

    async fn periodic(&mut self) {
        self.check_freshness().await;
    }
}

/// `startwell serve`: the endpoint, then the loop until SIGTERM/SIGINT.
pub async fn serve(
    project: Arc<Project>,
    storage: Storage,
    key: PseudoKey,
    shutdown: Shutdown,
    listen: Option<SocketAddr>,
) -> Result<()> {
    let metrics = Arc::new(Metrics::new());
    let addr = listen.unwrap_or(project.ops.listen);
    let token = super::http::token(addr)?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::config(
            project.dir.join("startwell.toml"),
            format!("[serve] listen: cannot listen on {addr}: {e}"),
        )
    })?;
    let bound = listener.local_addr().map_err(Error::internal)?;
    let app = super::http::router(super::http::AppState {
        project: project.clone(),
        storage: storage.clone(),
        metrics: metrics.clone(),
        token: token.clone(),
    });
    let http_stop = shutdown.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                http_stop.requested().await;
            })
            .await
    });
    if project.ops.schedules.is_empty() && !project.ops.arrival.enabled {
        warn!("no [[serve.schedule]] and [serve.arrival] is off: serving the endpoint only");
    }
    info!(endpoint = %format!("http://{bound}"), bearer_token = token.is_some(), schedules = project.ops.schedules.len(), arrival = project.ops.arrival.enabled, timezone = %project.ops.timezone, "serving");
    let alerter = Alerter::from_project(&project);
    if !alerter.has_webhook() {
        info!(
            "alerts are logged only: set {} to post them to a webhook",
            project.ops.alerts.webhook_url_env
        );
    }
    let mut hooks = PipelineHooks::new(
        project.clone(),
        storage.clone(),
        key,
        metrics,
        alerter,
        shutdown.clone(),
    );
    if let Err(e) = hooks.refresh_known().await {
        warn!(error = %e, "could not read the ingest ledger");
    }
    let cfg = LoopConfig::from_project(&project);
    run_loop(&cfg, Arc::new(SystemClock), &storage, &shutdown, &mut hooks).await;
    info!(reason = %shutdown.reason().unwrap_or_default(), "stopped");
    match http.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::internal(format!("http endpoint: {e}"))),
        Err(e) => Err(Error::internal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::clock::TokioClock;
    use crate::schedule::CronSpec;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Records when each run started (by the injected clock).
    struct Fake {
        clock: SharedClock,
        runs: Vec<(DateTime<Utc>, Trigger)>,
        /// Signatures `pending` reports over time: (from, count, signature).
        pending: Vec<(DateTime<Utc>, usize, u64)>,
        run_takes: Duration,
    }

    impl Hooks for Fake {
        async fn run(&mut self, t: Trigger) {
            self.runs.push((self.clock.now(), t));
            tokio::time::sleep(self.run_takes).await;
            // A run consumes whatever was pending.
            let now = self.clock.now();
            self.pending.retain(|p| p.0 > now);
        }
        async fn pending(&mut self) -> Result<Option<(usize, u64)>> {
            let now = self.clock.now();
            Ok(self.pending.iter().rev().find(|p| p.0 <= now).map(|p| (p.1, p.2)))
        }
        async fn periodic(&mut self) {}
    }

    fn cfg(cron: &str, missed: MissedRuns) -> LoopConfig {
        LoopConfig {
            schedules: vec![Schedule {
                name: "nightly".into(),
                spec: CronSpec::parse(cron).unwrap(),
                source: None,
                full_refresh: false,
            }],
            timezone: chrono_tz::Europe::London,
            missed_runs: missed,
            arrival: None,
            periodic_every: Duration::from_secs(3600),
            tick: Duration::from_secs(30),
        }
    }

    async fn drive(
        cfg: LoopConfig,
        start: &str,
        for_: Duration,
        storage: &Storage,
        pending: Vec<(DateTime<Utc>, usize, u64)>,
    ) -> Vec<(DateTime<Utc>, Trigger)> {
        let clock: SharedClock = Arc::new(TokioClock::starting_at(utc(start)));
        let shutdown = Shutdown::new();
        let mut fake = Fake {
            clock: clock.clone(),
            runs: Vec::new(),
            pending,
            run_takes: Duration::from_secs(90),
        };
        let stopper = {
            let s = shutdown.clone();
            async move {
                tokio::time::sleep(for_).await;
                s.request("test over");
            }
        };
        tokio::join!(run_loop(&cfg, clock, storage, &shutdown, &mut fake), stopper);
        fake.runs
    }

    fn memory() -> Storage {
        Storage::open(std::path::Path::new("."), "memory://serve-test/").unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn nightly_0130_runs_once_on_both_clock_change_nights() {
        let days = Duration::from_secs(86_400);
        let cases = [
            // 29 March: 01:30 does not exist, so 02:00 BST.
            (
                "2026-03-27T12:00:00Z",
                [
                    "2026-03-28T01:30:00Z",
                    "2026-03-29T01:00:00Z",
                    "2026-03-30T00:30:00Z",
                    "2026-03-31T00:30:00Z",
                ],
            ),
            // 25 October: once, though 01:30 happens twice.
            (
                "2026-10-23T12:00:00Z",
                [
                    "2026-10-24T00:30:00Z",
                    "2026-10-25T00:30:00Z",
                    "2026-10-26T01:30:00Z",
                    "2026-10-27T01:30:00Z",
                ],
            ),
        ];
        for (start, expected) in cases {
            let storage = memory();
            let runs = drive(
                cfg("30 1 * * *", MissedRuns::CatchUp),
                start,
                days * 4,
                &storage,
                vec![],
            )
            .await;
            let at: Vec<_> = runs.iter().map(|r| r.0).collect();
            assert_eq!(at, expected.map(utc).to_vec(), "from {start}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn missed_runs_catch_up_once_or_skip() {
        for (policy, expect_catch_up) in [(MissedRuns::CatchUp, true), (MissedRuns::Skip, false)] {
            let storage = memory();
            // The server last fired five nights ago and was down since.
            record_slot(
                &storage,
                "nightly",
                utc("2026-11-18T01:30:00Z"),
                utc("2026-11-18T01:30:00Z"),
            )
            .await;
            let runs = drive(
                cfg("30 1 * * *", policy),
                "2026-11-23T09:00:00Z",
                Duration::from_secs(86_400),
                &storage,
                vec![],
            )
            .await;
            let catch_ups = runs
                .iter()
                .filter(|r| matches!(r.1, Trigger::CatchUp { .. }))
                .count();
            assert_eq!(catch_ups, expect_catch_up as usize, "{policy:?}: {runs:?}");
            if expect_catch_up {
                assert_eq!(runs[0].0, utc("2026-11-23T09:00:00Z"));
            }
            // Then the next night as scheduled, once.
            let scheduled: Vec<_> = runs
                .iter()
                .filter(|r| matches!(r.1, Trigger::Schedule { .. }))
                .map(|r| r.0)
                .collect();
            assert_eq!(scheduled, vec![utc("2026-11-24T01:30:00Z")]);
            assert_eq!(
                last_slot(&storage, "nightly").await,
                Some(utc("2026-11-24T01:30:00Z"))
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_minute_schedule_runs_each_minute_and_catches_up_after_a_long_run() {
        let storage = memory();
        // Runs take 90 s: with catch_up one extra run follows at once, never a pile-up.
        let runs = drive(
            cfg("* * * * *", MissedRuns::CatchUp),
            "2026-11-23T09:00:30Z",
            Duration::from_secs(300),
            &storage,
            vec![],
        )
        .await;
        let at: Vec<_> = runs.iter().map(|r| r.0).collect();
        assert!(
            at.windows(2)
                .all(|w| w[1] - w[0] >= chrono::Duration::seconds(90)),
            "{at:?}"
        );
        assert_eq!(at[0], utc("2026-11-23T09:01:00Z"));
        assert!(at.len() >= 3 && at.len() <= 4, "{at:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn arrival_waits_for_a_quiet_drop() {
        let storage = memory();
        let mut c = cfg("0 3 1 1 *", MissedRuns::Skip);
        c.arrival = Some((Duration::from_secs(60), Duration::from_secs(300)));
        let t0 = utc("2026-11-23T09:00:00Z");
        let s = |m: i64| t0 + chrono::Duration::seconds(m);
        // A partner drops a file at +10 min, a second at +13 min, nothing after.
        let pending = vec![(s(600), 1, 11), (s(780), 2, 22)];
        let runs = drive(
            c,
            "2026-11-23T09:00:00Z",
            Duration::from_secs(3600),
            &storage,
            pending,
        )
        .await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0].1, Trigger::Arrival { files: 2 });
        // Seen at the first poll at or after +13 min, quiet for 5 minutes.
        assert_eq!(runs[0].0, s(780 + 300));
    }
}
