//! Progress of long work. The library reports it through [`Progress`] and never
//! draws anything itself; the CLI passes a terminal renderer
//! (`cli::TerminalProgress`), everything else (tests, `serve`) the default
//! [`Silent`] one.

use std::sync::Arc;

/// What long work reports as it goes. Every method does nothing by default.
pub trait Progress: Send + Sync {
    /// A new phase, `what`, of `total` steps (0 when the total is not known:
    /// steps are counted as they come).
    fn begin(&self, _what: &str, _total: u64) {}
    /// What is being worked on now (a file, the indicators of a query).
    fn message(&self, _message: &str) {}
    /// `n` more steps done.
    fn advance(&self, _n: u64) {}
    /// The count starts again (a new file within the phase).
    fn restart(&self) {}
    /// The phase is over.
    fn end(&self) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {}

/// A shared progress reporter.
#[derive(Clone)]
pub struct Reporter(pub Arc<dyn Progress>);

impl Default for Reporter {
    fn default() -> Self {
        Reporter(Arc::new(Silent))
    }
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reporter")
    }
}

impl std::ops::Deref for Reporter {
    type Target = dyn Progress;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records what it is told.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>, Mutex<u64>);

    impl Progress for Recorder {
        fn begin(&self, what: &str, total: u64) {
            self.0.lock().unwrap().push(format!("begin {what} {total}"));
        }
        fn advance(&self, n: u64) {
            *self.1.lock().unwrap() += n;
        }
        fn end(&self) {
            self.0.lock().unwrap().push("end".into());
        }
    }

    /// The generator reports through the trait: a phase of children, every one
    /// of them counted, and its end; it draws nothing itself.
    #[test]
    fn library_work_reports_through_the_trait() {
        let out = tempfile::tempdir().unwrap();
        let r = Recorder::default();
        let opts = crate::generate::Options {
            children: 50,
            years: 1,
            seed: 1,
        };
        crate::generate::generate_with(out.path(), &opts, &r).unwrap();
        let events = r.0.lock().unwrap().clone();
        let total: u64 = events[0].rsplit(' ').next().unwrap().parse().unwrap();
        assert!(events[0].starts_with("begin generating children"), "{events:?}");
        assert_eq!(*r.1.lock().unwrap(), total);
        assert_eq!(events.last().map(String::as_str), Some("end"));
    }
}
