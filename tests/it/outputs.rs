//! The outputs for people and for publishing, from one generated run: the
//! indicator metadata, the DfE open-data (EES) export (checked against the
//! standard's core rules), the workbook (read back) and the HTML report (in
//! headless Chromium), each against `scorecard.parquet`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use datafusion::parquet::record::Field;
use startwell::run::RunOptions;

use crate::common::TestProject;

type Record = BTreeMap<String, String>;

fn read_csv(path: &Path) -> (Vec<String>, Vec<Record>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = std::str::from_utf8(&bytes).unwrap_or_else(|_| panic!("{} is not UTF-8", path.display()));
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect();
    (header, rows)
}

fn parquet_rows(path: &Path) -> Vec<Record> {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            row.unwrap()
                .get_column_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Field::Null => String::new(),
                        Field::Str(s) => s.clone(),
                        Field::Long(i) => i.to_string(),
                        Field::Double(d) => d.to_string(),
                        other => other.to_string(),
                    };
                    (k.clone(), v)
                })
                .collect()
        })
        .collect()
}

/// The DfE open data standards' core rules, applied to one data file and its
/// metadata file; every breach, in words.
fn ees_breaches(name: &str, data: &Path, meta: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut fail = |m: String| out.push(format!("{name}: {m}"));
    for p in [data, meta] {
        let bytes = std::fs::read(p).unwrap();
        if bytes.starts_with(b"\xEF\xBB\xBF") {
            fail(format!("{} starts with a byte-order mark", p.display()));
        }
    }
    let (header, rows) = read_csv(data);
    let (_, meta_rows) = read_csv(meta);
    let snake = regex::Regex::new("^[a-z][a-z0-9_]*$").unwrap();
    for h in &header {
        if !snake.is_match(h) {
            fail(format!("header `{h}` is not snake_case"));
        }
    }
    for required in [
        "time_period",
        "time_identifier",
        "geographic_level",
        "country_code",
        "country_name",
    ] {
        if !header.iter().any(|h| h == required) {
            fail(format!("no `{required}` column"));
        }
    }
    if rows.is_empty() {
        fail("no rows".into());
    }
    // Time: six digits, consecutive years, one category of identifier per file.
    let categories: [(&str, &[&str]); 3] = [
        ("academic year", &["Academic year"]),
        (
            "financial quarters",
            &[
                "Financial year Q1",
                "Financial year Q2",
                "Financial year Q3",
                "Financial year Q4",
            ],
        ),
        ("terms", &["Autumn term", "Spring term", "Summer term"]),
    ];
    let mut seen_categories = BTreeSet::new();
    for r in &rows {
        let tp = &r["time_period"];
        let ok = tp.len() == 6
            && tp.bytes().all(|b| b.is_ascii_digit())
            && (tp[..4].parse::<u32>().unwrap() + 1) % 100 == tp[4..].parse::<u32>().unwrap();
        if !ok {
            fail(format!("time_period `{tp}` is not like 202425"));
        }
        match categories
            .iter()
            .find(|(_, ids)| ids.contains(&r["time_identifier"].as_str()))
        {
            Some((c, _)) => {
                seen_categories.insert(*c);
            }
            None => fail(format!(
                "time_identifier `{}` is not allowed",
                r["time_identifier"]
            )),
        }
    }
    if seen_categories.len() > 1 {
        fail(format!(
            "time identifiers of several kinds in one file: {seen_categories:?}"
        ));
    }
    // Geography: allowed levels, each with its columns filled and codes well formed.
    let code = |pattern: &str| regex::Regex::new(pattern).unwrap();
    let formats: HashMap<&str, regex::Regex> = HashMap::from([
        ("country_code", code("^E92000001$")),
        ("region_code", code("^E12[0-9]{6}$")),
        ("new_la_code", code("^E(06|07|08|09|10)[0-9]{6}$")),
        ("old_la_code", code("^[0-9]{3}$")),
        ("ward_code", code("^E05[0-9]{6}$")),
    ]);
    for r in &rows {
        let needs: &[&str] = match r["geographic_level"].as_str() {
            "National" => &["country_code", "country_name"],
            "Regional" => &["country_code", "country_name", "region_code", "region_name"],
            "Local authority" => &[
                "country_code",
                "country_name",
                "region_code",
                "region_name",
                "new_la_code",
                "old_la_code",
                "la_name",
            ],
            "Ward" => &[
                "country_code",
                "country_name",
                "new_la_code",
                "old_la_code",
                "la_name",
                "ward_code",
                "ward_name",
            ],
            other => {
                fail(format!("geographic_level `{other}` is not allowed"));
                continue;
            }
        };
        for c in needs {
            let v = r.get(*c).map(String::as_str).unwrap_or("");
            if v.is_empty() {
                fail(format!("{} row without `{c}`", r["geographic_level"]));
            } else if let Some(f) = formats.get(c)
                && !f.is_match(v)
            {
                fail(format!("`{c}` `{v}` is not a valid code"));
            }
        }
    }
    // The metadata: every column that is not time or geography is a filter, an
    // indicator or a filter's grouping column; and the other way round.
    let fixed: BTreeSet<&str> = [
        "time_period",
        "time_identifier",
        "geographic_level",
        "country_code",
        "country_name",
        "region_code",
        "region_name",
        "new_la_code",
        "old_la_code",
        "la_name",
        "ward_code",
        "ward_name",
    ]
    .into();
    let mut described: BTreeSet<String> = BTreeSet::new();
    let mut indicators = Vec::new();
    let mut filters = Vec::new();
    for m in &meta_rows {
        let col = &m["col_name"];
        if !header.contains(col) {
            fail(format!("meta names `{col}`, which the data file lacks"));
        }
        if m["label"].trim().is_empty() {
            fail(format!("meta: `{col}` has no label"));
        }
        described.insert(col.clone());
        match m["col_type"].as_str() {
            "Indicator" => {
                if m["indicator_dp"].parse::<u32>().is_err() {
                    fail(format!("meta: indicator `{col}` has no whole indicator_dp"));
                }
                indicators.push(col.clone());
            }
            "Filter" => {
                let g = &m["filter_grouping_column"];
                if !g.is_empty() {
                    if !header.contains(g) {
                        fail(format!(
                            "meta: `{col}`'s grouping column `{g}` is not in the data"
                        ));
                    }
                    described.insert(g.clone());
                }
                filters.push((col.clone(), m["filter_default"].clone()));
            }
            other => fail(format!("meta: col_type `{other}`")),
        }
    }
    for h in &header {
        if !fixed.contains(h.as_str()) && !described.contains(h) {
            fail(format!("column `{h}` is not in the meta file"));
        }
    }
    // Indicator cells: a number or an allowed symbol, never blank.
    let symbols = ["c", "low", "x", "u", "z"];
    for r in &rows {
        for i in &indicators {
            let v = &r[i];
            if v.parse::<f64>().is_err() && !symbols.contains(&v.as_str()) {
                fail(format!(
                    "indicator `{i}` cell `{v}` is neither a number nor a symbol"
                ));
            }
        }
    }
    // Filters: no blanks, a Total (or a declared default that occurs).
    for (f, default) in &filters {
        let values: BTreeSet<&str> = rows.iter().map(|r| r[f].as_str()).collect();
        if values.contains("") {
            fail(format!("filter `{f}` has blank cells"));
        }
        let want = if default.is_empty() {
            "Total"
        } else {
            default.as_str()
        };
        if !values.contains(want) {
            fail(format!("filter `{f}` has no `{want}` value"));
        }
    }
    // One row per time, place and filter combination.
    let mut keys = BTreeSet::new();
    for r in &rows {
        let key: Vec<&str> = header
            .iter()
            .filter(|h| !indicators.contains(h))
            .map(|h| r[h].as_str())
            .collect();
        if !keys.insert(key.clone()) {
            fail(format!("duplicate row {key:?}"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_and_open_data_follow_their_standards_and_the_scorecard() {
    let tp = TestProject::new();
    tp.generate(200, 4);
    tp.run(RunOptions::default()).await.unwrap();
    let out = tp.path().join("data/outputs");
    let card = parquet_rows(&out.join("scorecard.parquet"));

    // Indicator metadata: one row per indicator published, every field filled.
    let meta = parquet_rows(&out.join("indicators.parquet"));
    let ids: BTreeSet<&str> = card.iter().map(|r| r["indicator_id"].as_str()).collect();
    let listed: BTreeSet<&str> = meta.iter().map(|r| r["indicator_id"].as_str()).collect();
    assert_eq!(ids, listed);
    for m in &meta {
        for f in [
            "definition",
            "rationale",
            "numerator_definition",
            "denominator_definition",
            "data_source",
            "unit",
        ] {
            assert!(!m[f].is_empty(), "{}: no {f}", m["indicator_id"]);
        }
    }
    let csv = std::fs::read(out.join("indicators.csv")).unwrap();
    assert!(
        csv.starts_with(b"\xEF\xBB\xBF"),
        "the CSV starts with a BOM for Excel"
    );
    assert!(
        std::fs::read(out.join("scorecard.csv"))
            .unwrap()
            .starts_with(b"\xEF\xBB\xBF")
    );

    // The open-data export: the standard's rules, file by file.
    let ees = out.join("ees");
    let mut breaches = Vec::new();
    let mut all: Vec<Record> = Vec::new();
    for name in [
        "startwell_scorecard",
        "startwell_scorecard_terms",
        "startwell_scorecard_quarters",
    ] {
        let (data, meta) = (
            ees.join(format!("{name}.csv")),
            ees.join(format!("{name}.meta.csv")),
        );
        breaches.extend(ees_breaches(name, &data, &meta));
        all.extend(read_csv(&data).1);
    }
    assert!(breaches.is_empty(), "{breaches:#?}");

    // Every published row is in the export once, with the same figures.
    assert_eq!(all.len(), card.len());
    let names: HashMap<&str, &str> = card
        .iter()
        .map(|r| (r["indicator_name"].as_str(), r["indicator_id"].as_str()))
        .collect();
    let level = |t: &str| match t {
        "england" => "National",
        "region" => "Regional",
        "local_authority" => "Local authority",
        _ => "Ward",
    };
    let mut index: HashMap<(String, String, String, String, String, String), &Record> = HashMap::new();
    for r in &all {
        let area = match r["geographic_level"].as_str() {
            "National" => r["country_code"].clone(),
            "Regional" => r["region_code"].clone(),
            "Local authority" => r["new_la_code"].clone(),
            _ => r["ward_code"].clone(),
        };
        let id = names[r["indicator"].as_str()].to_string();
        let key = (
            id,
            r["time_period"].clone(),
            r["time_identifier"].clone(),
            r["geographic_level"].clone(),
            area,
            r["breakdown"].clone(),
        );
        assert!(
            index.insert(key, r).is_none(),
            "two export rows for one cell: {r:?}"
        );
    }
    let mut compared = 0;
    for c in &card {
        let kind = if c["period"].contains(" Q") {
            startwell::indicators::catalogue::PeriodType::FinancialQuarter
        } else if c["period"].contains('/') {
            startwell::indicators::catalogue::PeriodType::AcademicYear
        } else {
            startwell::indicators::catalogue::PeriodType::Term
        };
        let (tp, ti) = ees_time(kind, &c["period"]);
        let breakdown = if c["breakdown"] == "all" {
            "Total".to_string()
        } else {
            c["breakdown_value"].clone()
        };
        let k = (
            c["indicator_id"].clone(),
            tp,
            ti,
            level(&c["area_type"]).to_string(),
            c["area_code"].clone(),
            breakdown,
        );
        let e = index
            .get(&k)
            .unwrap_or_else(|| panic!("{k:?} is not in the export"));
        let symbol = c["status_symbol"].as_str();
        for (col, ecol) in [
            ("numerator", "numerator"),
            ("denominator", "denominator"),
            ("value", "value"),
            ("lower_95", "lower_95"),
        ] {
            let want = &c[col];
            let got = &e[ecol];
            if want.is_empty() {
                let expect = if symbol.is_empty() { "z" } else { symbol };
                assert_eq!(got, expect, "{k:?} {col}");
            } else {
                let (w, g): (f64, f64) = (want.parse().unwrap(), got.parse().unwrap());
                assert!(
                    (w - g).abs() < 1e-9,
                    "{k:?} {col}: {want} in the scorecard, {got} in the export"
                );
            }
        }
        compared += 1;
    }
    assert!(compared > 1000, "{compared}");

    check_workbook(&out.join("scorecard.xlsx"), &card);
    check_report_in_a_browser(&out.join("scorecard.html"), &card);
}

/// The report in a real browser (headless Chromium, over the DevTools protocol):
/// no console error, no request beyond the file itself, no sideways scrolling at
/// desktop or phone width, and every figure it shows equal to the scorecard's.
/// Screenshots (desktop, phone, each section) and an A4 PDF are left in
/// `$CARGO_TARGET_TMPDIR/report/` to look at.
fn check_report_in_a_browser(page: &Path, card: &[Record]) {
    let html = std::fs::read_to_string(page).unwrap();
    assert!(!html.contains("<script"), "the report runs no script");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    let Some(report) = crate::common::render_in_browser(page, &shots) else {
        return;
    };
    assert_eq!(report["console_errors"], serde_json::json!([]), "console errors");
    assert_eq!(
        report["requests"],
        serde_json::json!([]),
        "the page asked for something"
    );
    assert_eq!(
        report["overflow"]["desktop"], false,
        "sideways scrolling at desktop width"
    );
    assert_eq!(
        report["overflow"]["phone"], false,
        "sideways scrolling at phone width"
    );
    for f in [
        "desktop.png",
        "phone.png",
        "print.pdf",
        "section-headline.png",
        "section-wards.png",
    ] {
        assert!(shots.join(f).metadata().is_ok_and(|m| m.len() > 1000), "{f}");
    }

    // Every figure shown is the scorecard's, for its indicator, period and area.
    let index: HashMap<(&str, &str, &str), &Record> = card
        .iter()
        .filter(|r| r["breakdown"] == "all")
        .map(|r| {
            (
                (
                    r["indicator_id"].as_str(),
                    r["period"].as_str(),
                    r["area_code"].as_str(),
                ),
                r,
            )
        })
        .collect();
    let figures = report["figures"].as_array().unwrap();
    let mut indicators = BTreeSet::new();
    for f in figures {
        let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
        let (id, period, area) = (s("indicator"), s("period"), s("area"));
        let row = index
            .get(&(id.as_str(), period.as_str(), area.as_str()))
            .unwrap_or_else(|| panic!("the page shows {id} {period} {area}, which the scorecard lacks"));
        let (want, shown, text) = (&row["value"], s("value"), s("text"));
        if want.is_empty() {
            assert!(
                shown.is_empty(),
                "{id} {period} {area}: the scorecard has no value, the page {shown}"
            );
            let symbol = &row["status_symbol"];
            assert!(
                text.starts_with(symbol.as_str()),
                "{id} {period} {area}: {text} for symbol {symbol}"
            );
        } else {
            let (w, g): (f64, f64) = (want.parse().unwrap(), shown.parse().unwrap());
            assert!(
                (w - g).abs() < 1e-9,
                "{id} {period} {area}: {w} in the scorecard, {g} on the page"
            );
            let digits = if row["unit"] == "count" {
                format!("{w:.0}")
            } else {
                format!("{w:.1}")
            };
            assert!(
                text.replace(',', "").starts_with(&digits),
                "{id} {period} {area}: shown as {text}, the scorecard's value is {w}"
            );
        }
        indicators.insert(id);
    }
    assert!(
        figures.len() > 200 && indicators.len() > 30,
        "{} figures, {} indicators",
        figures.len(),
        indicators.len()
    );
}

/// The workbook read back: its sheets, every published row on its domain's
/// sheet with the same figures, dates as dates, and the summary's values.
fn check_workbook(path: &Path, card: &[Record]) {
    use calamine::{Data, Reader, open_workbook_auto};
    let mut wb = open_workbook_auto(path).unwrap();
    assert_eq!(
        wb.sheet_names(),
        [
            "Summary",
            "School readiness",
            "Childcare",
            "Health visiting",
            "Linked",
            "Indicators",
            "Notes"
        ]
    );
    let mut on_sheets = 0;
    for (sheet, domain) in [
        ("School readiness", "school_readiness"),
        ("Childcare", "childcare"),
        ("Health visiting", "health_visiting"),
        ("Linked", "linked"),
    ] {
        let range = wb.worksheet_range(sheet).unwrap();
        let mut rows = range.rows();
        let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
        assert_eq!(header[0], "indicator_id");
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let want: Vec<&Record> = card.iter().filter(|r| r["domain"] == domain).collect();
        let got: Vec<&[Data]> = rows.collect();
        assert_eq!(got.len(), want.len(), "{sheet}");
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(g[col("indicator_id")].to_string(), w["indicator_id"]);
            assert_eq!(g[col("area_code")].to_string(), w["area_code"]);
            assert_eq!(g[col("breakdown_value")].to_string(), w["breakdown_value"]);
            match (&g[col("value")], w["value"].as_str()) {
                (Data::Empty, "") => {}
                (Data::Float(v), want) => assert!((v - want.parse::<f64>().unwrap()).abs() < 1e-9),
                (other, want) => panic!("{sheet}: value {other:?}, scorecard {want}"),
            }
            assert!(
                matches!(g[col("period_start")], Data::DateTime(_)),
                "{sheet}: period_start is a date: {:?}",
                g[col("period_start")]
            );
            on_sheets += 1;
        }
    }
    assert_eq!(on_sheets, card.len());

    let summary = wb.worksheet_range("Summary").unwrap();
    let rows: Vec<&[Data]> = summary.rows().collect();
    let header = rows.iter().position(|r| r[0] == "Domain").unwrap();
    let gld = rows[header + 1..]
        .iter()
        .find(|r| r[1] == "Children achieving a good level of development at the end of Reception")
        .expect("sr_gld in the summary");
    let latest = card
        .iter()
        .filter(|r| r["indicator_id"] == "sr_gld" && r["area_code"] == "E08000999" && r["breakdown"] == "all")
        .max_by_key(|r| r["period"].clone())
        .unwrap();
    assert_eq!(gld[2].to_string(), latest["period"]);
    let Data::Float(v) = gld[3] else {
        panic!("sr_gld's value: {:?}", gld[3])
    };
    assert!((v - latest["value"].parse::<f64>().unwrap()).abs() < 1e-9);
    let words = gld[8].to_string();
    assert!(
        startwell::stats::Comparison::ALL
            .iter()
            .any(|c| c.wording() == words),
        "the comparison in words: {words}"
    );
}

/// The period label's open-data time, worked out here independently of the code.
fn ees_time(kind: startwell::indicators::catalogue::PeriodType, label: &str) -> (String, String) {
    use startwell::indicators::catalogue::PeriodType::*;
    match kind {
        AcademicYear => (label.replace('/', ""), "Academic year".into()),
        FinancialQuarter => {
            let (y, q) = label.split_once(" Q").unwrap();
            (y.replace('/', ""), format!("Financial year Q{q}"))
        }
        Term => {
            let (term, year) = label.split_once(' ').unwrap();
            let y: u32 = year.parse().unwrap();
            let start = if term == "Autumn" { y } else { y - 1 };
            (format!("{start}{:02}", (start + 1) % 100), format!("{term} term"))
        }
    }
}
