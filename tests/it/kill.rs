//! A process killed in the middle of an ingest (a real SIGKILL of a child
//! process, at several points) followed by `run` gives the same lake as an
//! uninterrupted run.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{Spawned, TestProject, lake_lines};

fn commits(table_dir: &Path) -> usize {
    std::fs::read_dir(table_dir.join("_delta_log"))
        .map(|rd| {
            rd.filter(|e| {
                e.as_ref()
                    .map(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .unwrap_or(false)
            })
            .count()
        })
        .unwrap_or(0)
}

/// Start `run`, wait until `ready` holds (or the process ends), then SIGKILL it.
fn run_and_kill(tp: &TestProject, ready: impl Fn() -> bool) -> bool {
    let mut child = Spawned::start(tp, &["run"], &[]);
    let start = Instant::now();
    loop {
        if child.exited() {
            return false; // finished before the kill point
        }
        if ready() || start.elapsed() > Duration::from_secs(600) {
            child.sigkill();
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// When to kill a run, judged from what it has written so far.
type KillPoint = Box<dyn Fn(&TestProject) -> bool>;

async fn lake(tp: &TestProject) -> Vec<Vec<String>> {
    lake_lines(&tp.storage()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_runs_complete_to_the_same_lake() {
    // The reference: one uninterrupted run.
    let reference = TestProject::new();
    reference.generate(150, 2);
    let (code, _, err) = reference.run_binary(&["run"]);
    assert_eq!(code, 0, "{err}");
    let expected = lake(&reference).await;

    // Kill points: right at start; mid-way through the first big table (some of
    // its data files written, no commit yet); just after a data commit (before
    // its ledger entry); after several files.
    let lake_dir = |tp: &TestProject| tp.path().join("data/lake");
    let points: Vec<(&str, KillPoint)> = vec![
        ("at start", Box::new(|_tp: &TestProject| true)),
        (
            "data files written, before commit",
            Box::new(move |tp: &TestProject| {
                std::fs::read_dir(lake_dir(tp).join("eyfsp"))
                    .map(|rd| rd.filter_map(|e| e.ok()).any(|e| e.file_name() != "_delta_log"))
                    .unwrap_or(false)
            }),
        ),
        (
            "after the first data commit",
            Box::new(move |tp: &TestProject| commits(&lake_dir(tp).join("eyfsp")) >= 1),
        ),
        (
            "after a later commit",
            Box::new(move |tp: &TestProject| commits(&lake_dir(tp).join("hv_contacts")) >= 3),
        ),
    ];
    let mut killed = 0;
    for (name, ready) in &points {
        let tp = TestProject::new();
        tp.generate(150, 2);
        // Kill twice at the same point, then let a run finish.
        for _ in 0..2 {
            if run_and_kill(&tp, || ready(&tp)) {
                killed += 1;
            }
        }
        let (code, _, err) = tp.run_binary(&["run"]);
        assert_eq!(code, 0, "{name}: {err}");
        assert_eq!(lake(&tp).await, expected, "lake differs after a kill {name}");
        // And a further run has nothing to do.
        let (code, out, err) = tp.run_binary(&["run"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("succeeded"), "{out}");
    }
    assert!(killed >= 4, "only {killed} kills landed before the run ended");

    // SIGTERM in the middle of an ingest (after the first data commit): the run
    // stops cleanly — exit code 6, record `interrupted`, lease released, the lake
    // readable — and the next run completes it to the same lake. With the
    // default grace period (the file in progress may finish) and with none (it
    // is abandoned before its commit).
    for grace in [20, 0] {
        let tp = TestProject::new();
        let manifest = tp.path().join("startwell.toml");
        let toml = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(
            &manifest,
            toml.replace(
                "shutdown_grace_seconds = 20",
                &format!("shutdown_grace_seconds = {grace}"),
            ),
        )
        .unwrap();
        tp.generate(150, 2);
        let mut child = Spawned::start(&tp, &["run"], &[]);
        let start = Instant::now();
        while commits(&lake_dir(&tp).join("eyfsp")) < 1 {
            assert!(!child.exited(), "run ended before the signal point");
            assert!(start.elapsed() < Duration::from_secs(600));
            std::thread::sleep(Duration::from_millis(2));
        }
        child.sigterm();
        let (code, _, err) = child.finish();
        assert_eq!(
            code,
            startwell::error::exit_code::INTERRUPTED,
            "grace {grace}: {err}"
        );
        assert!(err.contains("stopped on request (SIGTERM received)"), "{err}");
        let storage = tp.storage();
        let records = startwell::ops::status::recent_runs(&storage, 5).await.unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["status"], "interrupted");
        let lease = startwell::ops::lease::current(&storage).await.unwrap().unwrap();
        assert!(lease.released, "{lease:?}");
        let partial = lake(&tp).await; // every table readable
        assert_ne!(
            partial, expected,
            "grace {grace}: the signal landed after the run's work"
        );
        let (code, _, err) = tp.run_binary(&["run"]);
        assert_eq!(code, 0, "grace {grace}: {err}");
        assert_eq!(
            lake(&tp).await,
            expected,
            "lake differs after SIGTERM (grace {grace})"
        );
    }
}
