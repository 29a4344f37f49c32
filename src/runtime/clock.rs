//! The wall clock, injectable: production reads the system clock; tests set and
//! advance a manual one, so schedules and leases are tested at fixed instants.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Arc::new(Mutex::new(at)))
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// Wall time that advances with tokio's clock: with `tokio::time::pause()` a
/// test can sleep through days of schedule in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    anchor_utc: DateTime<Utc>,
    anchor: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(at: DateTime<Utc>) -> Self {
        TokioClock {
            anchor_utc: at,
            anchor: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.anchor;
        self.anchor_utc + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}
