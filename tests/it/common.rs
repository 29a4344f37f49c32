//! Helpers: a throw-away copy of the shipped project with generated data.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use startwell::config::{Project, load_project};
use startwell::pseudo::PseudoKey;
use startwell::run::{RunOptions, RunRecord, run};
use startwell::storage::Storage;

pub const TEST_KEY: &str = "integration-test-key-0123456789";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run options that compute the scorecard even when nothing changed.
pub fn forced() -> RunOptions {
    RunOptions {
        force_scorecard: true,
        ..RunOptions::default()
    }
}

/// A temporary project: the shipped configuration, storage root `data/` inside it.
pub struct TestProject {
    pub dir: tempfile::TempDir,
}

impl TestProject {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        startwell::config::copy_project(&repo(), dir.path()).unwrap();
        TestProject { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn landing(&self) -> PathBuf {
        self.path().join("data").join("landing")
    }

    pub fn generate(&self, children: u32, years: u32) {
        startwell::generate::generate(
            &self.landing(),
            &startwell::generate::Options {
                children,
                years,
                seed: 42,
            },
        )
        .unwrap();
    }

    pub fn project(&self) -> Project {
        load_project(self.path()).unwrap()
    }

    pub fn storage(&self) -> Storage {
        let p = self.project();
        Storage::open(&p.dir, &p.storage_root).unwrap()
    }

    pub async fn run(&self, opts: RunOptions) -> startwell::error::Result<RunRecord> {
        let p = self.project();
        let s = Storage::open(&p.dir, &p.storage_root).unwrap();
        run(&p, &s, PseudoKey::new(TEST_KEY.as_bytes()).unwrap(), &opts).await
    }

    /// Run the real binary; returns (exit code, stdout, stderr).
    pub fn run_binary(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_startwell"))
            .arg("--project")
            .arg(self.path())
            .args(args)
            .env("STARTWELL_HMAC_KEY", TEST_KEY)
            .env_remove("STARTWELL_HMAC_KEY_FILE")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// The real binary running in the background. Its output goes to files, not
/// pipes, so a chatty process can never block on a full pipe.
pub struct Spawned {
    pub child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Spawned {
    /// Start `startwell --project <tp> <args>` with the test key and no webhook.
    pub fn start(tp: &TestProject, args: &[&str], envs: &[(&str, String)]) -> Spawned {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out = tp.path().join(format!("spawned-{n}.out"));
        let err = tp.path().join(format!("spawned-{n}.err"));
        let mut c = Command::new(env!("CARGO_BIN_EXE_startwell"));
        c.arg("--project")
            .arg(tp.path())
            .args(args)
            .env("STARTWELL_HMAC_KEY", TEST_KEY)
            .env_remove("STARTWELL_HMAC_KEY_FILE")
            .env_remove("STARTWELL_WEBHOOK_URL")
            .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&err).unwrap()));
        for (k, v) in envs {
            c.env(k, v);
        }
        Spawned {
            child: c.spawn().unwrap(),
            out,
            err,
        }
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    pub fn sigterm(&self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    pub fn sigkill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Wait for it: (exit code, stdout, stderr).
    pub fn finish(mut self) -> (i32, String, String) {
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        (
            code,
            std::fs::read_to_string(&self.out).unwrap_or_default(),
            std::fs::read_to_string(&self.err).unwrap_or_default(),
        )
    }
}

/// The rows of a lake table as sorted text lines, without the run id (for comparing lakes).
pub async fn table_lines(storage: &Storage, table: &str) -> Vec<String> {
    let batches: Vec<RecordBatch> = startwell::lake::query_table(storage, table, "SELECT * FROM t")
        .await
        .unwrap();
    let mut lines = Vec::new();
    for b in batches {
        let keep: Vec<usize> = (0..b.num_columns())
            .filter(|i| b.schema().field(*i).name() != "ingest_run_id")
            .collect();
        let b = b.project(&keep).unwrap();
        for r in 0..b.num_rows() {
            let one = b.slice(r, 1);
            let text = pretty_format_batches(&[one]).unwrap().to_string();
            lines.push(text.lines().nth(3).unwrap_or("").to_string());
        }
    }
    lines.sort();
    lines
}

/// Every curated table's rows (see [`table_lines`]), in [`TABLES`] order: the lake, for comparing.
pub async fn lake_lines(storage: &Storage) -> Vec<Vec<String>> {
    futures::future::join_all(TABLES.iter().map(|t| table_lines(storage, t))).await
}

pub async fn count(storage: &Storage, table: &str, filter: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM t {filter}");
    let b = startwell::lake::query_table(storage, table, &sql).await.unwrap();
    if b.is_empty() {
        return 0;
    }
    b[0].column(0)
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .unwrap()
        .value(0)
}

pub const TABLES: &[&str] = &[
    "eyfsp",
    "hv_contacts",
    "dwp_2yo",
    "ey_headcount",
    "benchmark_eyfsp",
    "benchmark_early_years_provision",
];

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Poll `f` every 200 ms until it gives a value (at most 5 minutes).
pub async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(300),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Chromium (`STARTWELL_CHROMIUM`, else `chromium` on PATH) and a Python with
/// websocket-client (`STARTWELL_BROWSER_PYTHON`, else `python3`).
pub fn browser() -> Result<(std::path::PathBuf, std::path::PathBuf), String> {
    let on_path = |name: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    };
    let chromium = std::env::var_os("STARTWELL_CHROMIUM")
        .map(Into::into)
        .or_else(|| on_path("chromium"))
        .ok_or("no chromium (apt-get install chromium, or set STARTWELL_CHROMIUM)")?;
    let python = std::env::var_os("STARTWELL_BROWSER_PYTHON")
        .map(Into::into)
        .or_else(|| on_path("python3"))
        .ok_or("no python3")?;
    let ok = std::process::Command::new(&python)
        .args(["-c", "import websocket"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(format!(
            "{} has no websocket-client (pip install websocket-client, or set STARTWELL_BROWSER_PYTHON)",
            python.display()
        ));
    }
    Ok((chromium, python))
}

/// Render `page` with `tests/browser/render.py` into `shots`; its report.json.
pub fn render_in_browser(page: &Path, shots: &Path) -> Option<serde_json::Value> {
    let (chromium, python) = match browser() {
        Ok(b) => b,
        Err(why) => {
            eprintln!("SKIPPED {} in a browser: {why}", page.display());
            return None;
        }
    };
    let _ = std::fs::remove_dir_all(shots);
    let out = Command::new(&python)
        .arg(repo().join("tests/browser/render.py"))
        .arg(&chromium)
        .arg(page)
        .arg(shots)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "render.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("screenshots of {}: {}", page.display(), shots.display());
    Some(serde_json::from_slice(&std::fs::read(shots.join("report.json")).unwrap()).unwrap())
}

/// Two `run`s started at once with `env`; (exit code, stdout, stderr) of each.
/// Exactly one may work: the other must exit with the lease held.
pub fn two_concurrent_runs(tp: &TestProject, env: &[(&str, String)]) -> [(i32, String, String); 2] {
    let a = Spawned::start(tp, &["run"], env);
    let b = Spawned::start(tp, &["run"], env);
    let (ra, rb) = (a.finish(), b.finish());
    let mut codes = [ra.0, rb.0];
    codes.sort();
    assert_eq!(
        codes,
        [0, startwell::error::exit_code::LEASE_HELD],
        "a: {ra:?}\nb: {rb:?}"
    );
    [ra, rb]
}
