//! The whole job against a real S3 API: `moto` in server mode (`.ci/run` installs
//! it; `STARTWELL_MOTO_SERVER` names the program, else `moto_server` on PATH).
//! Skipped, saying so, only when it cannot be found.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::common::{Spawned, TestProject, free_port, wait_for};

const BUCKET: &str = "startwell-it";
const SECRET: &str = "startwell-it-SECRET-do-not-log";

fn moto_program() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("STARTWELL_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("moto_server"))
        .find(|p| p.is_file())
}

/// A moto server on a free port, stopped when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    async fn start(program: PathBuf) -> Moto {
        let port = free_port();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto { child, port };
        let http = reqwest::Client::new();
        wait_for("moto to answer", async || http.get(moto.url()).send().await.ok()).await;
        moto
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a startwell process needs to reach it.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "startwell-it-access".into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    fn store(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        Arc::new(
            object_store::aws::AmazonS3Builder::new()
                .with_endpoint(self.url())
                .with_allow_http(true)
                .with_access_key_id("startwell-it-access")
                .with_secret_access_key(SECRET)
                .with_region("us-east-1")
                .with_bucket_name(bucket)
                .build()
                .unwrap(),
        )
    }

    /// A project stored in a new bucket, with generated extracts uploaded to its
    /// landing zone in delivery order (none when `children` is 0).
    async fn project(&self, bucket: &str, children: u32, years: u32) -> TestProject {
        reqwest::Client::new()
            .put(format!("{}/{bucket}", self.url()))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        let tp = TestProject::new();
        let manifest = tp.path().join("startwell.toml");
        let toml = std::fs::read_to_string(&manifest).unwrap();
        let root = format!("root = \"s3://{bucket}/data\"");
        std::fs::write(&manifest, toml.replace("root = \"data\"", &root)).unwrap();
        if children == 0 {
            return tp;
        }
        tp.generate(children, years);
        let landing = tp.landing();
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for dir in std::fs::read_dir(&landing).unwrap().flatten() {
            for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
                files.push((f.metadata().unwrap().modified().unwrap(), f.path()));
            }
        }
        files.sort();
        let store = self.store(bucket);
        for (_, p) in files {
            let rel = p.strip_prefix(&landing).unwrap().to_string_lossy().to_string();
            let bytes = std::fs::read(&p).unwrap();
            store
                .put(&ObjPath::from(format!("data/landing/{rel}")), bytes.into())
                .await
                .unwrap();
        }
        std::fs::remove_dir_all(&landing).unwrap();
        tp
    }

    /// The project's storage, opened in this process (no environment needed).
    fn storage(&self, bucket: &str) -> startwell::storage::Storage {
        startwell::storage::Storage::from_parts(
            self.store(bucket),
            url::Url::parse(&format!("s3://{bucket}/data/")).unwrap(),
        )
    }
}

async fn keys(store: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<String> {
    let p = ObjPath::from(prefix);
    let mut out: Vec<String> = store
        .list(Some(&p))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    out.sort();
    out
}

/// Ingest, quarantine, scorecard, outputs and run records on S3; the run lease
/// (put-if-absent) lets exactly one of two concurrent runs work; the secret key
/// never appears in output or records.
#[tokio::test(flavor = "multi_thread")]
async fn the_job_runs_whole_on_s3() {
    let Some(program) = moto_program() else {
        eprintln!(
            "SKIPPED the_job_runs_whole_on_s3: no moto_server (pip install 'moto[server]', or set STARTWELL_MOTO_SERVER)"
        );
        return;
    };
    let moto = Moto::start(program).await;
    let tp = moto.project(BUCKET, 150, 2).await;
    let store = moto.store(BUCKET);

    let env = moto.env();
    let a = Spawned::start(&tp, &["run"], &env);
    let b = Spawned::start(&tp, &["run"], &env);
    let (ra, rb) = (a.finish(), b.finish());
    let mut codes = [ra.0, rb.0];
    codes.sort();
    assert_eq!(
        codes,
        [0, startwell::error::exit_code::LEASE_HELD],
        "a: {ra:?}\nb: {rb:?}"
    );
    for (_, out, err) in [&ra, &rb] {
        assert!(
            !out.contains(SECRET) && !err.contains(SECRET),
            "the secret key leaked"
        );
    }
    let outputs = keys(&store, "data/outputs").await;
    for f in [
        "scorecard.parquet",
        "scorecard.csv",
        "targets.parquet",
        "targets.csv",
    ] {
        assert!(
            outputs.contains(&format!("data/outputs/{f}")),
            "{f} missing: {outputs:?}"
        );
    }
    assert!(
        !keys(&store, "data/quarantine").await.is_empty(),
        "rejected rows are quarantined"
    );
    assert!(keys(&store, "data/lake/eyfsp/_delta_log").await.len() >= 2);
    let records = keys(&store, "data/state/runs").await;
    assert_eq!(records.len(), 1, "{records:?}");
    let record = store
        .get(&ObjPath::from(records[0].as_str()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let record = String::from_utf8(record.to_vec()).unwrap();
    assert!(
        record.contains("\"status\": \"succeeded\"") && !record.contains(SECRET),
        "{record}"
    );

    // Nothing new: the next run changes nothing and releases the lease again.
    let (code, out, err) = Spawned::start(&tp, &["run"], &env).finish();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no changes"), "{out}");
}

/// `serve` on S3: `/readyz` is ready while the store answers and says why not
/// when it stops answering; `/healthz` stays up.
#[tokio::test(flavor = "multi_thread")]
async fn readyz_follows_the_store() {
    let Some(program) = moto_program() else {
        eprintln!(
            "SKIPPED readyz_follows_the_store: no moto_server (pip install 'moto[server]', or set STARTWELL_MOTO_SERVER)"
        );
        return;
    };
    let mut moto = Moto::start(program).await;
    let tp = moto.project(BUCKET, 0, 0).await;
    let port = free_port();
    let child = Spawned::start(
        &tp,
        &["serve", "--listen", &format!("127.0.0.1:{port}")],
        &moto.env(),
    );
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let url = format!("http://127.0.0.1:{port}{path}");
        let http = http.clone();
        async move {
            let r = http.get(url).send().await.ok()?;
            Some((r.status().as_u16(), r.text().await.ok()?))
        }
    };
    let (status, body) = wait_for("serve to answer", async || get("/readyz").await).await;
    assert_eq!(status, 200, "{body}");

    // The store goes away.
    let _ = moto.child.kill();
    let _ = moto.child.wait();
    let (status, body) = get("/readyz").await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("\"ready\":false") && body.contains("reason"),
        "{body}"
    );
    assert!(!body.contains(SECRET), "{body}");
    assert_eq!(get("/healthz").await.map(|r| r.0), Some(200));
    child.sigterm();
    let (code, _, err) = child.finish();
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(SECRET), "the secret key leaked into the log");
}

/// A run killed (SIGKILL) after its first Delta commit on S3, then `run` again:
/// the lake is the same as an uninterrupted run's in another bucket.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_mid_ingest_on_s3_is_completed_by_the_next() {
    let Some(program) = moto_program() else {
        eprintln!("SKIPPED a_run_killed_mid_ingest_on_s3_is_completed_by_the_next: no moto_server");
        return;
    };
    let moto = Moto::start(program).await;
    let env = moto.env();
    let whole = moto.project("startwell-whole", 150, 2).await;
    let (code, _, err) = Spawned::start(&whole, &["run", "--no-scorecard"], &env).finish();
    assert_eq!(code, 0, "{err}");

    let killed = moto.project("startwell-killed", 150, 2).await;
    // A short lease, so the next run may take over the killed run's soon.
    let manifest = killed.path().join("startwell.toml");
    let toml = std::fs::read_to_string(&manifest).unwrap();
    let short = toml
        .replace("lease_ttl_seconds = 300", "lease_ttl_seconds = 10")
        .replace("lease_renew_seconds = 60", "lease_renew_seconds = 5");
    assert_ne!(short, toml);
    std::fs::write(&manifest, short).unwrap();
    let store = moto.store("startwell-killed");
    let child = Spawned::start(&killed, &["run", "--no-scorecard"], &env);
    let mut committed = false;
    for _ in 0..1500 {
        if !keys(&store, "data/lake/dwp_2yo/_delta_log").await.is_empty() {
            committed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    if !committed {
        let (code, out, err) = child.finish();
        panic!("no commit seen; the run exited {code}:\n{out}\n{err}");
    }
    child.sigkill();
    // The killed run's lease (10 s) runs out; then the next run takes over.
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let (code, _, err) = Spawned::start(&killed, &["run", "--no-scorecard"], &env).finish();
    assert_eq!(code, 0, "{err}");
    let (a, b) = (moto.storage("startwell-whole"), moto.storage("startwell-killed"));
    for t in crate::common::TABLES {
        assert_eq!(
            crate::common::table_lines(&a, t).await,
            crate::common::table_lines(&b, t).await,
            "{t}"
        );
    }
}
