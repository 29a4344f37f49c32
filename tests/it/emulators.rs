//! The whole job against a real S3 API: `moto` in server mode (`.ci/run` installs
//! it; `STARTWELL_MOTO_SERVER` names the program, else `moto_server` on PATH).
//! Skipped, saying so, only when it cannot be found.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::common::{Spawned, TestProject};

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
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto { child, port };
        let http = reqwest::Client::new();
        for _ in 0..150 {
            if http.get(moto.url()).send().await.is_ok() {
                return moto;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("moto did not start on port {port}");
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

    fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::new(
            object_store::aws::AmazonS3Builder::new()
                .with_endpoint(self.url())
                .with_allow_http(true)
                .with_access_key_id("startwell-it-access")
                .with_secret_access_key(SECRET)
                .with_region("us-east-1")
                .with_bucket_name(BUCKET)
                .build()
                .unwrap(),
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
    reqwest::Client::new()
        .put(format!("{}/{BUCKET}", moto.url()))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let tp = TestProject::new();
    let manifest = tp.path().join("startwell.toml");
    let toml = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        toml.replace("root = \"data\"", &format!("root = \"s3://{BUCKET}/data\"")),
    )
    .unwrap();
    tp.generate(150, 2);
    let store = moto.store();
    let landing = tp.landing();
    let mut stack = vec![landing.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(&landing).unwrap().to_string_lossy().to_string();
            let bytes = std::fs::read(&p).unwrap();
            store
                .put(&ObjPath::from(format!("data/landing/{rel}")), bytes.into())
                .await
                .unwrap();
        }
    }
    std::fs::remove_dir_all(&landing).unwrap();

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
