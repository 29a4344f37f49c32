//! The published scorecard: indicator fixtures, the contract's columns and types,
//! every indicator id, history by version, and disclosure control that an
//! attacker cannot undo.

use std::collections::{BTreeMap, HashMap};

use datafusion::parquet::basic::{LogicalType, Type as Physical};
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use datafusion::parquet::record::Field;
use startwell::run::RunOptions;

use crate::common::{TestProject, forced, repo};

#[tokio::test]
async fn indicator_fixtures_pass_and_cover_every_indicator() {
    let project = startwell::config::load_project(&repo()).unwrap();
    let report = fixtures_passed(&project).await;
    assert!(
        report.untested.is_empty(),
        "indicators without a fixture: {:?}",
        report.untested
    );
    assert!(report.checks >= 40, "{}", report.checks);
}

/// The views in parts (`in_part`) give every fixture's figures when each table's
/// rows are split into as many parts as there are rows (up to the most parts):
/// the fixtures' children are then counted part by part.
#[tokio::test]
async fn indicator_fixtures_pass_with_views_computed_in_many_parts() {
    let mut project = startwell::config::load_project(&repo()).unwrap();
    project.compute.part_rows = std::num::NonZeroU64::new(1).unwrap();
    let report = fixtures_passed(&project).await;
    assert!(report.checks >= 40, "{}", report.checks);
}

/// Run every indicator fixture of `project`; fail naming each one that failed.
async fn fixtures_passed(project: &startwell::config::Project) -> startwell::indicators::fixtures::Report {
    let report = startwell::indicators::fixtures::run_all(project).await.unwrap();
    let failures: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("{}: {}", f.file.display(), f.message))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    report
}

/// The same lake gives the same published scorecard whether its views are
/// computed in one part or in many (`[compute] part_rows`).
#[tokio::test(flavor = "multi_thread")]
async fn the_scorecard_is_the_same_computed_in_parts() {
    let tp = TestProject::new();
    tp.generate(200, 2);
    let out = tp.path().join("data/outputs");
    tp.run(RunOptions::default()).await.unwrap();
    let whole = published_without_run_id(&out);
    let storage = tp.storage();
    let part_rows = 97;
    for table in ["hv_contacts", "ey_headcount"] {
        let rows = crate::common::count(&storage, table, "").await;
        assert!(
            rows > 8 * part_rows,
            "{table} has {rows} rows: too few to split into parts"
        );
    }
    let toml = tp.path().join("startwell.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let shipped = "\npart_rows = 1500000\n";
    assert!(
        text.contains(shipped),
        "the shipped startwell.toml sets [compute] part_rows"
    );
    std::fs::write(
        &toml,
        text.replace(shipped, &format!("\npart_rows = {part_rows}\n")),
    )
    .unwrap();
    assert_eq!(tp.project().compute.part_rows.get(), part_rows as u64);
    tp.run(forced()).await.unwrap();
    let parted = published_without_run_id(&out);
    assert!(whole.len() > 1000, "{} rows", whole.len());
    assert_eq!(whole, parted, "computed in parts, the scorecard must not change");
}

/// Contract columns: (name, physical type, logical type is string/date).
const COLUMNS: &[(&str, &str)] = &[
    ("indicator_id", "utf8"),
    ("indicator_name", "utf8"),
    ("domain", "utf8"),
    ("unit", "utf8"),
    ("polarity", "utf8"),
    ("period", "utf8"),
    ("period_start", "date"),
    ("period_end", "date"),
    ("area_type", "utf8"),
    ("area_code", "utf8"),
    ("area_name", "utf8"),
    ("breakdown", "utf8"),
    ("breakdown_value", "utf8"),
    ("numerator", "int64"),
    ("denominator", "int64"),
    ("value", "double"),
    ("lower_95", "double"),
    ("upper_95", "double"),
    ("lower_998", "double"),
    ("upper_998", "double"),
    ("benchmark_area", "utf8"),
    ("benchmark_value", "double"),
    ("comparison", "utf8"),
    ("trend", "utf8"),
    ("status_symbol", "utf8"),
    ("run_id", "utf8"),
];

const IDS: &[&str] = &[
    "sr_gld",
    "sr_gld_fsm_gap",
    "sr_gld_fsm_boys_gap",
    "sr_avg_elgs",
    "sr_all_elgs",
    "sr_comm_lang_lit",
    "sr_elg_speaking",
    "cc_2yo_takeup",
    "cc_3_4yo_takeup",
    "cc_30h_places",
    "hv_antenatal",
    "hv_nbv_14d",
    "hv_6_8wk_review",
    "hv_breastfeeding_6_8wk",
    "hv_12m_review_12m",
    "hv_12m_review_15m",
    "hv_2yr_review",
    "hv_2yr_review_asq",
    "hv_asq_communication",
    "hv_asq_gross_motor",
    "hv_asq_fine_motor",
    "hv_asq_problem_solving",
    "hv_asq_personal_social",
    "hv_asq_all_five",
    "lk_gld_by_2yo_takeup",
    "lk_gld_by_asq_communication",
];

type Published = Vec<BTreeMap<String, Field>>;

fn read_parquet(path: &std::path::Path) -> (Vec<(String, Physical, Option<LogicalType>)>, Published) {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let cols = schema
        .columns()
        .iter()
        .map(|c| {
            (
                c.name().to_string(),
                c.physical_type(),
                c.logical_type_ref().cloned(),
            )
        })
        .collect();
    let rows = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap().into_columns().into_iter().collect::<BTreeMap<_, _>>())
        .collect();
    (cols, rows)
}

fn text(r: &BTreeMap<String, Field>, c: &str) -> String {
    match &r[c] {
        Field::Str(s) => s.clone(),
        Field::Null => String::new(),
        other => other.to_string(),
    }
}

fn int(r: &BTreeMap<String, Field>, c: &str) -> Option<i64> {
    match &r[c] {
        Field::Long(v) => Some(*v),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_published_scorecard_keeps_the_contract_and_hides_small_cells() {
    let tp = TestProject::new();
    // Four years, so that 2-year-olds of the first years reach Reception in the last.
    tp.generate(200, 4);
    tp.run(RunOptions::default()).await.unwrap();
    let out = tp.path().join("data/outputs");
    let (cols, rows) = read_parquet(&out.join("scorecard.parquet"));

    // Columns, names and physical types exactly as shared/contracts.md.
    assert_eq!(cols.len(), COLUMNS.len());
    for ((name, physical, logical), (want, kind)) in cols.iter().zip(COLUMNS) {
        assert_eq!(name, want);
        let ok = match *kind {
            "utf8" => *physical == Physical::BYTE_ARRAY && matches!(logical, Some(LogicalType::String)),
            "date" => *physical == Physical::INT32 && matches!(logical, Some(LogicalType::Date)),
            "int64" => *physical == Physical::INT64,
            "double" => *physical == Physical::DOUBLE,
            _ => false,
        };
        assert!(ok, "{name}: {physical:?} {logical:?}, expected {kind}");
    }
    // Every contract indicator id, and England rows for the EYFSP indicators.
    for id in IDS {
        assert!(
            rows.iter().any(|r| text(r, "indicator_id") == *id),
            "{id} missing"
        );
    }
    assert!(
        rows.iter()
            .any(|r| text(r, "indicator_id") == "sr_gld" && text(r, "area_type") == "england")
    );
    assert!(
        rows.iter()
            .any(|r| text(r, "indicator_id") == "sr_gld" && text(r, "area_type") == "region")
    );
    // The configured comparator council, from the public file, compared with England.
    assert!(rows.iter().any(|r| text(r, "indicator_id") == "sr_gld"
        && text(r, "area_code") == "E08000998"
        && text(r, "benchmark_area") == "England"));
    assert!(out.join("scorecard.csv").exists());

    // Disclosure: no published count from 1 to 5 in the council's rows...
    let own: Vec<&BTreeMap<String, Field>> = rows
        .iter()
        .filter(|r| {
            let t = text(r, "area_type");
            t == "ward" || (t == "local_authority" && text(r, "area_code") == "E08000999")
        })
        .collect();
    for r in &own {
        for c in ["numerator", "denominator"] {
            if let Some(v) = int(r, c) {
                assert!(
                    !(1..6).contains(&v),
                    "{} {c} = {v} published",
                    text(r, "indicator_id")
                );
            }
        }
    }
    // ...and no suppressed cell recoverable by subtraction: an attacker solves every
    // "parent = sum of children" relation that has one unknown.
    let mut suppressed = 0;
    let mut by_cell: BTreeMap<(String, String), Vec<&BTreeMap<String, Field>>> = BTreeMap::new();
    for r in &own {
        if text(r, "unit") == "percent" {
            by_cell
                .entry((text(r, "indicator_id"), text(r, "period")))
                .or_default()
                .push(r);
        }
    }
    for ((id, period), cells) in &by_cell {
        let key = |r: &BTreeMap<String, Field>| {
            if text(r, "area_type") == "ward" {
                format!("ward:{}", text(r, "area_code"))
            } else {
                format!("{}:{}", text(r, "breakdown"), text(r, "breakdown_value"))
            }
        };
        let mut known: HashMap<String, Option<(i64, i64)>> = HashMap::new();
        for r in cells {
            let v = int(r, "numerator").zip(int(r, "denominator"));
            if v.is_none() && text(r, "status_symbol") == "c" {
                suppressed += 1;
            }
            known.insert(key(r), v);
        }
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        let mut by_breakdown: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for k in known.keys() {
            let b = k.split(':').next().unwrap().to_string();
            if b != "all" {
                by_breakdown.entry(b).or_default().push(k.clone());
            }
        }
        for (_, ch) in by_breakdown {
            groups.push(("all:All".into(), ch));
        }
        for (p, ch) in [
            ("fsm:FSM", ["fsm_sex:FSM boys", "fsm_sex:FSM girls"]),
            ("fsm:Not FSM", ["fsm_sex:Not FSM boys", "fsm_sex:Not FSM girls"]),
            ("sex:Boys", ["fsm_sex:FSM boys", "fsm_sex:Not FSM boys"]),
            ("sex:Girls", ["fsm_sex:FSM girls", "fsm_sex:Not FSM girls"]),
        ] {
            let children: Vec<String> = ch
                .iter()
                .map(|s| s.to_string())
                .filter(|s| known.contains_key(s))
                .collect();
            if known.contains_key(p) && !children.is_empty() {
                groups.push((p.into(), children));
            }
        }
        // Any relation with exactly one unknown gives that cell away.
        for (parent, children) in &groups {
            let members: Vec<&String> = std::iter::once(parent).chain(children.iter()).collect();
            let unknown: Vec<&&String> = members.iter().filter(|m| known[**m].is_none()).collect();
            assert!(
                unknown.len() != 1,
                "{id} {period}: suppressed cell {} is recoverable by subtraction",
                unknown[0]
            );
        }
    }
    assert!(suppressed > 0, "the test data has suppressed cells to attack");

    // History: one Delta version per computed scorecard; an earlier one can be read back by version.
    let storage = tp.storage();
    let before = storage.table("scorecard").await.unwrap().version().unwrap();
    tp.run(forced()).await.unwrap();
    let after = storage.table("scorecard").await.unwrap().version().unwrap();
    assert_eq!(after, before + 1);
    let url = storage.table_url("scorecard");
    let mut old = deltalake::DeltaTableBuilder::from_url(url.clone())
        .unwrap()
        .with_storage_backend(storage.store.clone(), url)
        .build()
        .unwrap();
    old.load_version(before).await.unwrap();
    assert!(old.snapshot().unwrap().log_data().num_files() > 0);
}

/// The cells of one table (indicator, period) of a publication's disclosure state,
/// keyed as the attacker sees them.
type Table = BTreeMap<String, (i64, i64, bool)>;

fn tables_of(p: &startwell::indicators::protect::Publication) -> BTreeMap<(String, String), Table> {
    let mut out: BTreeMap<(String, String), Table> = BTreeMap::new();
    for c in &p.cells {
        let key = if c.place.area_type == "ward" {
            format!("ward:{}", c.place.area_code)
        } else {
            format!("{}:{}", c.place.breakdown, c.place.breakdown_value)
        };
        out.entry((c.indicator_id.clone(), c.period_key.clone()))
            .or_default()
            .insert(key, (c.numerator, c.denominator, c.suppressed));
    }
    out
}

/// The attacker's relations between cells, built from their names alone.
fn relations(keys: &[&String]) -> Vec<startwell::disclosure::Group> {
    let at = |k: &str| keys.iter().position(|x| x.as_str() == k);
    let Some(total) = at("all:All") else {
        return Vec::new();
    };
    let mut by_breakdown: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        let b = k.split(':').next().unwrap();
        if b != "all" {
            by_breakdown.entry(b).or_default().push(i);
        }
    }
    let mut groups: Vec<startwell::disclosure::Group> = by_breakdown
        .into_values()
        .map(|children| startwell::disclosure::Group {
            parent: total,
            children,
        })
        .collect();
    for (p, ch) in [
        ("fsm:FSM", ["fsm_sex:FSM boys", "fsm_sex:FSM girls"]),
        ("fsm:Not FSM", ["fsm_sex:Not FSM boys", "fsm_sex:Not FSM girls"]),
        ("sex:Boys", ["fsm_sex:FSM boys", "fsm_sex:Not FSM boys"]),
        ("sex:Girls", ["fsm_sex:FSM girls", "fsm_sex:Not FSM girls"]),
    ] {
        let children: Vec<usize> = ch.iter().filter_map(|c| at(c)).collect();
        if let (Some(parent), false) = (at(p), children.is_empty()) {
            groups.push(startwell::disclosure::Group { parent, children });
        }
    }
    groups
}

/// Solve two publications together (the linear attacker over both versions'
/// cells; a cell with the same counts in both is one unknown): what it recovers.
fn attack_two(before: &Table, after: &Table) -> Vec<String> {
    use startwell::disclosure::{Cell, Previous, recoverable_across};
    fn cells_of(t: &Table) -> (Vec<&String>, Vec<Cell>) {
        t.iter()
            .map(|(k, (x, n, s))| {
                (
                    k,
                    Cell {
                        numerator: *x,
                        denominator: *n,
                        suppressed: *s,
                    },
                )
            })
            .unzip()
    }
    let (old_keys, old_cells) = cells_of(before);
    let (new_keys, new_cells) = cells_of(after);
    let prev = Previous {
        groups: relations(&old_keys),
        cells: old_cells,
        same_key: new_keys
            .iter()
            .map(|k| old_keys.iter().position(|o| o == k))
            .collect(),
    };
    let groups = relations(&new_keys);
    let mut names: Vec<String> = new_keys.iter().map(|k| format!("now {k}")).collect();
    names.extend(old_keys.iter().map(|k| format!("before {k}")));
    recoverable_across(&new_cells, &groups, &prev)
        .into_iter()
        .map(|i| names.get(i).cloned().unwrap_or_else(|| format!("cell {i}")))
        .collect()
}

async fn disclosure_state(tp: &TestProject, run_id: &str) -> startwell::indicators::protect::Publication {
    let bytes = tp
        .storage()
        .get(&format!("state/disclosure/{run_id}.json"))
        .await
        .unwrap()
        .expect("each publication keeps its disclosure state");
    serde_json::from_slice(&bytes).unwrap()
}

/// Every published row but its run id, as text, sorted.
fn published_without_run_id(out: &std::path::Path) -> Vec<String> {
    let (_, rows) = read_parquet(&out.join("scorecard.parquet"));
    let mut lines: Vec<String> = rows
        .into_iter()
        .map(|mut r| {
            r.remove("run_id");
            format!("{r:?}")
        })
        .collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn publications_are_deterministic_and_safe_together() {
    let tp = TestProject::new();
    tp.generate(200, 4);
    // Hold back the corrected re-delivery: it arrives after the first publications.
    let eyfsp = tp.landing().join("eyfsp");
    let corrected = std::fs::read_dir(&eyfsp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("corrected"))
        .expect("the generator writes a corrected re-delivery");
    let held = tp.path().join("held.csv");
    std::fs::rename(&corrected, &held).unwrap();
    let out = tp.path().join("data/outputs");

    let first = tp.run(RunOptions::default()).await.unwrap();
    let first_rows = published_without_run_id(&out);
    let second = tp.run(forced()).await.unwrap();
    assert_eq!(
        first_rows,
        published_without_run_id(&out),
        "the same lake published twice must give the same rows"
    );
    let (a, b) = (
        disclosure_state(&tp, &first.run_id).await,
        disclosure_state(&tp, &second.run_id).await,
    );
    assert_eq!(a.cells, b.cells);

    std::fs::rename(&held, &corrected).unwrap();
    let third = tp.run(RunOptions::default()).await.unwrap();
    let c = disclosure_state(&tp, &third.run_id).await;
    assert_ne!(b.cells, c.cells, "the correction changed some counts");

    // The state says what was published: its suppressed cells are the published `c` cells.
    let (_, rows) = read_parquet(&out.join("scorecard.parquet"));
    let published_c = rows
        .iter()
        .filter(|r| {
            let t = text(r, "area_type");
            (t == "ward" || (t == "local_authority" && text(r, "area_code") == "E08000999"))
                && text(r, "unit") != "percentage_points"
                && text(r, "status_symbol") == "c"
        })
        .count();
    assert_eq!(published_c, c.cells.iter().filter(|c| c.suppressed).count());

    // An attacker holding both publications recovers nothing.
    let (before, after) = (tables_of(&b), tables_of(&c));
    let mut changed_tables = 0;
    let mut hidden = 0;
    for (key, now) in &after {
        let then = before.get(key).cloned().unwrap_or_default();
        if then != *now {
            changed_tables += 1;
        }
        hidden += now.values().filter(|c| c.2).count();
        let recovered = attack_two(&then, now);
        assert!(recovered.is_empty(), "{key:?}: recovered {recovered:?}");
    }
    assert!(
        changed_tables > 0 && hidden > 0,
        "the test data has changed tables and hidden cells to attack"
    );
}

/// Nothing new, nothing recomputed: a run with no new file and no change to what
/// the scorecard is computed from publishes nothing and says so; a changed
/// indicator file, a new file or `--force-scorecard` recompute it.
#[tokio::test(flavor = "multi_thread")]
async fn nothing_new_means_nothing_recomputed() {
    let tp = TestProject::new();
    tp.generate(40, 1);
    let storage = tp.storage();
    let version = || async { storage.table("scorecard").await.unwrap().version().unwrap() };
    let first = tp.run(RunOptions::default()).await.unwrap();
    assert!(first.no_changes_since.is_none() && first.scorecard_rows > 0);
    let v1 = version().await;

    let again = tp.run(RunOptions::default()).await.unwrap();
    assert_eq!(again.status, "succeeded");
    assert_eq!(again.no_changes_since.as_deref(), Some(first.run_id.as_str()));
    assert_eq!(again.scorecard_rows, 0);
    assert_eq!(version().await, v1, "no new publication");
    assert!(startwell::run::summary(&again).contains("no changes since run"));

    // A change to an indicator's SQL (even a comment) is a change.
    let sql = tp.path().join("pipelines/indicators/cc_2yo_takeup.sql");
    let text = std::fs::read_to_string(&sql).unwrap();
    std::fs::write(&sql, format!("-- edited\n{text}")).unwrap();
    let edited = tp.run(RunOptions::default()).await.unwrap();
    assert!(edited.no_changes_since.is_none() && edited.scorecard_rows > 0);
    assert_eq!(version().await, v1 + 1);

    // A new file changes a table.
    let dwp = tp.landing().join("dwp_2yo");
    let any = std::fs::read_dir(&dwp).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&any).unwrap();
    bytes.extend_from_slice(b"\r\n"); // new bytes, the same rows, another term
    std::fs::write(dwp.join("dwp_2yo_2030-autumn.csv"), bytes).unwrap();
    let newfile = tp.run(RunOptions::default()).await.unwrap();
    assert!(newfile.no_changes_since.is_none(), "{:?}", newfile.files);
    assert_eq!(version().await, v1 + 2);

    // Forced.
    let forced = tp.run(forced()).await.unwrap();
    assert!(forced.no_changes_since.is_none());
    assert_eq!(version().await, v1 + 3);
    let quiet = tp.run(RunOptions::default()).await.unwrap();
    assert_eq!(quiet.no_changes_since.as_deref(), Some(forced.run_id.as_str()));
}

/// `[compute]`: the engine's scratch folder (the views computed once per run)
/// is where configured and removed after the scorecard; a memory limit too small
/// for a query fails the run with a message naming the setting to raise.
#[tokio::test(flavor = "multi_thread")]
async fn compute_scratch_is_cleaned_and_a_too_small_memory_limit_is_named() {
    let tp = TestProject::new();
    tp.generate(40, 1);
    let toml = tp.path().join("startwell.toml");
    let shipped = std::fs::read_to_string(&toml).unwrap();
    let base = shipped.replace("# scratch_dir = \"scratch\"", "scratch_dir = \"scratch\"");
    assert_ne!(
        base, shipped,
        "the shipped startwell.toml shows [compute] scratch_dir"
    );
    std::fs::write(&toml, &base).unwrap();
    let first = tp.run(RunOptions::default()).await.unwrap();
    assert_eq!(first.status, "succeeded");
    assert!(first.scorecard_rows > 0);
    let left: Vec<_> = std::fs::read_dir(tp.path().join("scratch")).unwrap().collect();
    assert!(left.is_empty(), "scratch left behind: {left:?}");

    let tiny = base.replace("memory_limit = \"2 GiB\"", "memory_limit = \"16 KiB\"");
    assert_ne!(tiny, base);
    std::fs::write(&toml, tiny).unwrap();
    let err = tp.run(forced()).await.unwrap_err().to_string();
    assert!(err.contains("[compute] memory_limit"), "{err}");
    let left: Vec<_> = std::fs::read_dir(tp.path().join("scratch")).unwrap().collect();
    assert!(left.is_empty(), "scratch left behind after a failure: {left:?}");

    // Queries run two at a time publish the same scorecard.
    std::fs::write(&toml, &base).unwrap();
    let out = tp.path().join("data").join("outputs");
    let one = published_without_run_id(&out);
    let two = base.replace("concurrent_queries = 1", "concurrent_queries = 2");
    assert_ne!(two, base);
    std::fs::write(&toml, two).unwrap();
    let again = tp.run(forced()).await.unwrap();
    assert!(again.scorecard_rows > 0);
    assert_eq!(published_without_run_id(&out), one);
}

/// A mistake in one indicator of a shared query is reported against that
/// indicator, not against every indicator computed in the same pass.
#[tokio::test]
async fn validate_names_the_indicator_at_fault_in_a_shared_query() {
    let tp = TestProject::new();
    let cat = tp.path().join("pipelines/indicators/catalogue.toml");
    let text = std::fs::read_to_string(&cat).unwrap();
    let broken = text.replace("numerator = \"comm_lang_lit\"", "numerator = \"comm_lang_lit_x\"");
    assert_ne!(broken, text);
    std::fs::write(&cat, broken).unwrap();
    let issues = startwell::indicators::validate(&tp.project()).await;
    let messages: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("indicator `sr_comm_lang_lit`:"),
        "{messages:?}"
    );
    assert!(messages[0].contains("comm_lang_lit_x"), "{messages:?}");
}

fn float(r: &BTreeMap<String, Field>, c: &str) -> Option<f64> {
    match &r[c] {
        Field::Double(v) => Some(*v),
        _ => None,
    }
}

/// The shipped targets are evaluated on the published rows: each figure is the
/// council's published value for its period (or none, when not assessable), the
/// change is latest − baseline inside its interval, and editing a target alone
/// makes the next run recompute.
#[tokio::test(flavor = "multi_thread")]
async fn targets_are_evaluated_on_the_published_rows() {
    let tp = TestProject::new();
    tp.generate(200, 4);
    let first = tp.run(RunOptions::default()).await.unwrap();
    let out = tp.path().join("data/outputs");
    let (_, card) = read_parquet(&out.join("scorecard.parquet"));
    let (_, targets) = read_parquet(&out.join("targets.parquet"));
    assert!(out.join("targets.csv").exists());
    let names: Vec<String> = targets.iter().map(|t| text(t, "target")).collect();
    assert_eq!(
        names,
        [
            "fsm_gap_narrowed",
            "fsm_boys_gap_narrowed",
            "gld_at_or_above_england"
        ]
    );
    let published = |id: &str, period: &str| {
        let own: Vec<_> = card
            .iter()
            .filter(|r| {
                text(r, "indicator_id") == id
                    && text(r, "period") == period
                    && text(r, "area_type") == "local_authority"
                    && text(r, "area_code") == "E08000999"
                    && text(r, "breakdown") == "all"
            })
            .collect();
        assert_eq!(own.len(), 1, "{id} {period}");
        float(own[0], "value")
    };
    let mut assessed = 0;
    for t in &targets {
        let status = text(t, "status");
        let id = text(t, "indicator_id");
        if status == "not_assessable" {
            for c in [
                "baseline_value",
                "latest_value",
                "change",
                "change_lower_95",
                "change_upper_95",
            ] {
                assert_eq!(float(t, c), None, "{id}: {c}");
            }
            continue;
        }
        assert!(
            ["on_course", "off_course", "met", "not_met", "too_early"].contains(&status.as_str()),
            "{status}"
        );
        let latest = text(t, "latest_period");
        assert_eq!(float(t, "baseline_value"), published(&id, "2023/24"), "{id}");
        assert_eq!(float(t, "latest_value"), published(&id, &latest), "{id}");
        let (b, l) = (
            float(t, "baseline_value").unwrap(),
            float(t, "latest_value").unwrap(),
        );
        let d = float(t, "change").unwrap();
        assert!((d - (l - b)).abs() < 1e-9);
        let (lo, hi) = (
            float(t, "change_lower_95").unwrap(),
            float(t, "change_upper_95").unwrap(),
        );
        assert!(lo < d && d < hi, "{id}: {lo} {d} {hi}");
        assert!(text(t, "wording").contains(&latest));
        assessed += 1;
    }
    assert!(assessed >= 1, "{targets:?}");
    // The demo's section names every target.
    let summary = startwell::indicators::targets::summary(&first.targets);
    for n in &names {
        assert!(summary.contains(n.as_str()), "{summary}");
    }

    // Nothing new: not recomputed. A target edited: recomputed.
    let again = tp.run(RunOptions::default()).await.unwrap();
    assert!(again.no_changes_since.is_some());
    let toml = tp.path().join("startwell.toml");
    let text_before = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text_before.replacen("by = \"2026/27\"", "by = \"2027/28\"", 1),
    )
    .unwrap();
    let edited = tp.run(RunOptions::default()).await.unwrap();
    assert!(edited.no_changes_since.is_none() && edited.scorecard_rows > 0);
    assert_eq!(edited.targets[0].by_period, "2027/28");
}

/// `validate` names each target at fault, by its place and name.
#[tokio::test]
async fn validate_names_each_target_at_fault() {
    let tp = TestProject::new();
    let toml = tp.path().join("startwell.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let start = text.find("[[target]]").unwrap();
    let end = text.find("[serve]").unwrap();
    let bad = r#"[[target]]
name = "typo"
indicator = "sr_gld_fsm_gapp"
baseline = "2023/24"
by = "2026/27"
aim = "narrow"

[[target]]
name = "dates"
indicator = "sr_gld"
baseline = "2023-24"
by = "2022/23"
aim = "increase"

[[target]]
name = "no_value"
indicator = "sr_gld"
baseline = "2023/24"
by = "2026/27"
aim = "value"

[[target]]
name = "narrow_not_a_gap"
indicator = "sr_gld"
breakdown = "sex"
baseline = "2023/24"
by = "2026/27"
aim = "narrow"

"#;
    std::fs::write(&toml, format!("{}{bad}{}", &text[..start], &text[end..])).unwrap();
    let issues = startwell::indicators::validate(&tp.project()).await;
    let messages: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
    let expect = [
        "[[target]] 1 (typo): no indicator `sr_gld_fsm_gapp`",
        "[[target]] 2 (dates): baseline \"2023-24\" is not a period of `sr_gld`",
        "[[target]] 3 (no_value): aim \"value\" needs `value`",
        "[[target]] 4 (narrow_not_a_gap): give `breakdown` and `breakdown_value` together",
        "[[target]] 4 (narrow_not_a_gap): aim \"narrow\" is for gaps",
    ];
    for e in expect {
        assert!(messages.iter().any(|m| m.starts_with(e)), "{e}\n{messages:#?}");
    }
    assert_eq!(messages.len(), expect.len(), "{messages:#?}");
    assert!(issues.iter().all(|i| i.file.ends_with("startwell.toml")));
}

/// A typo in the catalogue is caught before a run ingests anything (exit 2,
/// the file and line), and by `validate` with the same line.
#[tokio::test(flavor = "multi_thread")]
async fn a_catalogue_typo_fails_the_run_before_ingest_with_its_line() {
    let tp = TestProject::new();
    tp.generate(30, 1);
    let path = tp.path().join("pipelines/indicators/catalogue.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text
        .lines()
        .position(|l| l == "polarity = \"lower_is_better\"")
        .expect("a gap's polarity line");
    let typo: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == at {
                l.replace("polarity", "polarty")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&path, typo.join("\n") + "\n").unwrap();
    // The entry's `id` line, which the message names.
    let id_line = text
        .lines()
        .take(at)
        .enumerate()
        .filter(|(_, l)| l.starts_with("id = "))
        .last()
        .unwrap()
        .0
        + 1;

    let (code, out, err) = tp.run_binary(&["run"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("catalogue.toml")
            && err.contains(&format!("line {id_line}:"))
            && err.contains("polarty"),
        "{err}"
    );
    assert!(
        !tp.path().join("data/lake/eyfsp").exists(),
        "nothing was ingested"
    );
    let (code, out, err) = tp.run_binary(&["validate"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains(&format!("line {id_line}:")), "{err}");
    assert!(!err.contains("[[target]]"), "no knock-on target errors: {err}");
}
