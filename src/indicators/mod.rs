//! Indicators: the catalogue and SQL under `pipelines/indicators/`, the engine
//! that computes them with the public-health statistics, and publishing.

pub mod catalogue;
pub mod cohort;
pub mod ees;
pub mod engine;
pub mod fixtures;
pub mod memory;
pub mod metadata;
pub mod periods;
pub mod protect;
pub mod publish;
pub mod report;
pub mod row;
pub mod targets;
pub mod udf;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::config::Project;
use crate::error::{ConfigIssue, Error, Result};
use crate::storage::Storage;

pub use row::{AreaType, Council, Row, Unit};

/// FSM × sex cells add up to the FSM and sex rows: `((breakdown, value), its two fsm_sex values)`.
pub const FSM_SEX_MARGINS: [((&str, &str), [&str; 2]); 4] = {
    let [fsm_boys, fsm_girls, not_fsm_boys, not_fsm_girls] = catalogue::FSM_SEX;
    [
        (("fsm", "FSM"), [fsm_boys, fsm_girls]),
        (("fsm", "Not FSM"), [not_fsm_boys, not_fsm_girls]),
        (("sex", "Boys"), [fsm_boys, not_fsm_boys]),
        (("sex", "Girls"), [fsm_girls, not_fsm_girls]),
    ]
};

/// Reference tables (all text columns, as the seeds ship).
const REF_TABLES: &[(&str, &[&str])] = &[
    ("ref_lsoa", &["lsoa_code", "ward_code", "ward_name", "imd_decile"]),
    ("ref_lsoa_imd", &["lsoa_code", "imd_decile"]),
    (
        "ref_ethnicity_groups",
        &["scheme", "code", "description", "major_group"],
    ),
    ("ref_asq3_cutoffs", &["interval_months", "domain", "cutoff"]),
    (
        "ref_population_estimates",
        &["area_code", "year", "age", "population"],
    ),
];

pub fn council(project: &Project) -> Council {
    Council {
        code: project.council.area_code.clone(),
        name: project.council.name.clone(),
        region_code: project.council.region_code.clone().unwrap_or_default(),
        comparators: project.council.comparators.clone(),
    }
}

pub fn dir(project: &Path) -> PathBuf {
    project.join("pipelines").join("indicators")
}

/// Every lake table the indicators read: the curated and reference tables.
fn lake_tables(project: &Project) -> Vec<String> {
    let mut tables: Vec<String> = project.plan.sources.iter().map(|s| s.table.clone()).collect();
    tables.extend(REF_TABLES.iter().map(|(t, _)| t.to_string()));
    tables.sort();
    tables.dedup();
    tables
}

/// A DataFusion session for the scorecard, with the startwell functions. Sorts,
/// aggregations and joins share a pool of `[compute] memory_limit`; sorts and
/// aggregations spill to `scratch` beyond it. (`DATAFUSION_*` environment
/// variables tune the engine further, e.g. `DATAFUSION_EXECUTION_TARGET_PARTITIONS`.)
pub fn session(compute: &crate::config::Compute, scratch: &Path) -> Result<SessionContext> {
    use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
    use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    let limit = usize::try_from(compute.memory_limit.as_u64()).unwrap_or(usize::MAX);
    let runtime = RuntimeEnvBuilder::new()
        // Greedy (first come, first served), naming the largest consumers when
        // it runs out; a fair split starves a query's one big aggregation.
        .with_memory_pool(Arc::new(memory::PeakPool::new(Arc::new(
            TrackConsumersPool::new(
                GreedyMemoryPool::new(limit),
                std::num::NonZeroUsize::new(3).expect("3 > 0"),
            ),
        ))))
        .with_disk_manager_builder(
            DiskManagerBuilder::default()
                .with_mode(DiskManagerMode::Directories(vec![scratch.to_path_buf()])),
        )
        .build_arc()?;
    let mut config = datafusion::prelude::SessionConfig::from_env()?;
    if std::env::var_os("DATAFUSION_EXECUTION_SORT_IN_PLACE_THRESHOLD_BYTES").is_none() {
        // Every sort that fits the pool is sorted in place (its batches concatenated,
        // then one sort), also when it spills, instead of each batch sorted and merged
        // through the row format: the attribute history's sort of 2 million contacts
        // (views/hv_child_attributes.sql) took 0.1 s less and 60-70 MiB less memory.
        // That merge holds every batch's keys outside what the sort may spill, so with
        // a quarter of the pool as the threshold a national lake failed below 256 MiB;
        // with the whole pool it runs at 160 MiB (joins then need the most).
        config.options_mut().execution.sort_in_place_threshold_bytes = limit;
    }
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    udf::register(&ctx);
    Ok(ctx)
}

/// The scorecard's scratch folder (views computed once per run, spill files),
/// removed when dropped: under `[compute] scratch_dir`, or the system's temporary folder.
pub fn scratch(project: &Project) -> Result<tempfile::TempDir> {
    let mut b = tempfile::Builder::new();
    b.prefix("startwell-scorecard-");
    match &project.compute.scratch_dir {
        Some(d) => {
            let d = project.dir.join(d);
            std::fs::create_dir_all(&d)
                .and_then(|_| b.tempdir_in(&d))
                .map_err(|e| Error::config(&d, format!("[compute] scratch_dir: {e}")))
        }
        None => b.tempdir().map_err(Error::internal),
    }
}

/// A scorecard session ([`session`]) with every curated and reference table of
/// the lake registered under its table name.
pub async fn lake_session(project: &Project, storage: &Storage, scratch: &Path) -> Result<SessionContext> {
    let ctx = session(&project.compute, scratch)?;
    for name in lake_tables(project) {
        let t = storage.table(&name).await?;
        if t.version().is_some() {
            t.update_datafusion_session(&ctx.state())?;
            ctx.register_table(name.as_str(), t.table_provider().await?)?;
        } else if let Some(plan) = project.plan.sources.iter().find(|s| s.table == name) {
            // Not ingested yet: an empty table of the right shape.
            let empty = MemTable::try_new(plan.schema.clone(), vec![vec![]])?;
            ctx.register_table(name.as_str(), Arc::new(empty))?;
        }
    }
    Ok(ctx)
}

/// The indicator catalogue and the `[[target]]`s, checked together: every
/// problem, each with its file (and line, in the catalogue). A run calls this
/// before it ingests anything, so a typo never fails a nightly run at its end.
pub fn load_checked(project: &Project) -> Result<Vec<catalogue::Indicator>> {
    let mut issues = Vec::new();
    let catalogue = catalogue::load(&dir(&project.dir), &mut issues);
    // Targets name indicators: checked only against a catalogue that loaded.
    if issues.is_empty() {
        issues.extend(targets::check(
            &project.targets,
            &catalogue,
            &project.dir.join("startwell.toml"),
        ));
    }
    if issues.is_empty() {
        Ok(catalogue)
    } else {
        Err(Error::Config(issues))
    }
}

/// Compute and publish the scorecard; returns its rows and notes.
/// `catalogue` is the project's, as [`load_checked`] gave it.
pub async fn build_scorecard(
    project: &Project,
    catalogue: &[catalogue::Indicator],
    storage: &Storage,
    run_id: &str,
    progress: &crate::progress::Reporter,
) -> Result<engine::Scorecard> {
    let d = dir(&project.dir);
    let scratch = scratch(project)?;
    let ctx = lake_session(project, storage, scratch.path()).await?;
    let council = council(project);
    // Suppression holds against the latest publication too (see `protect`).
    let previous = protect::load_previous(storage).await?;
    let mut card = engine::compute(
        &ctx,
        catalogue,
        &d,
        &council,
        &project.disclosure,
        previous.as_ref(),
        engine::Workspace {
            scratch: scratch.path(),
            concurrent_queries: project.compute.concurrent_queries,
            part_rows: project.compute.part_rows.get(),
            progress,
        },
    )
    .await?;
    // The state first: a crash before the commit leaves an unused file, never a
    // publication without its state.
    card.disclosure.run_id = run_id.to_string();
    protect::save(storage, &card.disclosure).await?;
    let csv_bom = project.publish.csv_bom;
    publish::publish(storage, &card.rows, run_id, csv_bom).await?;
    // Targets read the published rows only: nothing suppressed reaches them.
    card.targets = targets::evaluate_all(&project.targets, catalogue, &card.rows, &council.code);
    targets::publish(storage, &card.targets, run_id, csv_bom).await?;
    let metadata = metadata::rows(catalogue, &project.disclosure);
    metadata::publish(storage, &metadata, csv_bom).await?;
    let places = ees::places(&ctx).await?;
    let open_data = ees::files(
        &card.rows,
        catalogue,
        &council,
        project.council.old_la_code.as_deref(),
        &places,
    )?;
    ees::publish(storage, &open_data).await?;
    let inputs = report::Inputs {
        rows: &card.rows,
        spread: &card.spread,
        catalogue,
        council: &council,
        metadata: &metadata,
        targets: &card.targets,
        run_id,
        disclosure: metadata::disclosure_rule(&project.disclosure),
    };
    report::publish(storage, &inputs).await?;
    Ok(card)
}

/// A session with every curated and reference table registered empty (its
/// schema only) and the views: enough to plan any indicator's SQL.
pub async fn planning_session(project: &Project, council: &Council) -> Result<SessionContext> {
    let ctx = SessionContext::new();
    udf::register(&ctx);
    for s in &project.plan.sources {
        ctx.register_table(
            s.table.as_str(),
            Arc::new(MemTable::try_new(s.schema.clone(), vec![vec![]])?),
        )?;
    }
    for (name, cols) in REF_TABLES {
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(
            cols.iter()
                .map(|c| {
                    datafusion::arrow::datatypes::Field::new(
                        *c,
                        datafusion::arrow::datatypes::DataType::Utf8,
                        true,
                    )
                })
                .collect::<Vec<_>>(),
        ));
        ctx.register_table(*name, Arc::new(MemTable::try_new(schema, vec![vec![]])?))?;
    }
    engine::register_views(&ctx, &dir(&project.dir), council).await?;
    Ok(ctx)
}

/// What one indicator reads: its query, and each table with the columns used
/// (after the views are expanded and the optimiser pushed the projections down).
#[derive(Debug, Clone)]
pub struct Lineage {
    pub indicator: String,
    pub sql: String,
    pub reads: Vec<(String, Vec<String>)>,
}

/// Every indicator's lineage, from the planned SQL (gaps read the indicator
/// they are a gap of; benchmarks their public tables).
pub async fn lineage(project: &Project) -> Result<Vec<Lineage>> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::logical_expr::LogicalPlan;
    let d = dir(&project.dir);
    let mut issues = Vec::new();
    let catalogue = catalogue::load(&d, &mut issues);
    if !issues.is_empty() {
        return Err(Error::Config(issues));
    }
    let council = council(project);
    let ctx = planning_session(project, &council).await?;
    let mut out = Vec::new();
    for ind in &catalogue {
        let mut sqls: Vec<String> = engine::queries(std::slice::from_ref(ind), &d, &council)?
            .into_iter()
            .map(|q| q.sql)
            .collect();
        if let Some(b) = &ind.benchmark_sql
            && let Ok(text) = std::fs::read_to_string(d.join(b))
        {
            sqls.push(ind.with_params(&engine::render(&text, &council)));
        }
        let mut reads: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for sql in &sqls {
            let plan = ctx
                .sql(sql.trim().trim_end_matches(';'))
                .await?
                .into_optimized_plan()?;
            plan.apply(|node| {
                if let LogicalPlan::TableScan(scan) = node {
                    let schema = scan.source.schema();
                    let cols = reads.entry(scan.table_name.table().to_string()).or_default();
                    match &scan.projection {
                        Some(p) => cols.extend(p.iter().map(|i| schema.field(*i).name().clone())),
                        None => cols.extend(schema.fields().iter().map(|f| f.name().clone())),
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })?;
        }
        if let Some(g) = &ind.gap {
            reads.entry(format!("indicator {}", g.of)).or_default();
        }
        out.push(Lineage {
            indicator: ind.id.clone(),
            sql: sqls.join(";\n\n"),
            reads: reads
                .into_iter()
                .map(|(t, c)| (t, c.into_iter().collect()))
                .collect(),
        });
    }
    Ok(out)
}

/// Plan every indicator's SQL against empty tables of the curated schemas, so
/// `validate` finds unknown columns and syntax errors without touching data.
pub async fn validate(project: &Project) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    let d = dir(&project.dir);
    let catalogue = match load_checked(project) {
        Ok(c) => c,
        Err(Error::Config(v)) => return v,
        Err(e) => {
            return vec![ConfigIssue {
                file: d,
                message: e.to_string(),
            }];
        }
    };
    let council = council(project);
    let ctx = match planning_session(project, &council).await {
        Ok(ctx) => ctx,
        Err(Error::Config(mut v)) => {
            issues.append(&mut v);
            return issues;
        }
        Err(e) => {
            issues.push(ConfigIssue {
                file: d.clone(),
                message: e.to_string(),
            });
            return issues;
        }
    };
    match engine::queries(&catalogue, &d, &council) {
        Ok(queries) => {
            for q in queries {
                let Err(e) = ctx.sql(&q.sql).await else {
                    continue;
                };
                // A query shared by several indicators: name the ones at fault.
                let mut culprits = Vec::new();
                if q.indicators.len() > 1 {
                    for ind in &q.indicators {
                        let alone = [(*ind).clone()];
                        if let Ok(single) = engine::queries(&alone, &d, &council)
                            && let Some(single) = single.first()
                            && let Err(e) = ctx.sql(&single.sql).await
                        {
                            culprits.push(ConfigIssue {
                                file: single.file.clone(),
                                message: format!("indicator `{}`: {e}", ind.id),
                            });
                        }
                    }
                }
                if culprits.is_empty() {
                    let ids: Vec<&str> = q.indicators.iter().map(|i| i.id.as_str()).collect();
                    issues.push(ConfigIssue {
                        file: q.file.clone(),
                        message: format!("indicator `{}`: {e}", ids.join("`, `")),
                    });
                }
                issues.extend(culprits);
            }
        }
        Err(Error::Config(mut v)) => issues.append(&mut v),
        Err(e) => issues.push(ConfigIssue {
            file: d.clone(),
            message: e.to_string(),
        }),
    }
    for ind in &catalogue {
        let Some(file) = ind.benchmark_sql.as_ref().map(|b| d.join(b)) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let sql = ind.with_params(&engine::render(&text, &council));
        if let Err(e) = ctx.sql(sql.trim().trim_end_matches(';')).await {
            issues.push(ConfigIssue {
                file: file.clone(),
                message: format!("indicator `{}`: {e}", ind.id),
            });
        }
    }
    issues
}

/// The demo's short human summary: the headline indicators for the council's
/// latest period, with 95% intervals and the comparison with England.
pub fn headline(rows: &[Row], council: &Council) -> String {
    const IDS: &[&str] = &[
        "sr_gld",
        "sr_gld_fsm_gap",
        "sr_gld_fsm_boys_gap",
        "cc_2yo_takeup",
        "hv_nbv_14d",
        "hv_asq_all_five",
    ];
    let mut out =
        String::from("Headline indicators (council, latest period, 95% interval, compared with England):\n");
    for id in IDS {
        // The latest period England can be compared in, else the latest period.
        let own = || {
            rows.iter().filter(|r| {
                r.indicator_id == *id
                    && r.area_type == AreaType::LocalAuthority
                    && r.area_code == council.code
                    && r.is_total()
            })
        };
        let latest = own()
            .filter(|r| r.benchmark_value.is_some())
            .max_by_key(|r| r.period_start)
            .or_else(|| own().max_by_key(|r| r.period_start));
        let Some(r) = latest else {
            out.push_str(&format!("  {id:<22} no data\n"));
            continue;
        };
        let unit = r.unit.suffix();
        let value = match (r.value, r.lower_95, r.upper_95) {
            (Some(v), Some(l), Some(u)) => format!("{v:.1}{unit} ({l:.1}–{u:.1})"),
            (Some(v), _, _) => format!("{v:.1}{unit}"),
            _ => format!(
                "{} (suppressed or not available)",
                r.status_symbol.as_deref().unwrap_or("x")
            ),
        };
        let bench = match r.benchmark_value {
            Some(b) => format!("England {b:.1}{unit}: {}", r.comparison.wording()),
            None => "no England value".to_string(),
        };
        out.push_str(&format!(
            "  {:<22} {:<12} {:<28} {}\n",
            id, r.period, value, bench
        ));
    }
    out
}

/// Where the fingerprint of the last computed scorecard is kept.
const FINGERPRINT: &str = "state/scorecard/fingerprint.json";

/// A digest of everything the scorecard is computed from: the version of every
/// lake table it reads, every file under `pipelines/indicators/` (catalogue, SQL,
/// views), the council, disclosure and target settings, and this program (version, size
/// and build time of the executable). Equal fingerprints give equal scorecards.
pub async fn fingerprint(project: &Project, storage: &Storage) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut field = |label: &str, value: &[u8]| {
        h.update(label.as_bytes());
        h.update((value.len() as u64).to_le_bytes());
        h.update(value);
    };
    field("program", env!("CARGO_PKG_VERSION").as_bytes());
    if let Ok(meta) = std::env::current_exe().and_then(std::fs::metadata) {
        let built = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        field("executable", format!("{} {built}", meta.len()).as_bytes());
    }
    field("council", format!("{:?}", council(project)).as_bytes());
    field("disclosure", format!("{:?}", project.disclosure).as_bytes());
    field("targets", format!("{:?}", project.targets).as_bytes());
    let mut files = Vec::new();
    let mut stack = vec![dir(&project.dir)];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| Error::config(&d, e.to_string()))?;
        for e in rd {
            let p = e.map_err(|e| Error::config(&d, e.to_string()))?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    for f in files {
        let bytes = std::fs::read(&f).map_err(|e| Error::config(&f, e.to_string()))?;
        field(
            &f.strip_prefix(&project.dir).unwrap_or(&f).to_string_lossy(),
            &bytes,
        );
    }
    for t in lake_tables(project) {
        let version = storage.table(&t).await?.version();
        field(&t, format!("{version:?}").as_bytes());
    }
    Ok(hex::encode(h.finalize()))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Fingerprint {
    fingerprint: String,
    run_id: String,
}

/// The run whose scorecard was computed from exactly this fingerprint, when it
/// is still the one published.
pub async fn unchanged_since(storage: &Storage, fingerprint: &str) -> Result<Option<String>> {
    let Some(bytes) = storage.get(FINGERPRINT).await? else {
        return Ok(None);
    };
    let Ok(last) = serde_json::from_slice::<Fingerprint>(&bytes) else {
        return Ok(None);
    };
    if last.fingerprint != fingerprint || !storage.exists("outputs/scorecard.parquet").await? {
        return Ok(None);
    }
    Ok(Some(last.run_id))
}

/// Remember what the scorecard just published was computed from (after it is
/// published: a run stopped before this recomputes, which is safe).
pub async fn record_fingerprint(storage: &Storage, fingerprint: &str, run_id: &str) -> Result<()> {
    let json = serde_json::to_vec(&Fingerprint {
        fingerprint: fingerprint.to_string(),
        run_id: run_id.to_string(),
    })
    .map_err(Error::internal)?;
    storage.put(FINGERPRINT, json.into()).await
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::compute::concat_batches;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;

    use super::*;

    /// 2.4 million rows in two partitions of 8,192-row batches: a key with repeats and
    /// a text column, as the lake's child keys and wards.
    fn table() -> MemTable {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("ward", DataType::Utf8, false),
        ]));
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut partitions = vec![Vec::new(), Vec::new()];
        for b in 0..296 {
            let keys: Vec<i64> = (0..8192)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 1_600_000) as i64
                })
                .collect();
            let wards: Vec<String> = keys.iter().map(|k| format!("E0500{:04}", k % 937)).collect();
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(keys)),
                    Arc::new(StringArray::from(wards)),
                ],
            )
            .unwrap();
            partitions[b % 2].push(batch);
        }
        MemTable::try_new(schema, partitions).unwrap()
    }

    /// The query's rows under `limit`, and whether any of its operators spilled
    /// doing so (from the metrics of that same execution).
    async fn rows_and_spilled(limit: bytesize::ByteSize, sql: &str) -> (RecordBatch, bool) {
        use datafusion::physical_plan::display::DisplayableExecutionPlan;
        let scratch = tempfile::tempdir().unwrap();
        let compute = crate::config::Compute {
            memory_limit: limit,
            ..Default::default()
        };
        let ctx = session(&compute, scratch.path()).unwrap();
        ctx.register_table("t", Arc::new(table())).unwrap();
        let plan = ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
        let batches = datafusion::physical_plan::collect(plan.clone(), ctx.task_ctx())
            .await
            .unwrap();
        let rows = concat_batches(&plan.schema(), &batches).unwrap();
        let metrics = DisplayableExecutionPlan::with_metrics(plan.as_ref())
            .indent(true)
            .to_string();
        let spilled = metrics.split("spill_count=").skip(1).any(|n| !n.starts_with('0'));
        (rows, spilled)
    }

    /// Under a `[compute] memory_limit` far below what it holds, a `DISTINCT` of
    /// keys and text (as the childcare take-up's) spills to the scratch folder and
    /// gives the rows it gives with room to spare. (A sort that must spill much is
    /// another matter in DataFusion 55: the merge of its sorted runs cannot spill,
    /// and a window over one ordering of these rows fails at 32 and 64 MiB. At
    /// national size the scorecard's sorts fit in 160 MiB; see `session`.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_memory_limit_spills_and_gives_the_same_rows() {
        let distinct = "SELECT ward, COUNT(*) AS n FROM (SELECT DISTINCT k, ward FROM t) d \
                        GROUP BY ward ORDER BY ward";
        let (roomy, roomy_spilled) = rows_and_spilled(bytesize::ByteSize::gib(2), distinct).await;
        assert!(!roomy_spilled, "spilled with 2 GiB");
        let (tight, tight_spilled) = rows_and_spilled(bytesize::ByteSize::mib(32), distinct).await;
        assert!(tight_spilled, "nothing spilled with 32 MiB");
        assert_eq!(roomy.num_rows(), 937);
        assert_eq!(roomy, tight);
    }
}
