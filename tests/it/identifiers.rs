//! No identifier present in the input (names, NHS numbers, UPNs, postcodes,
//! full dates of birth) appears under lake/, in the run records or in the logs.

use std::collections::HashSet;
use std::path::Path;

use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

use crate::common::{TABLES, TestProject};

/// Every identifying value in the generated landing files.
fn identifiers(landing: &Path) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut add = |v: &str| {
        let v = v.trim();
        if v.len() >= 4 {
            ids.insert(v.to_string());
        }
    };
    for (dir, cols) in [
        ("eyfsp", vec![0usize, 1, 2, 3, 4, 11]),
        ("health_visiting", vec![0, 1, 4]),
        ("dwp_2yo", vec![0, 1, 2, 3, 4]),
    ] {
        for e in std::fs::read_dir(landing.join(dir)).unwrap() {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
            let text = if std::str::from_utf8(&bytes).is_ok() {
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                text.into_owned()
            };
            for line in text.lines().skip(1) {
                let cells: Vec<&str> = line.split(',').collect();
                if cells.len() < 5 {
                    continue;
                }
                for c in &cols {
                    if let Some(v) = cells.get(*c) {
                        add(v);
                        if v.contains(' ') && v.len() <= 8 {
                            add(&v.replace(' ', "")); // postcodes, normalised
                        }
                        if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%d/%m/%Y") {
                            add(&d.format("%Y-%m-%d").to_string());
                        }
                    }
                }
            }
        }
    }
    ids.remove("Total");
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn no_identifier_reaches_the_lake_records_or_logs() {
    let tp = TestProject::new();
    tp.generate(60, 1);
    let ids = identifiers(&tp.landing());
    assert!(ids.len() > 200, "{}", ids.len());
    assert!(ids.iter().any(|i| i.starts_with("NB")), "postcodes collected");

    let (code, out, err) = tp.run_binary(&["--log-format", "json", "run"]);
    assert_eq!(code, 0, "{err}");
    let logs = format!("{out}\n{err}");
    assert!(logs.contains("file ingested"), "logs were captured: {logs}");

    // Every string value of every lake table (dates as ISO text, except contact dates
    // which are not identifiers but can coincide with someone's birthday).
    let storage = tp.storage();
    let mut values: Vec<String> = Vec::new();
    for t in TABLES.iter().chain(&["ingest_ledger"]) {
        let batches = startwell::lake::query_table(&storage, t, "SELECT * FROM t")
            .await
            .unwrap();
        for b in batches {
            for (i, f) in b.schema().fields().iter().enumerate() {
                if f.name() == "contact_date" {
                    continue;
                }
                let col = cast(b.column(i), &DataType::Utf8).unwrap();
                let s = col.as_any().downcast_ref::<StringArray>().unwrap();
                for r in 0..s.len() {
                    if s.is_valid(r) {
                        values.push(s.value(r).to_string());
                    }
                }
            }
        }
    }
    assert!(values.len() > 1000);
    for v in &values {
        for id in &ids {
            assert!(
                !v.contains(id.as_str()),
                "identifier {id:?} found in lake value {v:?}"
            );
        }
    }
    // Raw bytes of the lake's logs and statistics, the run records and the logs.
    let mut texts = vec![("logs".to_string(), logs)];
    for root in ["data/lake", "data/state"] {
        for p in walk(&tp.path().join(root)) {
            if p.extension().is_some_and(|e| e == "json") {
                texts.push((p.display().to_string(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    for (name, text) in &texts {
        for id in &ids {
            if id.len() == 10 && id.contains('-') {
                continue; // ISO dates: Delta statistics hold contact-date ranges
            }
            assert!(!text.contains(id.as_str()), "identifier {id:?} found in {name}");
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
