//! Where the scorecard's memory goes, for the `debug` log around each view and
//! query: the query engine's pool with its high-water mark (read and started
//! again at each mark), the process's resident memory now and at its peak, and
//! its CPU time. Each mark first hands back what the allocator holds free
//! ([`crate::heap::release_freed`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::common::Result;
use datafusion::execution::memory_pool::{MemoryLimit, MemoryPool, MemoryReservation};

/// A memory pool that remembers the most it has held since [`PeakPool::take_peak`].
#[derive(Debug)]
pub struct PeakPool {
    inner: Arc<dyn MemoryPool>,
    peak: AtomicUsize,
}

impl PeakPool {
    pub fn new(inner: Arc<dyn MemoryPool>) -> Self {
        PeakPool {
            inner,
            peak: AtomicUsize::new(0),
        }
    }

    /// The most reserved at once since the last call; starts again from now.
    pub fn take_peak(&self) -> usize {
        self.peak.swap(self.inner.reserved(), Ordering::Relaxed)
    }

    fn note(&self) {
        self.peak.fetch_max(self.inner.reserved(), Ordering::Relaxed);
    }
}

impl fmt::Display for PeakPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl MemoryPool for PeakPool {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn register(&self, consumer: &datafusion::execution::memory_pool::MemoryConsumer) {
        self.inner.register(consumer)
    }
    fn unregister(&self, consumer: &datafusion::execution::memory_pool::MemoryConsumer) {
        self.inner.unregister(consumer)
    }
    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional);
        self.note();
    }
    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink)
    }
    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        self.inner.try_grow(reservation, additional)?;
        self.note();
        Ok(())
    }
    fn reserved(&self) -> usize {
        self.inner.reserved()
    }
    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
}

/// Memory in MiB at a mark, taken after [`release_freed`](crate::heap::release_freed) (so a mark between
/// two steps also hands back what the first freed): the engine pool's peak
/// since the last mark (which starts again), and the process's resident set
/// now and at its peak so far (Linux; `None` elsewhere). The step in the peak
/// between two marks is what the work between them added to the process's
/// high-water mark.
pub fn mark(ctx: &datafusion::prelude::SessionContext) -> Mark {
    crate::heap::release_freed();
    let pool = ctx.runtime_env().memory_pool.clone();
    let pool_peak_mib = pool
        .downcast_ref::<PeakPool>()
        .map(|p| p.take_peak() as f64 / MIB);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    Mark {
        pool_peak_mib,
        rss_mib: status_mib(&status, "VmRSS:"),
        rss_peak_mib: status_mib(&status, "VmHWM:"),
        cpu_seconds: cpu_seconds(),
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// See [`mark`].
pub struct Mark {
    pub pool_peak_mib: Option<f64>,
    pub rss_mib: Option<f64>,
    pub rss_peak_mib: Option<f64>,
    /// User and system time of the process so far (Linux).
    pub cpu_seconds: Option<f64>,
}

/// `utime + stime` of `/proc/self/stat`, at the usual 100 ticks a second.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): state is the 3rd
    // field of the line, utime the 14th and stime the 15th.
    let rest = stat.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace().skip(11);
    let utime: f64 = f.next()?.parse().ok()?;
    let stime: f64 = f.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// A `kB` line of `/proc/self/status`, in MiB.
fn status_mib(status: &str, key: &str) -> Option<f64> {
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryConsumer};

    use super::*;

    #[test]
    fn the_pool_remembers_its_peak_until_taken() {
        let pool: Arc<dyn MemoryPool> = Arc::new(PeakPool::new(Arc::new(GreedyMemoryPool::new(1000))));
        let r = MemoryConsumer::new("test").register(&pool);
        r.try_grow(700).unwrap();
        r.shrink(600);
        r.grow(200);
        assert!(r.try_grow(800).is_err(), "the inner pool's limit holds");
        let peak = pool.downcast_ref::<PeakPool>().unwrap();
        assert_eq!(peak.take_peak(), 700);
        // Starts again from what is held now.
        assert_eq!(peak.take_peak(), 300);
        drop(r);
        assert_eq!(peak.take_peak(), 300);
        assert_eq!(peak.take_peak(), 0);
        crate::heap::release_freed();
    }
}
