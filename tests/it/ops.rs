//! Operations, with real processes: two concurrent `run`s on one storage root;
//! `serve` running on arrival, serving its endpoints, alerting a webhook, and
//! stopping on SIGTERM; `status` and `runs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Spawned, TestProject, count, free_port, wait_for};

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_runs_one_ingests_the_other_exits_clearly() {
    let tp = TestProject::new();
    tp.generate(150, 2);
    let [ra, rb] = crate::common::two_concurrent_runs(&tp, &[]);
    let loser = if ra.0 == 0 { &rb } else { &ra };
    assert!(
        loser.2.contains("another run is in progress") && loser.2.contains("this run did nothing"),
        "{}",
        loser.2
    );
    // Exactly one run ingested: every landing file is in the ledger once, and one run record exists.
    let storage = tp.storage();
    let ledger = startwell::lake::read_ledger(&storage).await.unwrap();
    let mut files: Vec<_> = ledger.iter().map(|e| (&e.source, &e.file)).collect();
    let n = files.len();
    files.sort();
    files.dedup();
    assert_eq!(files.len(), n, "a file was ingested twice");
    let runs: std::collections::HashSet<_> = ledger.iter().map(|e| &e.run_id).collect();
    assert_eq!(runs.len(), 1);
    assert_eq!(storage.list("state/runs").await.unwrap().len(), 1);
    // The lease was released: the next run starts and has nothing to do.
    let (code, out, err) = tp.run_binary(&["run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("succeeded"), "{out}");
}

/// A webhook receiver on loopback that keeps what it is sent.
async fn webhook() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let store = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_on_arrival_serves_endpoints_alerts_and_stops_on_sigterm() {
    let tp = TestProject::new();
    let manifest = tp.path().join("startwell.toml");
    let mut toml = std::fs::read_to_string(&manifest).unwrap();
    toml.push_str("\n[serve.arrival]\nenabled = true\npoll_seconds = 1\nquiet_seconds = 1\n");
    std::fs::write(&manifest, toml).unwrap();
    tp.generate(40, 2);
    let (hook_url, hooks) = webhook().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Spawned::start(
        &tp,
        &[
            "--log-format",
            "json",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        &[("STARTWELL_WEBHOOK_URL", hook_url)],
    );
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move {
            let r = http.get(url).send().await.ok()?;
            let status = r.status().as_u16();
            Some((status, r.text().await.ok()?))
        }
    };
    let health = wait_for("/healthz", async || get("/healthz").await).await;
    assert_eq!(health.0, 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.0, 200, "{}", ready.1);

    // The landing files were there at start: a run follows once they are quiet.
    let metrics = wait_for("a run in /metrics", async || {
        let (_, m) = get("/metrics").await?;
        m.contains("startwell_runs_total{outcome=\"succeeded\"} 1")
            .then_some(m)
    })
    .await;
    for needle in [
        "startwell_rows_accepted_total{source=\"eyfsp\"}",
        "startwell_rows_read_total{source=\"health_visiting\"}",
        "startwell_run_duration_seconds_count 1",
        "startwell_source_freshness{source=\"dwp_2yo\"} 0",
        "startwell_source_age_seconds{source=\"eyfsp\"}",
        "startwell_last_success_timestamp_seconds",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }
    let (status, runs) = get("/runs").await.unwrap();
    assert_eq!(status, 200);
    let runs: Vec<serde_json::Value> = serde_json::from_str(&runs).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(runs[0]["trigger"], "arrival");
    assert!(count(&tp.storage(), "eyfsp", "").await > 0);

    // A partner drops a file that cannot be used: the next arrival run refuses it and alerts.
    std::fs::write(
        tp.landing().join("eyfsp/eyfsp_2025-26.csv"),
        b"not,a,known,header\n1,2,3,4\n",
    )
    .unwrap();
    let alerts = wait_for("webhook alerts", async || {
        let got = hooks.lock().unwrap().clone();
        (got.iter()
            .any(|v| v["startwell"]["details"]["event"] == "run_failed"))
        .then_some(got)
    })
    .await;
    let refused = alerts
        .iter()
        .find(|v| v["startwell"]["details"]["event"] == "file_refused")
        .expect("a file_refused alert");
    assert_eq!(refused["startwell"]["details"]["source"], "eyfsp");
    assert!(
        refused["text"].as_str().unwrap().contains("eyfsp_2025-26.csv"),
        "{refused}"
    );
    let metrics = get("/metrics").await.unwrap().1;
    assert!(
        metrics.contains("startwell_runs_total{outcome=\"failed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("startwell_files_refused_total{source=\"eyfsp\"} 1"),
        "{metrics}"
    );

    // `runs` and `status` read the same storage.
    let (code, out, err) = tp.run_binary(&["runs"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("failed") && out.contains("succeeded") && out.contains("arrival"),
        "{out}"
    );
    let (code, out, err) = tp.run_binary(&["status"]);
    assert_eq!(code, 0, "{err}");
    for p in tp.project().plan.sources.iter() {
        let line = out
            .lines()
            .find(|l| l.starts_with(&p.name))
            .unwrap_or_else(|| panic!("{} missing:\n{out}", p.name));
        assert!(line.contains("fresh"), "{line}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("eyfsp ") && l.contains("refused")),
        "{out}"
    );

    // A partner rewrites a file already ingested with the same bytes: one run looks
    // at it (nothing to do), and then it is settled — no run after run.
    let dwp = tp.landing().join("dwp_2yo");
    let first = std::fs::read_dir(&dwp).unwrap().next().unwrap().unwrap().path();
    std::fs::write(&first, std::fs::read(&first).unwrap()).unwrap();
    wait_for("a run for the rewritten file", async || {
        let (_, m) = get("/metrics").await?;
        m.contains("startwell_runs_total{outcome=\"succeeded\"} 2")
            .then_some(())
    })
    .await;
    // Long enough for another poll, quiet period and whole run to show if one followed.
    let runs: Vec<serde_json::Value> = serde_json::from_str(&get("/runs").await.unwrap().1).unwrap();
    let last_took = runs[0]["seconds"].as_f64().unwrap();
    tokio::time::sleep(Duration::from_secs_f64(5.0 + 2.0 * last_took)).await;
    let metrics = get("/metrics").await.unwrap().1;
    assert!(
        metrics.contains("startwell_runs_total{outcome=\"succeeded\"} 2")
            && metrics.contains("startwell_runs_total{outcome=\"failed\"} 1"),
        "settled files must not trigger again:\n{metrics}"
    );

    // SIGTERM: the server stops cleanly.
    child.sigterm();
    let (code, _, err) = child.finish();
    assert_eq!(code, 0, "{err}");
    // JSON log lines carry the run span.
    assert!(
        err.lines()
            .any(|l| l.contains("\"run_id\"") && l.starts_with('{')),
        "{err}"
    );
}

#[test]
fn store_errors_are_retried_with_backoff_then_fail_with_the_storage_code() {
    let tp = TestProject::new();
    let manifest = tp.path().join("startwell.toml");
    let toml = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        toml.replace("retry_initial_seconds = 30", "retry_initial_seconds = 0")
            .replace("retry_max_seconds = 600", "retry_max_seconds = 1"),
    )
    .unwrap();
    tp.generate(20, 1);
    // A file where the state folder should be: every write under state/ fails.
    std::fs::write(tp.path().join("data/state"), b"in the way").unwrap();
    let (code, _, err) = tp.run_binary(&["run"]);
    assert_eq!(code, startwell::error::exit_code::STORAGE, "{err}");
    assert_eq!(
        err.matches("run failed on the store; retrying").count(),
        2,
        "{err}"
    );
    assert!(err.contains("storage error at"), "{err}");
    // Data and configuration problems are not retried.
    std::fs::remove_file(tp.path().join("data/state")).unwrap();
    std::fs::write(
        tp.landing().join("eyfsp/eyfsp_2030-31.csv"),
        b"no,known,header\n1,2,3\n",
    )
    .unwrap();
    let (code, _, err) = tp.run_binary(&["run"]);
    assert_eq!(code, startwell::error::exit_code::DATA, "{err}");
    assert!(!err.contains("retrying"), "{err}");
}

/// Beyond loopback `serve` needs a token, and `/metrics` and `/runs` then answer
/// only a request carrying it; the health probes stay open.
#[tokio::test(flavor = "multi_thread")]
async fn serve_beyond_loopback_requires_a_bearer_token() {
    let tp = TestProject::new();
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let (code, _, err) = tp.run_binary(&["serve", "--listen", &listen]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("STARTWELL_HTTP_TOKEN") && err.contains(&listen),
        "{err}"
    );

    let token = "a-token-for-the-test-0123456789";
    let child = Spawned::start(
        &tp,
        &["serve", "--listen", &listen],
        &[("STARTWELL_HTTP_TOKEN", token.to_string())],
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let get = |path: &str, bearer: Option<&str>| {
        let mut r = http.get(format!("{base}{path}"));
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        async move { Some(r.send().await.ok()?.status().as_u16()) }
    };
    assert_eq!(
        wait_for("/healthz", async || get("/healthz", None).await).await,
        200
    );
    assert_eq!(get("/readyz", None).await, Some(200));
    for path in ["/metrics", "/runs"] {
        assert_eq!(get(path, None).await, Some(401), "{path}");
        assert_eq!(
            get(path, Some("a-token-for-the-test-012345678X")).await,
            Some(401),
            "{path}"
        );
        assert_eq!(get(path, Some(token)).await, Some(200), "{path}");
    }
    child.sigterm();
    let (code, _, err) = child.finish();
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(token), "the token is never logged");
}

/// `serve` purges under `[retention]` once a day, after a run: the landing files
/// ingested by the arrival run are deleted and the purge is in `/runs`.
#[tokio::test(flavor = "multi_thread")]
async fn serve_purges_daily_after_a_run() {
    let tp = TestProject::new();
    let manifest = tp.path().join("startwell.toml");
    let toml = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("# landing_days = 90", "landing_days = 0");
    std::fs::write(
        &manifest,
        format!("{toml}\n[serve.arrival]\nenabled = true\npoll_seconds = 1\nquiet_seconds = 1\n"),
    )
    .unwrap();
    tp.generate(20, 1);
    let port = free_port();
    let child = Spawned::start(&tp, &["serve", "--listen", &format!("127.0.0.1:{port}")], &[]);
    let http = reqwest::Client::new();
    let runs = wait_for("a daily purge in /runs", async || {
        let r = http
            .get(format!("http://127.0.0.1:{port}/runs"))
            .send()
            .await
            .ok()?;
        let runs: Vec<serde_json::Value> = serde_json::from_str(&r.text().await.ok()?).ok()?;
        runs.iter().any(|r| r["trigger"] == "purge:daily").then_some(runs)
    })
    .await;
    let purge = runs.iter().find(|r| r["trigger"] == "purge:daily").unwrap();
    assert_eq!(purge["status"], "succeeded", "{purge}");
    assert!(!purge["purged"].as_array().unwrap().is_empty(), "{purge}");
    assert!(
        runs.iter()
            .any(|r| r["trigger"] == "arrival" && r["status"] == "succeeded")
    );
    child.sigterm();
    let (code, _, err) = child.finish();
    assert_eq!(code, 0, "{err}");
    let left: Vec<_> = std::fs::read_dir(tp.landing().join("eyfsp")).unwrap().collect();
    assert!(left.is_empty(), "ingested landing files are purged");
}
