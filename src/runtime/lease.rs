//! The run lease: never two runs at once on one storage root, whether in one
//! process, two processes or two hosts.
//!
//! The lease lives in the store as a numbered series of small JSON objects,
//! `state/lease/<generation>.json`, each written with put-if-absent (atomic on
//! the local file system, S3, Azure and GCS alike, as the Delta log itself is):
//! - **acquire**: read the newest generation; if it is released or expired,
//!   create the next one. Two contenders cannot both create it.
//! - **renew**: the holder creates the next generation with a later expiry; if
//!   that generation already exists, someone took the lease over (ours had
//!   expired) and the holder must stop.
//! - **release**: create the next generation marked released.
//!
//! A crashed holder stops renewing; after `ttl` its lease may be taken over —
//! at once when the holder ran on this same machine (same host name and boot)
//! and its process no longer exists. Older generations are deleted as new ones
//! are written.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tracing::{info, warn};

use super::clock::SharedClock;
use super::shutdown::Shutdown;
use crate::config::ops::LeaseConfig;
use crate::error::{Error, Result};
use crate::storage::Storage;

const DIR: &str = "state/lease";

/// One generation of the lease, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeaseRecord {
    pub generation: u64,
    /// Unique per acquisition.
    pub holder: String,
    pub host: String,
    /// The machine's boot id (Linux), so a dead local holder can be recognised.
    #[serde(default)]
    pub boot_id: String,
    pub pid: u32,
    /// What holds it (a run id).
    pub purpose: String,
    pub acquired_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub released: bool,
}

impl LeaseRecord {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        !self.released && self.expires_at > now
    }

    /// Held by a process of this machine (same host, same boot) that has exited.
    fn holder_died_here(&self) -> bool {
        let boot = boot_id();
        !boot.is_empty()
            && self.boot_id == boot
            && self.host == host_name()
            && self.pid != std::process::id()
            && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A lease we hold.
#[derive(Debug)]
pub struct Lease {
    storage: Storage,
    clock: SharedClock,
    config: LeaseConfig,
    record: LeaseRecord,
}

pub enum Acquire {
    Acquired(Lease),
    /// Someone else holds it.
    Held(LeaseRecord),
}

fn rel(generation: u64) -> String {
    format!("{DIR}/{generation:020}.json")
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown-host".into())
}

/// The newest lease generation, if any.
pub async fn current(storage: &Storage) -> Result<Option<LeaseRecord>> {
    for _ in 0..5 {
        let listed = storage.list(DIR).await?;
        let newest = listed
            .iter()
            .filter_map(|m| {
                let name = m.location.filename()?;
                name.strip_suffix(".json")?.parse::<u64>().ok()
            })
            .max();
        let Some(generation) = newest else {
            return Ok(None);
        };
        match storage.get(&rel(generation)).await? {
            Some(bytes) => {
                return serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                    Error::storage(
                        storage.display(&rel(generation)),
                        format!("unreadable lease: {e}"),
                    )
                });
            }
            // Deleted by a newer holder between list and get: look again.
            None => continue,
        }
    }
    Err(Error::storage(
        storage.display(DIR),
        "the lease kept changing while being read",
    ))
}

/// Try to take the lease for `purpose`.
pub async fn try_acquire(
    storage: &Storage,
    clock: SharedClock,
    config: LeaseConfig,
    purpose: &str,
) -> Result<Acquire> {
    for _ in 0..5 {
        let now = clock.now();
        let cur = current(storage).await?;
        if let Some(c) = &cur
            && c.is_live(now)
        {
            if !c.holder_died_here() {
                return Ok(Acquire::Held(c.clone()));
            }
            warn!(
                holder_pid = c.pid, holder = %c.purpose,
                "taking over the run lease of a process on this machine that has exited (crashed or killed)"
            );
        }
        if let Some(c) = &cur
            && !c.released
            && !c.is_live(now)
        {
            warn!(
                holder_host = %c.host, holder_pid = c.pid, holder = %c.purpose,
                expired_at = %c.expires_at,
                "taking over an expired lease (its holder stopped renewing it)"
            );
        }
        let record = LeaseRecord {
            generation: cur.as_ref().map_or(1, |c| c.generation + 1),
            holder: format!("{:016x}", rand::random::<u64>()),
            host: host_name(),
            boot_id: boot_id(),
            pid: std::process::id(),
            purpose: purpose.to_string(),
            acquired_at: now,
            expires_at: now + config.ttl,
            released: false,
        };
        if write(storage, &record).await? {
            cleanup(storage, record.generation).await;
            return Ok(Acquire::Acquired(Lease {
                storage: storage.clone(),
                clock,
                config,
                record,
            }));
        }
        // Another contender wrote that generation first: look again.
    }
    match current(storage).await? {
        Some(c) => Ok(Acquire::Held(c)),
        None => Err(Error::storage(storage.display(DIR), "could not take the lease")),
    }
}

async fn write(storage: &Storage, record: &LeaseRecord) -> Result<bool> {
    let json = serde_json::to_vec_pretty(record).map_err(Error::internal)?;
    storage.put_if_absent(&rel(record.generation), json.into()).await
}

/// Delete generations older than the one before `generation` (best effort).
async fn cleanup(storage: &Storage, generation: u64) {
    let Ok(listed) = storage.list(DIR).await else {
        return;
    };
    for m in listed {
        let Some(g) = m
            .location
            .filename()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        if g + 1 < generation {
            let _ = storage.delete(&rel(g)).await;
        }
    }
}

/// Renewal failed because another holder took the lease.
#[derive(Debug)]
pub struct LeaseLost(pub LeaseRecord);

impl Lease {
    pub fn record(&self) -> &LeaseRecord {
        &self.record
    }

    /// Extend the lease by `ttl` from now. `Ok(Err(LeaseLost))` when it was taken over.
    pub async fn renew(&mut self) -> Result<Result<(), LeaseLost>> {
        let mut next = self.record.clone();
        next.generation += 1;
        next.expires_at = self.clock.now() + self.config.ttl;
        if write(&self.storage, &next).await? {
            self.record = next;
            cleanup(&self.storage, self.record.generation).await;
            Ok(Ok(()))
        } else {
            let other = current(&self.storage).await?.unwrap_or(next);
            Ok(Err(LeaseLost(other)))
        }
    }

    /// Give the lease up.
    pub async fn release(mut self) -> Result<()> {
        let mut next = self.record.clone();
        next.generation += 1;
        next.released = true;
        next.expires_at = self.clock.now();
        if write(&self.storage, &next).await? {
            self.record = next;
            cleanup(&self.storage, self.record.generation).await;
        }
        Ok(())
    }
}

/// A held lease renewed in the background until released. If it is lost (or
/// cannot be renewed before it expires), `shutdown` is requested so the run stops
/// before its next commit.
pub struct HeldLease {
    lease: Arc<Mutex<Option<Lease>>>,
    renewer: tokio::task::JoinHandle<()>,
}

impl HeldLease {
    pub fn start(lease: Lease, shutdown: Shutdown) -> HeldLease {
        let every = lease.config.renew_every;
        let lease = Arc::new(Mutex::new(Some(lease)));
        let shared = lease.clone();
        let renewer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let mut guard = shared.lock().await;
                let Some(l) = guard.as_mut() else { return };
                match l.renew().await {
                    Ok(Ok(())) => {}
                    Ok(Err(LeaseLost(other))) => {
                        shutdown.request(format!(
                            "the run lease was taken over by {} (pid {}, {}); stopping",
                            other.host, other.pid, other.purpose
                        ));
                        return;
                    }
                    Err(e) if l.clock.now() < l.record.expires_at => {
                        warn!(error = %e, "could not renew the run lease; retrying");
                    }
                    Err(e) => {
                        shutdown.request(format!(
                            "the run lease expired and could not be renewed ({e}); stopping"
                        ));
                        return;
                    }
                }
            }
        });
        HeldLease { lease, renewer }
    }

    /// Stop renewing and release the lease.
    pub async fn release(self) -> Result<()> {
        self.renewer.abort();
        let taken = self.lease.lock().await.take();
        if let Some(l) = taken {
            let purpose = l.record.purpose.clone();
            l.release().await?;
            info!(purpose = %purpose, "run lease released");
        }
        Ok(())
    }
}

/// The run lease for `run_id`, or the error saying which run holds it.
pub async fn acquire_for_run(
    project: &crate::config::Project,
    storage: &Storage,
    run_id: &str,
) -> Result<Lease> {
    storage.check_put_if_absent(run_id).await?;
    match try_acquire(
        storage,
        Arc::new(super::clock::SystemClock),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::clock::ManualClock;

    fn memory() -> Storage {
        Storage::open(std::path::Path::new("."), "memory://lease-test/").unwrap()
    }

    fn cfg() -> LeaseConfig {
        LeaseConfig {
            ttl: chrono::Duration::seconds(300),
            renew_every: std::time::Duration::from_secs(60),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[tokio::test]
    async fn second_contender_is_refused_until_release() {
        let storage = memory();
        let clock = ManualClock::new(at("2026-11-23T01:30:00Z"));
        let shared: SharedClock = Arc::new(clock.clone());
        let Acquire::Acquired(a) = try_acquire(&storage, shared.clone(), cfg(), "run-a")
            .await
            .unwrap()
        else {
            panic!("first acquire must succeed")
        };
        match try_acquire(&storage, shared.clone(), cfg(), "run-b")
            .await
            .unwrap()
        {
            Acquire::Held(h) => assert_eq!(h.purpose, "run-a"),
            Acquire::Acquired(_) => panic!("two holders at once"),
        }
        a.release().await.unwrap();
        assert!(matches!(
            try_acquire(&storage, shared, cfg(), "run-b").await.unwrap(),
            Acquire::Acquired(_)
        ));
    }

    #[tokio::test]
    async fn expired_lease_is_taken_over_and_the_old_holder_learns_it() {
        let storage = memory();
        let clock = ManualClock::new(at("2026-11-23T01:30:00Z"));
        let shared: SharedClock = Arc::new(clock.clone());
        let Acquire::Acquired(mut a) = try_acquire(&storage, shared.clone(), cfg(), "run-a")
            .await
            .unwrap()
        else {
            panic!()
        };
        // Renewal keeps it alive past the first ttl.
        clock.advance(chrono::Duration::seconds(200));
        a.renew().await.unwrap().unwrap();
        clock.advance(chrono::Duration::seconds(200));
        assert!(matches!(
            try_acquire(&storage, shared.clone(), cfg(), "run-b")
                .await
                .unwrap(),
            Acquire::Held(_)
        ));
        // The holder stalls (a crash, a pause) past its expiry: b takes over.
        clock.advance(chrono::Duration::seconds(301));
        let Acquire::Acquired(b) = try_acquire(&storage, shared.clone(), cfg(), "run-b")
            .await
            .unwrap()
        else {
            panic!("an expired lease must be taken over")
        };
        assert_eq!(b.record().purpose, "run-b");
        // a wakes up and tries to renew: it is told the lease is lost, and b keeps it.
        let lost = a.renew().await.unwrap().unwrap_err();
        assert_eq!(lost.0.purpose, "run-b");
        assert_eq!(current(&storage).await.unwrap().unwrap().purpose, "run-b");
        // Old generations are cleaned up.
        assert!(storage.list(DIR).await.unwrap().len() <= 2);
    }

    #[tokio::test]
    async fn racing_contenders_get_exactly_one_lease() {
        let storage = memory();
        let shared: SharedClock = Arc::new(ManualClock::new(at("2026-11-23T01:30:00Z")));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (s, c) = (storage.clone(), shared.clone());
                tokio::spawn(async move { try_acquire(&s, c, cfg(), &format!("run-{i}")).await })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            if let Acquire::Acquired(_) = t.await.unwrap().unwrap() {
                won += 1;
            }
        }
        assert_eq!(won, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_lease_is_renewed_and_a_takeover_stops_the_run() {
        let storage = memory();
        let clock: SharedClock = Arc::new(crate::runtime::clock::TokioClock::starting_at(at(
            "2026-11-23T01:30:00Z",
        )));
        let Acquire::Acquired(a) = try_acquire(&storage, clock.clone(), cfg(), "run-a")
            .await
            .unwrap()
        else {
            panic!()
        };
        let stop = Shutdown::new();
        let held = HeldLease::start(a, stop.clone());
        // Ten minutes on, twice the ttl: renewals kept it alive.
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
        let cur = current(&storage).await.unwrap().unwrap();
        assert_eq!(cur.purpose, "run-a");
        assert!(cur.generation >= 10 && cur.is_live(clock.now()), "{cur:?}");
        assert!(!stop.is_requested());
        // Another host takes the next generation (as if ours had expired): the renewer notices and stops the run.
        let mut other = cur.clone();
        other.generation += 1;
        other.purpose = "run-b".into();
        other.host = "elsewhere".into();
        assert!(write(&storage, &other).await.unwrap());
        tokio::time::sleep(std::time::Duration::from_secs(61)).await;
        let reason = stop.reason().expect("the run was told to stop");
        assert!(reason.contains("taken over by elsewhere"), "{reason}");
        // Releasing does not disturb the new holder.
        held.release().await.unwrap();
        assert_eq!(current(&storage).await.unwrap().unwrap().purpose, "run-b");
    }
}
