//! Hostile partner files: each is refused (or handled) with a message that names
//! the file and the problem, and no identifier from it reaches a message, a log,
//! a run record or the lake.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

use crate::common::TestProject;

/// The first generated file of a landing folder.
fn generated(tp: &TestProject, source: &str) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(tp.landing().join(source))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.remove(0)
}

fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.trim_start_matches('\u{feff}').to_string(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}

/// Identifying values of a CSV (columns whose header names an identifier).
fn identifiers_in_csv(text: &str) -> HashSet<String> {
    let mut lines = text.split(['\n', '\r']).filter(|l| !l.is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|h| h.to_lowercase())
        .collect();
    let id_cols: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            ["name", "nhs", "upn", "dob", "birth", "postcode"]
                .iter()
                .any(|w| h.contains(w))
        })
        .map(|(i, _)| i)
        .collect();
    assert!(id_cols.len() >= 3, "identifier columns found in {header:?}");
    let mut ids = HashSet::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        for c in &id_cols {
            if let Some(v) = cells.get(*c).map(|v| v.trim()).filter(|v| v.len() >= 4) {
                ids.insert(v.to_string());
            }
        }
    }
    ids
}

/// A file delivered without its header row: the first row is a child's data.
fn without_header(from: &Path, to: &Path, ids: &mut HashSet<String>) {
    let bytes = std::fs::read(from).unwrap();
    ids.extend(identifiers_in_csv(&text_of(&bytes)));
    let cut = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    std::fs::write(to, &bytes[cut..]).unwrap();
}

/// The same file with old-Mac line endings (CR only).
fn cr_only(from: &Path, to: &Path, ids: &mut HashSet<String>) {
    let text = text_of(&std::fs::read(from).unwrap());
    ids.extend(identifiers_in_csv(&text));
    std::fs::write(to, text.replace("\r\n", "\r").replace('\n', "\r")).unwrap();
}

/// A headcount workbook whose header is not on the configured row: row 3 is data.
fn xlsx_without_header(to: &Path, ids: &mut HashSet<String>) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("Headcount").unwrap();
    for r in 0..6u32 {
        let cells = [
            format!("Amelia{r}x"),
            format!("Hargreaves{r}"),
            format!("0{}/03/2038", r + 1),
            format!("NB{r} 4AB"),
            "2YO15".to_string(),
            "15".to_string(),
            "123456".to_string(),
        ];
        for (c, v) in cells.iter().enumerate() {
            ws.write_string(r, c as u16, v).unwrap();
        }
        ids.extend(cells[..4].iter().cloned());
    }
    wb.save(to).unwrap();
}

/// Every string in the ledger, the run records and the other state files.
async fn stored_texts(tp: &TestProject) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    let batches = startwell::lake::query_table(&tp.storage(), "ingest_ledger", "SELECT * FROM t")
        .await
        .unwrap();
    for b in batches {
        for i in 0..b.num_columns() {
            let col = cast(b.column(i), &DataType::Utf8).unwrap();
            let s = col.as_any().downcast_ref::<StringArray>().unwrap();
            for r in 0..s.len() {
                if s.is_valid(r) {
                    texts.push(("ingest_ledger".to_string(), s.value(r).to_string()));
                }
            }
        }
    }
    let mut stack = vec![tp.path().join("data/state")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(t) = std::fs::read_to_string(&p) {
                texts.push((p.display().to_string(), t));
            }
        }
    }
    texts
}

fn assert_no_identifier(ids: &HashSet<String>, texts: &[(String, String)]) {
    for (name, text) in texts {
        for id in ids {
            assert!(
                !text.contains(id.as_str()),
                "identifier {id:?} found in {name}:\n{text}"
            );
        }
    }
}

/// Files whose first row is data (no header; header not where configured):
/// refused, named, and nothing identifying quoted anywhere. A CSV with CR-only
/// line endings (which used to be read as one row) is read line by line.
#[tokio::test(flavor = "multi_thread")]
async fn a_row_taken_for_a_header_is_never_quoted() {
    let tp = TestProject::new();
    tp.generate(30, 1);
    let (code, _, err) = tp.run_binary(&["run", "--no-scorecard"]);
    assert_eq!(code, 0, "{err}");

    let mut ids = HashSet::new();
    let l = tp.landing();
    let cases = [
        ("dwp_2yo/dwp_2yo_2040-autumn.csv", "may be data"),
        ("eyfsp/eyfsp_2040-41.csv", "may be data"),
        ("health_visiting/hv_contacts_2040-41_Q1.csv", "may be data"),
        ("ey_headcount/headcount_2040-autumn_school.xlsx", "may be data"),
    ];
    let cr_file = "hv_contacts_2041-42_Q1.csv";
    without_header(&generated(&tp, "dwp_2yo"), &l.join(cases[0].0), &mut ids);
    without_header(&generated(&tp, "eyfsp"), &l.join(cases[1].0), &mut ids);
    without_header(&generated(&tp, "health_visiting"), &l.join(cases[2].0), &mut ids);
    xlsx_without_header(&l.join(cases[3].0), &mut ids);
    let hv = generated(&tp, "health_visiting");
    cr_only(&hv, &l.join("health_visiting").join(cr_file), &mut ids);
    assert!(ids.len() > 100, "{}", ids.len());

    let (code, out, err) = tp.run_binary(&["--log-format", "json", "run", "--no-scorecard"]);
    assert_eq!(code, startwell::error::exit_code::DATA, "{err}");
    for (file, says) in cases {
        let name = file.rsplit('/').next().unwrap();
        assert!(
            err.lines().any(|l| l.contains(name) && l.contains(says)),
            "{name}: expected a line naming it with `{says}` in:\n{err}"
        );
    }
    assert!(
        !err.lines().any(|l| l.contains(cr_file) && l.contains("  - ")),
        "{err}"
    );
    let ledger = |file: &str| {
        let file = file.to_string();
        let tp = &tp;
        async move {
            let sql = format!("SELECT outcome, rows_read, rows_accepted FROM t WHERE file LIKE '%{file}'");
            let b = startwell::lake::query_table(&tp.storage(), "ingest_ledger", &sql)
                .await
                .unwrap();
            datafusion::arrow::util::pretty::pretty_format_batches(&b)
                .unwrap()
                .to_string()
                .lines()
                .nth(3)
                .unwrap_or_default()
                .to_string()
        }
    };
    let original = ledger(hv.file_name().unwrap().to_str().unwrap()).await;
    let cr = ledger(cr_file).await;
    assert!(original.contains("ingested"), "{original}");
    assert_eq!(cr, original, "the CR-only copy reads as the same rows");
    let mut texts = stored_texts(&tp).await;
    texts.push(("stdout".into(), out));
    texts.push(("stderr".into(), err));
    assert_no_identifier(&ids, &texts);
}

/// A CSV as (header, rows), decoded as the pipeline would.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = text_of(&std::fs::read(path).unwrap());
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = r
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect::<Vec<_>>());
    let header = records.next().unwrap();
    (header, records.collect())
}

fn write_csv(path: &Path, header: &[String], rows: &[Vec<String>]) {
    let mut w = csv::WriterBuilder::new().flexible(true).from_path(path).unwrap();
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
}

/// Rows of a generated file that hold data (not blank, not totals).
fn data_rows(rows: &[Vec<String>]) -> Vec<usize> {
    rows.iter()
        .enumerate()
        .filter(|(_, r)| r.len() > 2 && !r[0].trim().is_empty() && !r[0].to_lowercase().starts_with("total"))
        .map(|(i, _)| i)
        .collect()
}

fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h.trim() == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// The `reasons` of every quarantined row of one landing file.
fn quarantined(tp: &TestProject, source: &str, stem: &str) -> Vec<String> {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    use datafusion::parquet::record::Field;
    let dir = tp.path().join("data/quarantine").join(source);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if !p.file_name().unwrap().to_string_lossy().starts_with(stem) {
            continue;
        }
        let reader = SerializedFileReader::new(std::fs::File::open(&p).unwrap()).unwrap();
        for row in reader.get_row_iter(None).unwrap() {
            for (name, field) in row.unwrap().get_column_iter() {
                if let ("reasons", Field::Str(s)) = (name.as_str(), field) {
                    out.push(s.clone());
                }
            }
        }
    }
    out
}

/// The hostile-file table: each file dropped into a finished project, what the
/// user is told, and that good data is kept and published data never damaged.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_files_are_refused_or_handled_and_said() {
    let tp = TestProject::new();
    tp.generate(30, 1);
    let (code, _, err) = tp.run_binary(&["run"]);
    assert_eq!(code, 0, "{err}");
    let l = tp.landing();
    let dwp = l.join("dwp_2yo/dwp_2yo_2024-autumn.csv");
    let (dh, drows) = read_csv(&dwp);
    let dd = data_rows(&drows);
    let dob = col(&dh, "Child DOB");

    // A: impossible and ambiguous dates of birth.
    let mut rows = drows.clone();
    rows[dd[0]][dob] = "01/02/22".into();
    rows[dd[1]][dob] = "2020".into();
    rows[dd[2]][dob] = "01/01/2099".into();
    write_csv(&l.join("dwp_2yo/dwp_2yo_2040-autumn.csv"), &dh, &rows);

    // B: a 1900 birth seen at a review; a contact in the future.
    let hv = l.join("health_visiting/hv_contacts_2024-25_Q1.csv");
    let (hh, hrows) = read_csv(&hv);
    let hd = data_rows(&hrows);
    let mut rows = hrows.clone();
    let (hdob, hdate) = (col(&hh, "Date of Birth"), col(&hh, "Contact Date"));
    rows[hd[0]][hdob] = "01/01/1900".into();
    rows[hd[1]][hdate] = "01/01/2099".into();
    write_csv(&l.join("health_visiting/hv_contacts_2040-41_Q1.csv"), &hh, &rows);

    // C: a quote left open swallows the following lines.
    let text = text_of(&std::fs::read(&dwp).unwrap());
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut c = String::new();
    for (i, line) in lines.iter().enumerate() {
        c.push_str(if i == 3 { "\"" } else { "" });
        c.push_str(line);
    }
    std::fs::write(l.join("dwp_2yo/dwp_2yo_2041-autumn.csv"), &c).unwrap();

    // D: a download cut short in the middle of a row.
    let cut = lines[..3].concat() + &lines[3][..lines[3].len() / 2];
    std::fs::write(l.join("dwp_2yo/dwp_2yo_2041-spring.csv"), &cut).unwrap();

    // E, F: periods in the file name that are not academic years.
    let eyfsp = l.join("eyfsp/eyfsp_2024-25.csv");
    let (eh, erows) = read_csv(&eyfsp);
    let ed = data_rows(&erows);
    let without = |k: usize| -> Vec<Vec<String>> {
        erows
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != ed[k])
            .map(|(_, r)| r.clone())
            .collect()
    };
    write_csv(&l.join("eyfsp/eyfsp_2025-13.csv"), &eh, &without(0));
    write_csv(&l.join("eyfsp/eyfsp_2025-2026.csv"), &eh, &without(1));

    // G, H: a negative count and a provisional period in a DfE file.
    let bench = l.join("benchmark_eyfsp/eyfsp_headline_measures_by_characteristics.csv");
    let (bh, brows) = read_csv(&bench);
    let mut rows = brows.clone();
    rows[0][col(&bh, "gld_number")] = "-5".into();
    write_csv(&l.join("benchmark_eyfsp/negative.csv"), &bh, &rows);
    let mut rows = brows.clone();
    rows[1][col(&bh, "time_period")] = "2025 (provisional)".into();
    write_csv(&l.join("benchmark_eyfsp/provisional.csv"), &bh, &rows);

    // I: a truncated DfE download (whole lines, the first 40%).
    let prov = l.join("benchmark_early_years_provision/early_years_provision_children_under_5.csv");
    let (ph, prows) = read_csv(&prov);
    let part = prows[..prows.len() * 2 / 5].to_vec();
    write_csv(
        &l.join("benchmark_early_years_provision/truncated.csv"),
        &ph,
        &part,
    );

    // J: the mother's NHS number beside the child's.
    let mut h2 = hh.clone();
    h2.push("NHS Number".into());
    let rows: Vec<Vec<String>> = hrows
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.push("4010232137".into());
            r
        })
        .collect();
    write_csv(&l.join("health_visiting/hv_contacts_2041-42_Q1.csv"), &h2, &rows);

    // K: a file name that is not UTF-8 (with new content).
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"dwp_2yo_2042-autumn_\xff.csv");
        let mut rows = drows.clone();
        rows.truncate(dd[3] + 1);
        write_csv(&l.join("dwp_2yo").join(name), &dh, &rows);
    }

    // L, M: an upper-case extension is read; a zip is not recognised, and said.
    write_csv(&l.join("eyfsp/EYFSP_2041-42.CSV"), &eh, &without(2));
    std::fs::write(l.join("eyfsp/eyfsp_2041-42.zip"), b"PK\x03\x04not really").unwrap();

    // N, O: UTF-16 with a byte-order mark is read; without one it is named.
    let utf16 = |bom: bool| -> Vec<u8> {
        let mut b = if bom { vec![0xFF, 0xFE] } else { vec![] };
        b.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        b
    };
    std::fs::write(l.join("dwp_2yo/dwp_2yo_2043-autumn.csv"), utf16(true)).unwrap();
    std::fs::write(l.join("dwp_2yo/dwp_2yo_2043-spring.csv"), utf16(false)).unwrap();

    // P: the same new file twice in one drop; Q: an earlier period's file again.
    let mut rows = drows.clone();
    rows.truncate(dd[4] + 1);
    write_csv(&l.join("dwp_2yo/dwp_2yo_2044-autumn.csv"), &dh, &rows);
    std::fs::copy(
        l.join("dwp_2yo/dwp_2yo_2044-autumn.csv"),
        l.join("dwp_2yo/dwp_2yo_2044-spring.csv"),
    )
    .unwrap();
    std::fs::copy(&dwp, l.join("dwp_2yo/dwp_2yo_2045-autumn.csv")).unwrap();

    // R: a formula as a council's name in a public file.
    let mut rows = brows.clone();
    let la = col(&bh, "la_name");
    let code = col(&bh, "new_la_code");
    let mut named = 0;
    for r in rows.iter_mut().filter(|r| r[code] == "E08000998") {
        r[la] = "=HYPERLINK(\"http://example.invalid\",\"Click\")".into();
        named += 1;
    }
    assert!(named > 0, "the comparator council is in the generated file");
    write_csv(&l.join("benchmark_eyfsp/formula.csv"), &bh, &rows);

    let lake_before = crate::common::lake_lines(&tp.storage()).await;
    let (code, out, err) = tp.run_binary(&["--log-format", "json", "run", "--no-scorecard"]);
    assert_eq!(code, startwell::error::exit_code::DATA, "{err}");
    let said = |file: &str, what: &str| {
        assert!(
            err.lines()
                .chain(out.lines())
                .any(|l| l.contains(file) && l.contains(what)),
            "{file}: expected a line naming it with `{what}` in:\n{err}"
        );
    };
    // Refused, each naming the value or the problem.
    said(
        "eyfsp_2025-13.csv",
        "period `2025-13`, which is not a valid academic year",
    );
    said(
        "eyfsp_2025-2026.csv",
        "period `2025-20`, which is not a valid academic year",
    );
    said("negative.csv", "gld_number: does not match pattern (`-5`)");
    said(
        "provisional.csv",
        "time_period: not a valid period (`2025 (provisional)`",
    );
    said("truncated.csv", "an incomplete download");
    said("hv_contacts_2041-42_Q1.csv", "both map to column `nhs_number`");
    said("dwp_2yo_2042-autumn_\u{fffd}.csv", "not valid UTF-8");
    said("dwp_2yo_2043-spring.csv", "UTF-16 text without a byte-order mark");
    // Handled, and said.
    said("eyfsp_2041-42.zip", "not recognised");
    said(
        "dwp_2yo_2044-spring.csv",
        "same content as dwp_2yo_2044-autumn.csv",
    );
    said("dwp_2yo_2045-autumn.csv", "usually a copy mistake");
    said("dwp_2yo_2041-spring.csv", "does not end with a line break");
    let q = |source: &str, stem: &str| quarantined(&tp, source, stem).join("\n");
    let a = q("dwp_2yo", "dwp_2yo_2040-autumn");
    for why in ["two-digit year", "dob: not a date", "date in the future"] {
        assert!(a.contains(why), "{why} in {a}");
    }
    let b = q("health_visiting", "hv_contacts_2040-41_Q1");
    for why in ["implausible date (too early)", "contact_date: date in the future"] {
        assert!(b.contains(why), "{why} in {b}");
    }
    let c = q("dwp_2yo", "dwp_2yo_2041-autumn");
    assert!(c.contains("line break inside a value"), "{c}");
    let d = q("dwp_2yo", "dwp_2yo_2041-spring");
    assert!(d.contains("wrong number of fields"), "{d}");

    // What was read: the upper-case file and the UTF-16 file (as many rows as the original).
    let ledger = startwell::lake::read_ledger(&tp.storage()).await.unwrap();
    let entry = |f: &str| {
        ledger
            .iter()
            .find(|e| e.file == f)
            .unwrap_or_else(|| panic!("{f} not in ledger"))
    };
    assert_eq!(entry("EYFSP_2041-42.CSV").outcome, "ingested");
    let original = entry("dwp_2yo_2024-autumn.csv");
    let wide = entry("dwp_2yo_2043-autumn.csv");
    assert_eq!(
        (wide.outcome.as_str(), wide.rows_accepted),
        ("ingested", original.rows_accepted)
    );
    assert_eq!(entry("formula.csv").outcome, "ingested");
    assert!(
        ledger
            .iter()
            .all(|e| e.file != "dwp_2yo_2044-spring.csv" && e.file != "dwp_2yo_2045-autumn.csv")
    );
    assert!(ledger.iter().all(|e| !e.file.ends_with(".zip")));
    // Nothing refused reached the lake: the refused sources' tables hold what they held.
    let lake_after = crate::common::lake_lines(&tp.storage()).await;
    let tables = crate::common::TABLES;
    for (t, (before, after)) in tables.iter().zip(lake_before.iter().zip(&lake_after)) {
        if *t == "benchmark_early_years_provision" {
            assert_eq!(before, after, "{t} unchanged");
        }
    }

    // The next run publishes a scorecard; the formula is inert in the CSV.
    let (code, _, err) = tp.run_binary(&["run"]);
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_to_string(tp.path().join("data/outputs/scorecard.csv")).unwrap();
    assert!(csv.contains("'=HYPERLINK("), "the name is published, neutralised");
    assert!(!csv.contains(",=HYPERLINK(") && !csv.contains(",\"=HYPERLINK("));
    let (_, out, _) = tp.run_binary(&["status"]);
    assert!(
        out.contains("not recognised: landing/eyfsp/eyfsp_2041-42.zip"),
        "{out}"
    );
}
