//! The data engineer's tools: `startwell sql` over the lake and the published
//! outputs (formats, time travel, errors that say what exists), and what the
//! lake promises the readers analysts use.

use std::path::Path;

use startwell::run::RunOptions;

use crate::common::{TABLES, TestProject, count};

fn csv_number(out: &str) -> i64 {
    let mut lines = out.lines();
    lines.next().expect("a header");
    lines.next().expect("a row").trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_reads_the_lake_the_outputs_and_earlier_versions() {
    let tp = TestProject::new();
    tp.generate(100, 2);
    tp.run(RunOptions::default()).await.unwrap();
    let storage = tp.storage();

    // A lake table: the same count as reading the Delta table directly.
    let (code, out, err) = tp.run_binary(&["sql", "SELECT count(*) AS n FROM eyfsp", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let latest = csv_number(&out);
    assert_eq!(latest, count(&storage, "eyfsp", "").await);
    assert!(latest > 0);

    // Time travel: the first commit of eyfsp (one delivery) holds fewer rows.
    let (code, out, err) = tp.run_binary(&[
        "sql",
        "SELECT count(*) AS n FROM eyfsp",
        "--format",
        "csv",
        "--as-of",
        "0",
    ]);
    assert_eq!(code, 0, "{err}");
    let first = csv_number(&out);
    assert!(0 < first && first < latest, "version 0 {first}, latest {latest}");

    // A published output, with a startwell function, as JSON lines.
    let (code, out, err) = tp.run_binary(&[
        "sql",
        "SELECT indicator_id, round(wilson_lower(numerator, denominator, z95()), 6) AS l, round(lower_95, 6) AS p \
         FROM outputs_scorecard WHERE indicator_id = 'sr_gld' AND numerator IS NOT NULL AND area_type = 'local_authority' \
         ORDER BY period",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert_eq!(l["l"], l["p"], "the function gives the published interval: {l}");
    }

    // Parquet to a file, read back.
    let file = tp.path().join("ledger.parquet");
    let (code, _, err) = tp.run_binary(&[
        "sql",
        "SELECT source, file, rows_accepted FROM ingest_ledger",
        "--format",
        "parquet",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("row(s) written to"), "{err}");
    let reader =
        datafusion::parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&file).unwrap())
            .unwrap();
    use datafusion::parquet::file::reader::FileReader;
    assert_eq!(
        reader.metadata().file_metadata().num_rows(),
        count(&storage, "ingest_ledger", "").await
    );

    // Mistakes say what exists, and exit 2.
    let (code, _, err) = tp.run_binary(&["sql", "SELECT * FROM eyfsp_typo"]);
    assert_eq!(code, 2, "{err}");
    for t in TABLES.iter().chain(&["outputs_scorecard", "ingest_ledger"]) {
        assert!(err.contains(t), "the tables are listed: {err}");
    }
    let (code, _, err) = tp.run_binary(&["sql", "SELECT perod FROM eyfsp"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("period"), "the columns are listed: {err}");
    let (code, _, err) = tp.run_binary(&["sql", "SELECT 1", "--as-of", "last week"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--as-of"), "{err}");
    let (code, _, err) = tp.run_binary(&["sql", "SELECT 1", "--format", "parquet"]);
    assert_eq!(code, 2, "{err}");
}

/// Every Delta table is at reader version 1 / writer version 2 with no table
/// features, has no `timestamp_ntz` column, and keeps dates as `date`: what
/// Power BI's DeltaLake.Table, DuckDB, pandas and Polars all read.
#[tokio::test(flavor = "multi_thread")]
async fn the_lake_keeps_to_what_every_reader_reads() {
    let tp = TestProject::new();
    tp.generate(60, 1);
    tp.run(RunOptions::default()).await.unwrap();
    let lake = tp.path().join("data/lake");
    let mut tables = 0;
    for dir in std::fs::read_dir(&lake).unwrap().flatten() {
        let log = dir.path().join("_delta_log");
        let mut protocols = Vec::new();
        let mut schemas = Vec::new();
        for f in std::fs::read_dir(&log).unwrap().flatten() {
            if f.path().extension().is_none_or(|e| e != "json") {
                continue;
            }
            for line in std::fs::read_to_string(f.path()).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                if let Some(p) = v.get("protocol") {
                    protocols.push(p.clone());
                }
                if let Some(s) = v.get("metaData").and_then(|m| m.get("schemaString")) {
                    schemas.push(s.as_str().unwrap().to_string());
                }
            }
        }
        let name = dir.file_name().to_string_lossy().to_string();
        assert!(!protocols.is_empty(), "{name}: no protocol");
        for p in &protocols {
            assert_eq!(p["minReaderVersion"], 1, "{name}: {p}");
            assert_eq!(p["minWriterVersion"], 2, "{name}: {p}");
            assert!(
                p.get("readerFeatures").is_none() && p.get("writerFeatures").is_none(),
                "{name}: {p}"
            );
        }
        for s in &schemas {
            assert!(!s.contains("timestamp_ntz"), "{name}: {s}");
            let schema: serde_json::Value = serde_json::from_str(s).unwrap();
            for field in schema["fields"].as_array().unwrap() {
                let fname = field["name"].as_str().unwrap();
                if fname.ends_with("_date") || fname == "period_start" || fname == "period_end" {
                    assert_eq!(field["type"], "date", "{name}.{fname}");
                }
            }
        }
        tables += 1;
    }
    assert!(tables >= 10, "{tables} tables");
    readers_read(tp.path());
}

/// DuckDB, pandas and pyarrow (from PyPI; `.ci/run` installs them into the test
/// venv, `STARTWELL_BROWSER_PYTHON`) run README's Python snippet as written,
/// and read a Delta table's files as a reader without Delta support would.
fn readers_read(project: &Path) {
    let python = std::env::var_os("STARTWELL_BROWSER_PYTHON").unwrap_or_else(|| "python3".into());
    let has = std::process::Command::new(&python)
        .args(["-c", "import duckdb, pandas, pyarrow"])
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        eprintln!(
            "SKIPPED the readers check: no duckdb, pandas and pyarrow for {python:?} (pip install duckdb pandas pyarrow)"
        );
        return;
    }
    let readme = std::fs::read_to_string(crate::common::repo().join("README.md")).unwrap();
    let section = &readme[readme.find("### Reading them from other tools").unwrap()..];
    let snippet = &section[section.find("```python\n").unwrap() + 10..];
    let snippet = &snippet[..snippet.find("```").unwrap()];
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(snippet)
        .current_dir(project)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "README's snippet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("indicators") && stdout.contains("period"),
        "{stdout}"
    );

    let script = r#"
import json, os, sys, duckdb
root = sys.argv[1]
log = os.path.join(root, "lake", "eyfsp", "_delta_log")
files = set()
for f in sorted(os.listdir(log)):
    if f.endswith(".json"):
        for line in open(os.path.join(log, f)):
            a = json.loads(line)
            if "add" in a: files.add(a["add"]["path"])
            if "remove" in a: files.discard(a["remove"]["path"])
paths = [os.path.join(root, "lake", "eyfsp", p) for p in sorted(files)]
rows = duckdb.sql("SELECT count(*) FROM read_parquet(?)", params=[paths]).fetchone()[0]
print(json.dumps({"eyfsp": rows}))
"#;
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(project.join("data"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["eyfsp"].as_i64().unwrap() > 0, "{v}");
}

/// `plan` before a run: every file new, with the counts `run` then gets, and
/// nothing written; after it: already ingested; a partner's file checked as it
/// arrives: a new column reported, rejected rows by reason and line (never a
/// value), what its period would replace, and exit 1 when it would be refused.
#[tokio::test(flavor = "multi_thread")]
async fn plan_says_what_run_would_do_and_writes_nothing() {
    let tp = TestProject::new();
    tp.generate(100, 2);
    let (code, out, err) = tp.run_binary(&["plan", "--source", "eyfsp", "--json"]);
    assert_eq!(code, 0, "{err}");
    let plans: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert!(!plans.is_empty());
    assert!(plans.iter().all(|p| p["state"] == "new"), "{out}");
    let lake = tp.path().join("data/lake");
    assert!(!lake.join("eyfsp").exists(), "plan wrote to the lake");
    assert!(
        !tp.path().join("data/quarantine").exists(),
        "plan wrote to quarantine"
    );

    // The counts are the ones `run` gets.
    tp.run(RunOptions::default()).await.unwrap();
    let ledger = startwell::lake::read_ledger(&tp.storage()).await.unwrap();
    for p in &plans {
        let e = ledger
            .iter()
            .find(|e| e.source == "eyfsp" && e.file == p["file"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{p} not in the ledger"));
        assert_eq!(p["rows_accepted"].as_i64().unwrap(), e.rows_accepted, "{p}");
        assert_eq!(p["rows_rejected"].as_i64().unwrap(), e.rows_rejected, "{p}");
    }
    let (code, out, err) = tp.run_binary(&["plan", "--source", "eyfsp"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("eyfsp_2024-25.csv: already ingested"), "{out}");

    // A partner's corrected file: one row fewer, a new column, one bad row.
    let delivered = first_file(&tp.landing().join("eyfsp"));
    let name = delivered.file_name().unwrap().to_str().unwrap().to_string();
    let period = name
        .trim_start_matches("eyfsp_")
        .trim_end_matches(".csv")
        .to_string();
    let original = std::fs::read_to_string(&delivered).unwrap();
    let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
    lines[0].push_str(",Notes");
    for l in lines.iter_mut().skip(1) {
        l.push_str(",x");
    }
    let bad_upn = lines[2].split(',').next().unwrap().to_string();
    lines[2] = lines[2].replacen(&bad_upn, "NOT-A-UPN", 1);
    lines.pop();
    let arrived = tp.path().join(&name);
    std::fs::write(&arrived, lines.join("\n") + "\n").unwrap();
    let (code, out, err) = tp.run_binary(&["plan", arrived.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&format!("{name}: changed")), "{out}");
    assert!(
        out.contains("not in the schema (ignored until configured): Notes"),
        "{out}"
    );
    assert!(
        out.contains(&format!("replaces period {period} of `eyfsp`")),
        "{out}"
    );
    let now = ledger
        .iter()
        .find(|e| e.source == "eyfsp" && e.file == name)
        .unwrap()
        .rows_accepted;
    assert!(
        out.contains(&format!("{now} row(s) now")),
        "the rows it replaces: {out}"
    );
    assert!(out.contains("(lines 3)"), "the bad row's line: {out}");
    assert!(
        !out.contains("NOT-A-UPN") && !out.contains(&bad_upn),
        "no identifier value: {out}"
    );

    // A file that would be refused: exit 1, and it says why.
    let broken: Vec<String> = original
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                l.replacen(',', ",X", 1)
            }
        })
        .collect();
    let refused = tp.path().join("refused").join(&name);
    std::fs::create_dir_all(refused.parent().unwrap()).unwrap();
    std::fs::write(&refused, broken.join("\n") + "\n").unwrap();
    let (code, out, err) = tp.run_binary(&["plan", refused.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("WOULD BE REFUSED"), "{out}");
    assert!(err.contains("1 file(s) would be refused"), "{err}");
    // Still nothing written.
    assert_eq!(
        startwell::lake::read_ledger(&tp.storage()).await.unwrap().len(),
        ledger.len()
    );

    // A public file cut short would replace its whole table: refused, as `run` would.
    let bench = tp
        .landing()
        .join("benchmark_eyfsp/eyfsp_headline_measures_by_characteristics.csv");
    let full = std::fs::read_to_string(&bench).unwrap();
    let cut: Vec<&str> = full.lines().take(11).collect();
    let short = tp
        .path()
        .join("cut")
        .join("eyfsp_headline_measures_by_characteristics.csv");
    std::fs::create_dir_all(short.parent().unwrap()).unwrap();
    std::fs::write(&short, cut.join("\n") + "\n").unwrap();
    let (code, out, err) = tp.run_binary(&["plan", "--source", "benchmark_eyfsp", short.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("fewer than the") && out.contains("an incomplete download?"),
        "{out}"
    );

    // Delivered for real, the new column is ingested around and said in the run.
    std::fs::copy(&arrived, &delivered).unwrap();
    let record = tp.run(RunOptions::default()).await.unwrap();
    let report = record
        .files
        .iter()
        .find(|f| f.file == name)
        .expect("the corrected file is read");
    assert!(
        report
            .message
            .contains("not in the schema, ignored until configured")
            && report.message.contains("Notes"),
        "{}",
        report.message
    );
}

/// The files of a folder, sorted by name.
fn sorted_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// The first file (by name) that is UTF-8 text (some generated files are Windows-1252).
fn first_file(dir: &Path) -> std::path::PathBuf {
    sorted_files(dir)
        .into_iter()
        .find(|p| std::fs::read_to_string(p).is_ok())
        .expect("a UTF-8 file")
}

/// `docs`: one page with every source, lake table (with its history from the
/// Delta log) and indicator (with the tables and columns it reads), every
/// internal link resolving, no value from a partner's file, and in a real
/// browser no console error, no request and no sideways scrolling.
#[tokio::test(flavor = "multi_thread")]
async fn docs_document_the_project_and_links_resolve() {
    let tp = TestProject::new();
    tp.generate(60, 2);
    tp.run(RunOptions::default()).await.unwrap();
    let out = tp.path().join("site");
    let (code, stdout, err) = tp.run_binary(&["docs", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("index.html"), "{stdout}");
    let page = out.join("index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"));

    let ids: std::collections::BTreeSet<String> = regex::Regex::new(r#"id="([^"]+)""#)
        .unwrap()
        .captures_iter(&html)
        .map(|c| c[1].to_string())
        .collect();
    for link in regex::Regex::new(r##"href="#([^"]+)""##)
        .unwrap()
        .captures_iter(&html)
    {
        assert!(ids.contains(&link[1]), "the link #{} goes nowhere", &link[1]);
    }
    let project = tp.project();
    for s in &project.plan.sources {
        assert!(ids.contains(&format!("source-{}", s.name)), "{}", s.name);
    }
    for t in tp.storage().lake_tables().await.unwrap() {
        assert!(ids.contains(&format!("table-{t}")), "{t}");
    }
    let catalogue = startwell::indicators::lineage(&project).await.unwrap();
    for l in &catalogue {
        assert!(
            ids.contains(&format!("indicator-{}", l.indicator)),
            "{}",
            l.indicator
        );
    }
    // Lineage: GLD reads the EYFSP table's ELG columns; the history names the files.
    let gld = catalogue.iter().find(|l| l.indicator == "sr_gld").unwrap();
    let eyfsp = gld
        .reads
        .iter()
        .find(|(t, _)| t == "eyfsp")
        .expect("sr_gld reads eyfsp");
    assert!(eyfsp.1.iter().any(|c| c == "elg_speaking"), "{eyfsp:?}");
    let delivered = first_file(&tp.landing().join("eyfsp"));
    let name = delivered.file_name().unwrap().to_str().unwrap();
    assert!(html.contains(name), "the table history names {name}");
    // No value from the partner's file: the first child's UPN and name.
    let original = std::fs::read_to_string(&delivered).unwrap();
    let first_row: Vec<&str> = original.lines().nth(1).unwrap().split(',').collect();
    for v in &first_row[..4] {
        assert!(!html.contains(v), "a value from the file: {v}");
    }

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("docs");
    if let Some(report) = crate::common::render_in_browser(&page, &shots) {
        assert_eq!(report["console_errors"], serde_json::json!([]));
        assert_eq!(report["requests"], serde_json::json!([]));
        assert_eq!(report["overflow"]["desktop"], false, "{report}");
        assert_eq!(
            report["overflow"]["phone"],
            false,
            "{:?}",
            report.get("overflowing")
        );
    }
}

/// The walkthrough of README's "Adding a source": a partner's messy sample
/// (title rows, semicolons, Windows-1252, UK dates, UPNs and postcodes) →
/// `infer` → `validate` → `plan` → `run` → `sql`, with no identifier value in
/// anything printed, and `infer` never overwriting without `--force`.
#[tokio::test(flavor = "multi_thread")]
async fn infer_drafts_a_source_that_validates_plans_and_runs() {
    let tp = TestProject::new();
    let sample = tp.path().join("Nursery Attendance_2024-25.csv");
    let (code, _, err) = tp.run_binary(&["generate", "--new-source-sample", sample.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = tp.run_binary(&["infer", sample.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("wrote") && out.contains("nursery_attendance.toml"),
        "{out}"
    );
    for said in [
        "header on row 3",
        "delimiter: `;`",
        "Windows-1252",
        "identifier: Upn",
        "identifier: Nhs",
        "identifier: Postcode",
        "identifier: Forename",
        "identifier: Dob",
        "child key `nhs_key`",
        "(academic_year)",
        "`Hours` → funded_hours (decimal",
        "attended (boolean",
        "start_date (date",
        "`Setting Type` → provider_type (string, required, 3 code(s))",
    ] {
        assert!(out.contains(said), "the review says {said:?}:\n{out}");
    }
    for value in ["4018", "Zo", "Brien", "NB1 1AA", "99926"] {
        assert!(!out.contains(value), "a value printed: {value}\n{out}");
    }
    let pipeline = std::fs::read_to_string(tp.path().join("pipelines/nursery_attendance.toml")).unwrap();
    assert!(
        pipeline.contains("check = \"upn\"") && pipeline.contains("check = \"nhs_number\""),
        "{pipeline}"
    );
    assert!(
        pipeline.contains("header_row = 3") && pipeline.contains("delimiter = \";\""),
        "{pipeline}"
    );
    assert!(pipeline.contains("\"%d-%b-%y\""), "{pipeline}");

    // Never over existing files without --force.
    let (code, _, err) = tp.run_binary(&["infer", sample.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--force"), "{err}");
    let (code, _, err) = tp.run_binary(&["infer", sample.to_str().unwrap(), "--force"]);
    assert_eq!(code, 0, "{err}");

    // README's walkthrough, each command exactly as written (`infer` again with --force).
    let readme = std::fs::read_to_string(crate::common::repo().join("README.md")).unwrap();
    let section = &readme[readme.find("## Adding a source").unwrap()..];
    let block = &section[section.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_startwell"), bin.path().join("startwell")).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for line in block.lines() {
        let command = line.split(" # ").next().unwrap().trim();
        if command.is_empty() || command.starts_with('#') {
            continue;
        }
        let command = if command.starts_with("startwell infer") {
            format!("{command} --force")
        } else {
            command.to_string()
        };
        let out = std::process::Command::new("bash")
            .args(["-c", &command])
            .current_dir(tp.path())
            .env("PATH", &path)
            .env("STARTWELL_HMAC_KEY", crate::common::TEST_KEY)
            .env_remove("STARTWELL_HMAC_KEY_FILE")
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "README: `{command}` failed:\n{stdout}\n{stderr}"
        );
        if command.starts_with("startwell plan") {
            assert!(
                stdout.contains("60 would be accepted, 0 rejected") && stdout.contains("would be ingested"),
                "{stdout}"
            );
        }
        ran += 1;
    }
    assert!(ran >= 7, "{ran} commands in README's walkthrough");
    let (code, out, err) = tp.run_binary(&[
        "sql",
        "SELECT count(*) AS n, count(DISTINCT nhs_key) AS children FROM nursery_attendance",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().nth(1), Some("60,60"), "{out}");
    // No identifier in the lake table.
    let (_, out, _) = tp.run_binary(&[
        "sql",
        "SELECT * FROM nursery_attendance LIMIT 1",
        "--format",
        "json",
    ]);
    for col in ["upn", "nhs_number", "forename", "surname", "dob", "postcode"] {
        assert!(
            !out.contains(&format!("\"{col}\"")),
            "{col} reached the lake: {out}"
        );
    }
}

/// Schema drift: a later delivery with a renamed required column and an added
/// one. `plan` refuses it naming the nearest header; `infer --update` proposes
/// the alias and the new column; the existing files are left as they are.
#[tokio::test(flavor = "multi_thread")]
async fn infer_update_proposes_what_a_drifted_delivery_needs() {
    let tp = TestProject::new();
    tp.generate(40, 1);
    let dir = tp.landing().join("dwp_2yo");
    let delivered = sorted_files(&dir).remove(0);
    let bytes = std::fs::read(&delivered).unwrap();
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect();
    lines[0] = lines[0].replace("Child Postcode", "Home Post Code") + ",Notes";
    for l in lines.iter_mut().skip(1) {
        l.push_str(",x");
    }
    let drifted = tp.path().join("dwp_2yo_2030-spring.csv");
    std::fs::write(&drifted, lines.join("\n") + "\n").unwrap();
    let before = std::fs::read_to_string(tp.path().join("pipelines/dwp_2yo.toml")).unwrap();

    let (code, out, err) = tp.run_binary(&["plan", "--source", "dwp_2yo", drifted.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("closest header present: `Home Post Code`"), "{out}");

    let (code, out, err) = tp.run_binary(&[
        "infer",
        drifted.to_str().unwrap(),
        "--name",
        "dwp_2yo",
        "--update",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("required column `postcode` is missing; `Home Post Code` looks like it"),
        "{out}"
    );
    assert!(
        out.contains("new column `Notes`") && out.contains("name = \"notes\""),
        "{out}"
    );
    assert!(
        !out.contains("new column `Home Post Code`"),
        "a rename is not a new column: {out}"
    );
    assert_eq!(
        std::fs::read_to_string(tp.path().join("pipelines/dwp_2yo.toml")).unwrap(),
        before,
        "--update proposes; it does not edit"
    );
}

/// `infer` on a workbook (the providers' headcount, with title rows and Excel
/// dates): the draft reads its sheet and validates, and `plan` accepts the file.
#[tokio::test(flavor = "multi_thread")]
async fn infer_reads_an_xlsx_sample() {
    let tp = TestProject::new();
    tp.generate(40, 1);
    let dir = tp.landing().join("ey_headcount");
    let v = sorted_files(&dir);
    let sample = tp.path().join("Provider Headcount_2030-spring.xlsx");
    std::fs::copy(&v[0], &sample).unwrap();
    let (code, out, err) = tp.run_binary(&["infer", sample.to_str().unwrap(), "--name", "headcount_copy"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("workbook: sheet `Headcount`") && out.contains("header on row 3"),
        "{out}"
    );
    assert!(
        out.contains("`Date of Birth` → dob (date, required, identifier: Dob"),
        "{out}"
    );
    let (code, out, err) = tp.run_binary(&["validate"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = tp.run_binary(&["plan", "--source", "headcount_copy", sample.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("would be ingested") && out.contains(" 0 rejected"),
        "{out}"
    );
}
