//! The whole job against real object-store APIs: S3 on `moto` in server mode and
//! Azure Blob on `azurite` (`.ci/run` installs both; `STARTWELL_MOTO_SERVER` and
//! `STARTWELL_AZURITE` name the programs, else `moto_server` / `azurite-blob` on
//! PATH). Each test runs once per store, and is skipped, saying so, only when
//! that store's emulator cannot be found.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use base64::Engine as _;
use futures::TryStreamExt;
use hmac::{Hmac, Mac};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::common::{Spawned, TestProject, free_port, wait_for};

const BUCKET: &str = "startwell-it";
/// The S3 secret key, and the Azure account key's text (its base64 is the key).
const SECRET: &str = "startwell-it-SECRET-do-not-log";
const AZURE_ACCOUNT: &str = "startwellit";

fn azure_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(SECRET)
}

/// Whether a text quotes either store's secret.
fn has_secret(text: &str) -> bool {
    text.contains(SECRET) || text.contains(&azure_key())
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    S3,
    Azure,
}

impl Kind {
    fn program(self) -> Option<PathBuf> {
        let (var, name) = match self {
            Kind::S3 => ("STARTWELL_MOTO_SERVER", "moto_server"),
            Kind::Azure => ("STARTWELL_AZURITE", "azurite-blob"),
        };
        if let Some(p) = std::env::var_os(var) {
            return Some(PathBuf::from(p));
        }
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    }

    fn scheme(self) -> &'static str {
        match self {
            Kind::S3 => "s3",
            Kind::Azure => "az",
        }
    }
}

/// An emulator on a free port, stopped when dropped.
struct Emulator {
    kind: Kind,
    child: Child,
    port: u16,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emulator {
    /// Start `kind`'s emulator, or say why the test is skipped and give `None`.
    async fn start(kind: Kind, test: &str) -> Option<Emulator> {
        let Some(program) = kind.program() else {
            eprintln!(
                "SKIPPED {test} on {kind:?}: no emulator (S3: pip install 'moto[server]' or set \
                 STARTWELL_MOTO_SERVER; Azure: npm install azurite or set STARTWELL_AZURITE)"
            );
            return None;
        };
        let port = free_port();
        let mut cmd = Command::new(program);
        match kind {
            Kind::S3 => {
                cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            }
            Kind::Azure => {
                cmd.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                    .args(["--inMemoryPersistence", "--silent", "--skipApiVersionCheck"])
                    .env("AZURITE_ACCOUNTS", format!("{AZURE_ACCOUNT}:{}", azure_key()));
            }
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let emulator = Emulator { kind, child, port };
        let http = reqwest::Client::new();
        let url = emulator.url();
        wait_for("the emulator to answer", async || {
            http.get(&url).send().await.ok()
        })
        .await;
        Some(emulator)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a startwell process needs to reach it, as an operator sets it.
    fn env(&self) -> Vec<(&'static str, String)> {
        match self.kind {
            Kind::S3 => vec![
                ("AWS_ENDPOINT_URL", self.url()),
                ("AWS_ALLOW_HTTP", "true".into()),
                ("AWS_ACCESS_KEY_ID", "startwell-it-access".into()),
                ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
                ("AWS_REGION", "us-east-1".into()),
            ],
            Kind::Azure => vec![
                ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
                ("AZURITE_BLOB_STORAGE_URL", self.url()),
                ("AZURE_STORAGE_ACCOUNT_NAME", AZURE_ACCOUNT.into()),
                ("AZURE_STORAGE_ACCOUNT_KEY", azure_key()),
            ],
        }
    }

    fn store(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        match self.kind {
            Kind::S3 => Arc::new(
                object_store::aws::AmazonS3Builder::new()
                    .with_endpoint(self.url())
                    .with_allow_http(true)
                    .with_access_key_id("startwell-it-access")
                    .with_secret_access_key(SECRET)
                    .with_region("us-east-1")
                    .with_bucket_name(bucket)
                    .build()
                    .unwrap(),
            ),
            // The emulator's path-style addressing, without reading this process's environment.
            Kind::Azure => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::new()
                    .with_endpoint(format!("{}/{AZURE_ACCOUNT}", self.url()))
                    .with_allow_http(true)
                    .with_account(AZURE_ACCOUNT)
                    .with_access_key(azure_key())
                    .with_container_name(bucket)
                    .build()
                    .unwrap(),
            ),
        }
    }

    /// Create a bucket (S3) or container (Azure; object_store cannot, so a
    /// Shared Key signed request as the Blob REST API documents it).
    async fn create_bucket(&self, bucket: &str) {
        let http = reqwest::Client::new();
        let request = match self.kind {
            Kind::S3 => http.put(format!("{}/{bucket}", self.url())),
            Kind::Azure => {
                let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
                let version = "2021-08-06";
                let to_sign = format!(
                    "PUT{}x-ms-date:{date}\nx-ms-version:{version}\n/{AZURE_ACCOUNT}/{AZURE_ACCOUNT}/{bucket}\nrestype:container",
                    "\n".repeat(12)
                );
                let key = base64::engine::general_purpose::STANDARD
                    .decode(azure_key())
                    .unwrap();
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
                mac.update(to_sign.as_bytes());
                let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
                http.put(format!(
                    "{}/{AZURE_ACCOUNT}/{bucket}?restype=container",
                    self.url()
                ))
                .header("x-ms-date", date)
                .header("x-ms-version", version)
                .header("content-length", "0")
                .header("authorization", format!("SharedKey {AZURE_ACCOUNT}:{signature}"))
            }
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        assert!(
            status.is_success(),
            "creating {bucket}: {status} {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// A project stored in a new bucket, with generated extracts uploaded to its
    /// landing zone in delivery order (none when `children` is 0).
    async fn project(&self, bucket: &str, children: u32, years: u32) -> TestProject {
        self.create_bucket(bucket).await;
        let tp = TestProject::new();
        let manifest = tp.path().join("startwell.toml");
        let toml = std::fs::read_to_string(&manifest).unwrap();
        let root = format!("root = \"{}://{bucket}/data\"", self.kind.scheme());
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
            url::Url::parse(&format!("{}://{bucket}/data/", self.kind.scheme())).unwrap(),
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

/// Ingest, quarantine, scorecard, outputs and run records on the store; the run lease
/// (put-if-absent) lets exactly one of two concurrent runs work; the secret key
/// never appears in output or records.
async fn the_job_runs_whole(kind: Kind) {
    let Some(emu) = Emulator::start(kind, "the_job_runs_whole").await else {
        return;
    };
    let tp = emu.project(BUCKET, 150, 2).await;
    let store = emu.store(BUCKET);

    let env = emu.env();
    let [ra, rb] = crate::common::two_concurrent_runs(&tp, &env);
    for (_, out, err) in [&ra, &rb] {
        assert!(!has_secret(out) && !has_secret(err), "the secret key leaked");
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
        record.contains("\"status\": \"succeeded\"") && !has_secret(&record),
        "{record}"
    );

    // Nothing new: the next run changes nothing and releases the lease again.
    let (code, out, err) = Spawned::start(&tp, &["run"], &env).finish();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no changes"), "{out}");
}

/// `serve` on an object store: `/readyz` is ready while the store answers and says why not
/// when it stops answering; `/healthz` stays up.
async fn readyz_follows_the_store(kind: Kind) {
    let Some(mut emu) = Emulator::start(kind, "readyz_follows_the_store").await else {
        return;
    };
    let tp = emu.project(BUCKET, 0, 0).await;
    let port = free_port();
    let child = Spawned::start(
        &tp,
        &["serve", "--listen", &format!("127.0.0.1:{port}")],
        &emu.env(),
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
    let _ = emu.child.kill();
    let _ = emu.child.wait();
    let (status, body) = get("/readyz").await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("\"ready\":false") && body.contains("reason"),
        "{body}"
    );
    assert!(!has_secret(&body), "{body}");
    assert_eq!(get("/healthz").await.map(|r| r.0), Some(200));
    child.sigterm();
    let (code, _, err) = child.finish();
    assert_eq!(code, 0, "{err}");
    assert!(!has_secret(&err), "the secret key leaked into the log");
}

/// A run killed (SIGKILL) after its first Delta commit on the store, then `run` again:
/// the lake is the same as an uninterrupted run's in another bucket.
async fn a_run_killed_mid_ingest_is_completed_by_the_next(kind: Kind) {
    let Some(emu) = Emulator::start(kind, "a_run_killed_mid_ingest_is_completed_by_the_next").await else {
        return;
    };
    let env = emu.env();
    let whole = emu.project("startwell-whole", 150, 2).await;
    let (code, _, err) = Spawned::start(&whole, &["run", "--no-scorecard"], &env).finish();
    assert_eq!(code, 0, "{err}");

    let killed = emu.project("startwell-killed", 150, 2).await;
    // A short lease, so the next run may take over the killed run's soon.
    let manifest = killed.path().join("startwell.toml");
    let toml = std::fs::read_to_string(&manifest).unwrap();
    let short = toml
        .replace("lease_ttl_seconds = 300", "lease_ttl_seconds = 10")
        .replace("lease_renew_seconds = 60", "lease_renew_seconds = 5");
    assert_ne!(short, toml);
    std::fs::write(&manifest, short).unwrap();
    let store = emu.store("startwell-killed");
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
    let (a, b) = (emu.storage("startwell-whole"), emu.storage("startwell-killed"));
    for t in crate::common::TABLES {
        assert_eq!(
            crate::common::table_lines(&a, t).await,
            crate::common::table_lines(&b, t).await,
            "{t}"
        );
    }
}

macro_rules! on_each_store {
    ($($test:ident),* $(,)?) => {
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $test() {
                    super::$test(super::Kind::S3).await
                }
            )*
        }
        mod azure {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $test() {
                    super::$test(super::Kind::Azure).await
                }
            )*
        }
    };
}

on_each_store!(
    the_job_runs_whole,
    readyz_follows_the_store,
    a_run_killed_mid_ingest_is_completed_by_the_next,
);
