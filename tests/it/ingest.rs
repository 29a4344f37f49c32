//! Whole ingests of generated data, re-deliveries and bad input.

use std::collections::HashSet;

use startwell::error::Error;
use startwell::ingest::Outcome;
use startwell::run::RunOptions;

use crate::common::{TABLES, TestProject, count, lake_lines, table_lines};

#[tokio::test]
async fn whole_ingest_of_generated_data() {
    let tp = TestProject::new();
    tp.generate(120, 2);
    let rec = tp.run(RunOptions::default()).await.unwrap();
    assert_eq!(rec.status, "succeeded");
    let sources: HashSet<&str> = rec.sources.iter().map(|s| s.source.as_str()).collect();
    for s in [
        "eyfsp",
        "health_visiting",
        "dwp_2yo",
        "ey_headcount",
        "benchmark_eyfsp",
        "benchmark_early_years_provision",
    ] {
        assert!(sources.contains(s), "{s} missing from {sources:?}");
    }
    assert!(
        rec.files.iter().all(|f| f.outcome == Outcome::Ingested),
        "{:#?}",
        rec.files
    );
    let storage = tp.storage();
    for t in TABLES {
        let n = count(&storage, t, "").await;
        assert!(n > 0, "table {t} is empty");
    }
    // Every accepted row is in the lake, once: re-deliveries replaced, not added.
    let hv_accepted: u64 = rec
        .files
        .iter()
        .filter(|f| f.source == "health_visiting")
        .map(|f| f.rows_accepted)
        .sum();
    assert_eq!(count(&storage, "hv_contacts", "").await as u64, hv_accepted);
    // The generator plants a few invalid rows; they are quarantined with reasons.
    let rejected: u64 = rec.files.iter().map(|f| f.rows_rejected).sum();
    assert!(rejected > 0, "expected some quarantined rows");
    let q = rec.files.iter().find_map(|f| f.quarantine.clone()).unwrap();
    let qpath = tp.path().join("data").join(&q);
    assert!(qpath.exists(), "{q}");
    // Derived fields are filled from the seeds.
    assert_eq!(count(&storage, "eyfsp", "WHERE imd_quintile IS NULL").await, 0);
    assert!(count(&storage, "hv_contacts", "WHERE age_days IS NULL").await == 0);
    // A run record was written.
    assert!(
        tp.path()
            .join("data/state/runs")
            .join(format!("{}.json", rec.run_id))
            .exists()
    );
    // The ledger knows every file.
    let ledger = startwell::lake::read_ledger(&storage).await.unwrap();
    assert_eq!(ledger.len(), rec.files.len());
}

#[tokio::test]
async fn same_file_again_is_a_no_op() {
    let tp = TestProject::new();
    tp.generate(40, 1);
    tp.run(RunOptions::default()).await.unwrap();
    let storage = tp.storage();
    let before = lake_lines(&storage).await;
    let versions: Vec<Option<u64>> = futures::future::join_all(
        TABLES
            .iter()
            .map(|t| async { storage.table(t).await.unwrap().version() }),
    )
    .await;

    // Nothing new: nothing done.
    let rec = tp.run(RunOptions::default()).await.unwrap();
    assert!(rec.files.is_empty(), "{:#?}", rec.files);
    // The same bytes under another name: still nothing to do.
    let src = tp.landing().join("dwp_2yo");
    let first = std::fs::read_dir(&src).unwrap().next().unwrap().unwrap().path();
    std::fs::copy(&first, src.join("copy_of_dwp_2yo_2024-autumn.csv")).unwrap();
    let rec = tp.run(RunOptions::default()).await.unwrap();
    assert!(rec.files.is_empty(), "{:#?}", rec.files);

    let after = lake_lines(&storage).await;
    assert_eq!(before, after);
    let versions_after: Vec<Option<u64>> = futures::future::join_all(
        TABLES
            .iter()
            .map(|t| async { storage.table(t).await.unwrap().version() }),
    )
    .await;
    assert_eq!(versions, versions_after, "no table got a new version");
}

#[tokio::test]
async fn a_file_changed_in_place_with_the_same_size_is_ingested_again() {
    let tp = TestProject::new();
    tp.generate(40, 1);
    tp.run(RunOptions::default()).await.unwrap();
    let dir = tp.landing().join("dwp_2yo");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let (touched, changed) = (dir.join(&names[0]), dir.join(&names[1]));
    // Rewritten with the same bytes: hashed again, nothing to do.
    std::fs::write(&touched, std::fs::read(&touched).unwrap()).unwrap();
    // The partner corrects one digit of a parent reference in place: same name, same size.
    let mut bytes = std::fs::read(&changed).unwrap();
    let line2_end = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .map(|(i, _)| i)
        .unwrap();
    let at = (0..line2_end).rev().find(|i| bytes[*i].is_ascii_digit()).unwrap();
    bytes[at] = if bytes[at] == b'9' { b'1' } else { bytes[at] + 1 };
    let size = std::fs::metadata(&changed).unwrap().len();
    std::fs::write(&changed, &bytes).unwrap();
    assert_eq!(std::fs::metadata(&changed).unwrap().len(), size);
    let rec = tp.run(RunOptions::default()).await.unwrap();
    let files: Vec<_> = rec.files.iter().map(|f| (f.file.as_str(), f.outcome)).collect();
    assert_eq!(
        files,
        vec![(names[1].as_str(), Outcome::Ingested)],
        "{:#?}",
        rec.files
    );
    // And then it is settled.
    let rec = tp.run(RunOptions::default()).await.unwrap();
    assert!(rec.files.is_empty(), "{:#?}", rec.files);
}

#[tokio::test]
async fn corrected_redelivery_replaces_its_period() {
    let tp = TestProject::new();
    tp.generate(80, 2);
    let rec = tp.run(RunOptions::default()).await.unwrap();
    let storage = tp.storage();
    // The generator re-delivers 2023-24 with corrections (the older year of two).
    let corrected = rec
        .files
        .iter()
        .find(|f| f.file.contains("_corrected"))
        .expect("a corrected file");
    assert_eq!(corrected.period.as_deref(), Some("2023-24"));
    let n = count(&storage, "eyfsp", "WHERE period = '2023-24'").await as u64;
    assert_eq!(
        n, corrected.rows_accepted,
        "the period holds the corrected file's rows only"
    );
    assert_eq!(
        count(
            &storage,
            "eyfsp",
            "WHERE period = '2023-24' AND source_file NOT LIKE '%corrected%'"
        )
        .await,
        0
    );
    // The other year is untouched.
    let other = rec.files.iter().find(|f| f.file == "eyfsp_2024-25.csv").unwrap();
    assert_eq!(
        count(&storage, "eyfsp", "WHERE period = '2024-25'").await as u64,
        other.rows_accepted
    );
}

/// Each bad file is refused with a message naming it; earlier data stays as it was.
#[tokio::test]
async fn bad_files_are_refused_and_named() {
    let tp = TestProject::new();
    tp.generate(30, 1);
    tp.run(RunOptions::default()).await.unwrap();
    let storage = tp.storage();
    let before = table_lines(&storage, "dwp_2yo").await;

    let dir = tp.landing().join("dwp_2yo");
    let xlsx = std::fs::read_dir(tp.landing().join("ey_headcount"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::copy(&xlsx, dir.join("dwp_2yo_2030-autumn.csv")).unwrap();
    std::fs::write(
        dir.join("dwp_2yo_2031-autumn.csv"),
        [0u8, 159, 146, 150, 0, 1, 2, 3],
    )
    .unwrap();
    std::fs::write(dir.join("dwp_2yo_2032-autumn.csv"), b"").unwrap();
    std::fs::write(dir.join("dwp_2yo_2033-autumn.csv"), b"colour,shape\nred,square\n").unwrap();
    std::fs::write(
        dir.join("dwp_2yo_2034-autumn.csv"),
        "Child Surname,Child Forname,Child DOB,Child Postcode\nSMITH,Ava,01/02/2022,NB1 1AA\n",
    )
    .unwrap();
    let err = tp.run(RunOptions::default()).await.unwrap_err();
    let Error::DataRefused(msg) = &err else {
        panic!("{err}")
    };
    for (file, says) in [
        ("dwp_2yo_2030-autumn.csv", "Excel workbook"),
        ("dwp_2yo_2031-autumn.csv", "binary"),
        ("dwp_2yo_2032-autumn.csv", "empty"),
        ("dwp_2yo_2033-autumn.csv", "none of them is a column name"),
        (
            "dwp_2yo_2034-autumn.csv",
            "closest header present: `Child Forname`",
        ),
    ] {
        let line = msg
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file} not named in:\n{msg}"));
        assert!(line.contains(says), "{file}: expected `{says}` in `{line}`");
    }
    assert_eq!(
        before,
        table_lines(&storage, "dwp_2yo").await,
        "published data unchanged"
    );

    // The binary exits non-zero with the reason on stderr.
    std::fs::write(
        dir.join("dwp_2yo_2035-autumn.csv"),
        b"Child Surname,Child Forename,Child DOB,Child Postcode\r\n\r\n",
    )
    .unwrap();
    let (code, _out, err) = tp.run_binary(&["run", "--source", "dwp_2yo"]);
    assert_eq!(code, startwell::error::exit_code::DATA, "{err}");
    assert!(
        err.contains("dwp_2yo_2035-autumn.csv") && err.contains("no data rows"),
        "{err}"
    );
    // The same refused bytes again are not processed again (and say so).
    let (code, _out, err) = tp.run_binary(&["run", "--source", "dwp_2yo"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("refused earlier"), "{err}");
}

#[tokio::test]
async fn too_many_rejected_rows_refuses_the_whole_file() {
    let tp = TestProject::new();
    tp.generate(30, 1);
    tp.run(RunOptions::default()).await.unwrap();
    let storage = tp.storage();
    let before = table_lines(&storage, "hv_contacts").await;
    let dir = tp.landing().join("health_visiting");
    // Re-deliver a quarter in which half the NHS numbers are mistyped.
    let orig = dir.join("hv_contacts_2024-25_Q1.csv");
    let text = std::fs::read_to_string(&orig).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i > 0 && i % 2 == 0 && line.len() > 10 {
            let last = line.as_bytes()[9];
            let bad = if last == b'9' { '0' } else { (last + 1) as char };
            out.push_str(&format!("{}{}{}\r\n", &line[..9], bad, &line[10..]));
        } else {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    std::fs::write(dir.join("hv_contacts_2024-25_Q1_v2.csv"), out).unwrap();
    let err = tp.run(RunOptions::default()).await.unwrap_err().to_string();
    assert!(err.contains("hv_contacts_2024-25_Q1_v2.csv"), "{err}");
    assert!(
        err.contains("nhs_number: invalid NHS number (check digit)"),
        "{err}"
    );
    assert_eq!(
        before,
        table_lines(&storage, "hv_contacts").await,
        "the old Q1 rows stay"
    );
    // The rejected rows are in quarantine with their line numbers and reasons.
    let qdir = tp.path().join("data/quarantine/health_visiting");
    let qfile = std::fs::read_dir(&qdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("_v2"))
        .expect("quarantine file");
    let f = std::fs::File::open(qfile).unwrap();
    let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let mut lines = 0;
    for b in reader {
        let b = b.unwrap();
        let reasons = b
            .column_by_name("reasons")
            .unwrap()
            .as_any()
            .downcast_ref::<datafusion::arrow::array::StringArray>()
            .unwrap()
            .clone();
        assert!(reasons.iter().all(|r| r.unwrap().contains("nhs_number")));
        lines += b.num_rows();
    }
    assert!(lines > 0);
}

#[tokio::test]
async fn full_refresh_rebuilds_the_same_lake() {
    let tp = TestProject::new();
    tp.generate(40, 2);
    tp.run(RunOptions::default()).await.unwrap();
    let storage = tp.storage();
    let before = lake_lines(&storage).await;
    let rec = tp
        .run(RunOptions {
            full_refresh: true,
            ..RunOptions::default()
        })
        .await
        .unwrap();
    assert!(
        rec.files.iter().all(|f| f.outcome == Outcome::Ingested),
        "{:#?}",
        rec.files
    );
    assert!(rec.files.len() > 20);
    let after = lake_lines(&storage).await;
    assert_eq!(before, after);
}
