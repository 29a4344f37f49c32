//! Graceful shutdown: SIGTERM or SIGINT (or a lost lease) *requests* a stop.
//! A run then starts no new file; the file in progress may finish within the
//! grace period and is otherwise abandoned before its commit (each file is one
//! atomic Delta commit, so nothing is ever half written). A second signal exits
//! at once — still safe, for the same reason.

use std::sync::Arc;

use tokio::sync::watch;

/// A stop request shared by everything that should stop.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<Option<String>>>,
    rx: watch::Receiver<Option<String>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        let (tx, rx) = watch::channel(None);
        Shutdown { tx: Arc::new(tx), rx }
    }

    /// Ask everything to stop (the first reason wins).
    pub fn request(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.tx.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason);
                true
            } else {
                false
            }
        });
    }

    pub fn is_requested(&self) -> bool {
        self.rx.borrow().is_some()
    }

    pub fn reason(&self) -> Option<String> {
        self.rx.borrow().clone()
    }

    /// Resolves once a stop is requested.
    pub async fn requested(&self) -> String {
        let mut rx = self.rx.clone();
        loop {
            if let Some(r) = rx.borrow_and_update().clone() {
                return r;
            }
            if rx.changed().await.is_err() {
                // The sender lives in `self`; this cannot happen while we are borrowed.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves `grace` after a stop is requested.
    pub async fn requested_then(&self, grace: std::time::Duration) -> String {
        let r = self.requested().await;
        tokio::time::sleep(grace).await;
        r
    }
}

/// Turn SIGTERM and SIGINT into stop requests; a second signal exits at once
/// with the interrupted exit code.
pub fn listen_for_signals(shutdown: Shutdown) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                return;
            }
        };
        for count in 0.. {
            #[cfg(unix)]
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            };
            #[cfg(not(unix))]
            let name = {
                let _ = tokio::signal::ctrl_c().await;
                "Ctrl-C"
            };
            if count == 0 {
                tracing::warn!(
                    signal = name,
                    "stop requested: no new file will be started; the current one finishes within the grace period or is abandoned uncommitted"
                );
                shutdown.request(format!("{name} received"));
            } else {
                eprintln!("startwell: second {name}: stopping now (nothing is half committed)");
                std::process::exit(crate::error::exit_code::INTERRUPTED);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn first_reason_wins_and_waiters_wake() {
        let s = Shutdown::new();
        let waiter = {
            let s = s.clone();
            tokio::spawn(async move { s.requested_then(std::time::Duration::from_secs(30)).await })
        };
        assert!(!s.is_requested());
        s.request("SIGTERM received");
        s.request("something else");
        assert_eq!(waiter.await.unwrap(), "SIGTERM received");
        assert_eq!(s.reason().as_deref(), Some("SIGTERM received"));
    }
}
