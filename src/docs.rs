//! `startwell docs [--out DIR]`: the project's documentation as one
//! self-contained HTML page (like dbt docs): every source (where its files land,
//! their format, columns with their checks, re-delivery, freshness), every lake
//! table (columns with descriptions, current version, rows, and which file made
//! which version), every indicator (definition, SQL, the tables and columns it
//! reads: lineage from source file to scorecard row) and the recent runs.
//! No script, font or request: it opens from disk. Nothing in it is a value
//! from a partner's file (identifier columns are named, never shown).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use maud::{DOCTYPE, Markup, html};

use crate::config::{Project, RawSchema, Redelivery, SourcePlan};
use crate::error::{Error, Result};
use crate::indicators::{Lineage, catalogue};
use crate::storage::Storage;

const CSS: &str = include_str!("indicators/report/report.css");

/// One commit of a lake table, from its Delta log.
#[derive(Debug, Clone)]
pub struct Commit {
    pub version: u64,
    pub operation: String,
    pub file: Option<String>,
    pub run_id: Option<String>,
    pub timestamp: Option<i64>,
}

/// A lake table as the docs show it.
struct TableDoc {
    name: String,
    description: String,
    columns: Vec<(String, String, String)>,
    commits: Vec<Commit>,
    rows: Option<u64>,
    sources: Vec<String>,
}

/// The commits of a table, oldest first, from `lake/<table>/_delta_log/*.json`.
pub async fn commits(storage: &Storage, table: &str) -> Result<Vec<Commit>> {
    let mut out = Vec::new();
    for m in storage.list(&format!("lake/{table}/_delta_log")).await? {
        let name = m.location.filename().unwrap_or_default().to_string();
        let Some(version) = name.strip_suffix(".json").and_then(|v| v.parse::<u64>().ok()) else {
            continue;
        };
        let rel = m
            .location
            .as_ref()
            .strip_prefix(storage.path("").as_ref())
            .unwrap_or(m.location.as_ref())
            .trim_start_matches('/')
            .to_string();
        let Some(bytes) = storage.get(&rel).await? else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut c = Commit {
            version,
            operation: String::new(),
            file: None,
            run_id: None,
            timestamp: None,
        };
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if let Some(info) = v.get("commitInfo") {
                c.operation = info["operation"].as_str().unwrap_or_default().to_string();
                c.timestamp = info["timestamp"].as_i64();
                c.file = info["startwell_file"].as_str().map(str::to_string);
                c.run_id = info["startwell_run_id"].as_str().map(str::to_string);
            }
        }
        out.push(c);
    }
    out.sort_by_key(|c| c.version);
    Ok(out)
}

/// Write `index.html` under `out`; returns its path.
pub async fn write(project: &Project, storage: &Storage, out: &Path) -> Result<PathBuf> {
    let d = crate::indicators::dir(&project.dir);
    let mut issues = Vec::new();
    let catalogue = catalogue::load(&d, &mut issues);
    if !issues.is_empty() {
        return Err(Error::Config(issues));
    }
    let lineage = crate::indicators::lineage(project).await?;
    let mut tables = Vec::new();
    for name in storage.lake_tables().await? {
        let schema: Option<RawSchema> =
            std::fs::read_to_string(project.dir.join("schemas").join(format!("{name}.toml")))
                .ok()
                .and_then(|t| toml::from_str(&t).ok());
        let t = storage.table(&name).await?;
        let columns: Vec<(String, String, String)> = match (t.version(), t.snapshot()) {
            (Some(_), Ok(snap)) => snap
                .schema()
                .fields()
                .map(|f| {
                    let description = schema
                        .as_ref()
                        .and_then(|s| s.columns.iter().find(|c| c.name == *f.name()))
                        .map(|c| c.description.clone())
                        .unwrap_or_default();
                    (f.name().clone(), format!("{}", f.data_type()), description)
                })
                .collect(),
            _ => Vec::new(),
        };
        tables.push(TableDoc {
            description: schema.map(|s| s.description).unwrap_or_default(),
            rows: if t.version().is_some() {
                Some(crate::lake::count_rows(storage, &name).await?)
            } else {
                None
            },
            commits: commits(storage, &name).await?,
            sources: project
                .plan
                .sources
                .iter()
                .filter(|s| s.table == name)
                .map(|s| s.name.clone())
                .collect(),
            columns,
            name,
        });
    }
    let runs = crate::ops::status::recent_runs(storage, 30).await?;
    let page = page(project, &catalogue, &lineage, &tables, &runs);
    std::fs::create_dir_all(out).map_err(|e| Error::config(out, format!("cannot create: {e}")))?;
    let path = out.join("index.html");
    std::fs::write(&path, page).map_err(|e| Error::config(&path, format!("cannot write: {e}")))?;
    Ok(path)
}

fn checks(c: &crate::config::compile::ColumnPlan) -> String {
    let mut v = Vec::new();
    if c.required {
        v.push("required".to_string());
    }
    if c.identifier {
        v.push("identifier: never in the lake (keyed or dropped)".to_string());
    }
    if let Some(a) = &c.allowed {
        let mut a: Vec<&String> = a.iter().collect();
        a.sort();
        v.push(format!(
            "one of {}",
            a.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(m) = c.min {
        v.push(format!("≥ {m}"));
    }
    if let Some(m) = c.max {
        v.push(format!("≤ {m}"));
    }
    if let Some(p) = &c.pattern {
        v.push(format!("matches `{}`", p.as_str()));
    }
    if let Some(chk) = &c.check {
        v.push(format!("{chk:?} check"));
    }
    if c.ty == crate::config::ColumnType::Date && !c.date_formats.is_empty() {
        v.push(format!("dates as {}", c.date_formats.join(" or ")));
    }
    if let Some(e) = c.earliest {
        v.push(format!("not before {e}"));
    }
    if c.not_future {
        v.push("not in the future".into());
    }
    if !c.values.is_empty() {
        v.push(format!("{} partner code(s) mapped", c.values.len()));
    }
    v.join("; ")
}

fn redelivery(r: Redelivery) -> &'static str {
    match r {
        Redelivery::Append => "append: each file adds rows",
        Redelivery::ReplaceTable => "replace table: each file replaces the whole table",
        Redelivery::ReplacePeriod => "replace period: a file replaces the rows of its period (and delivery)",
    }
}

fn source_section(s: &SourcePlan) -> Markup {
    html! {
        article.indicator #(format!("source-{}", s.name)) {
            h3 { (s.name) }
            p { (s.description) }
            dl {
                dt { "Lands in" } dd { code { "landing/" (s.name) "/" } ", files matching " code { (s.glob.glob().glob()) } }
                dt { "Configured in" } dd { code { (s.file.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default()) } }
                dt { "Format" } dd { (format!("{:?}", s.format)) }
                dt { "Writes" } dd { a href=(format!("#table-{}", s.table)) { (s.table) } }
                dt { "Re-delivery" } dd { (redelivery(s.redelivery)) }
                dt { "Refused when" } dd { "more than " (format!("{:.1}%", s.max_reject_ratio * 100.0)) " of its rows fail their checks" }
                @if let Some(f) = &s.freshness {
                    dt { "Freshness" } dd { (format!("{:?}", f.cadence).to_lowercase()) " deliveries; stale after " (f.warn_after_days) " days, an error after " (f.error_after_days) }
                }
            }
            div.scroll {
                table.data {
                    caption.visually-hidden { (s.name) " columns" }
                    thead { tr { th scope="col" { "Column" } th scope="col" { "Type" } th scope="col" { "Partner headers" } th scope="col" { "Checks" } } }
                    tbody {
                        @for c in &s.columns {
                            tr {
                                th scope="row" { code { (c.name) } }
                                td { (format!("{:?}", c.ty).to_lowercase()) }
                                td { (c.aliases.join(", ")) }
                                td { (checks(c)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn table_section(t: &TableDoc, readers: &[&str]) -> Markup {
    html! {
        article.indicator #(format!("table-{}", t.name)) {
            h3 { (t.name) }
            @if !t.description.is_empty() { p { (t.description) } }
            dl {
                dt { "Version" } dd { (t.commits.last().map(|c| c.version.to_string()).unwrap_or_else(|| "none yet".into())) }
                dt { "Rows" } dd { (t.rows.map(|r| r.to_string()).unwrap_or_else(|| "–".into())) }
                @if !t.sources.is_empty() {
                    dt { "Written by" } dd { @for (i, s) in t.sources.iter().enumerate() { @if i > 0 { ", " } a href=(format!("#source-{s}")) { (s) } } }
                }
                @if !readers.is_empty() {
                    dt { "Read by" } dd { @for (i, r) in readers.iter().enumerate() { @if i > 0 { ", " } a href=(format!("#indicator-{r}")) { (r) } } }
                }
            }
            @if !t.columns.is_empty() {
                details {
                    summary { (t.columns.len()) " columns" }
                    div.scroll {
                        table.data {
                            thead { tr { th scope="col" { "Column" } th scope="col" { "Type" } th scope="col" { "Description" } } }
                            tbody { @for (n, ty, d) in &t.columns { tr { th scope="row" { code { (n) } } td { (ty) } td { (d) } } } }
                        }
                    }
                }
            }
            @if !t.commits.is_empty() {
                details {
                    summary { "History: " (t.commits.len()) " version(s)" }
                    div.scroll {
                        table.data {
                            thead { tr { th scope="col" { "Version" } th scope="col" { "Operation" } th scope="col" { "File" } th scope="col" { "Run" } } }
                            tbody {
                                @for c in t.commits.iter().rev() {
                                    tr { td { (c.version) } td { (c.operation) } td { (c.file.clone().unwrap_or_default()) } td { (c.run_id.clone().unwrap_or_default()) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn page(
    project: &Project,
    catalogue: &[catalogue::Indicator],
    lineage: &[Lineage],
    tables: &[TableDoc],
    runs: &[serde_json::Value],
) -> String {
    let mut readers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for l in lineage {
        for (t, _) in &l.reads {
            readers.entry(t.as_str()).or_default().push(l.indicator.as_str());
        }
    }
    let table_names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let council = crate::indicators::council(project);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "startwell project: " (council.name) }
                style { (maud::PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { "startwell project: " (council.name) }
                    p.lede { "Sources, lake tables, indicators and runs of the project in " code { (project.dir.display()) } "." }
                    nav aria-label="Sections" {
                        ul {
                            li { a href="#sources" { "Sources" } }
                            li { a href="#tables" { "Lake tables" } }
                            li { a href="#indicators" { "Indicators" } }
                            li { a href="#runs" { "Runs" } }
                        }
                    }
                }
                main {
                    section #sources aria-labelledby="sources-h" {
                        h2 #sources-h { "Sources" }
                        @for s in &project.plan.sources { (source_section(s)) }
                    }
                    section #tables aria-labelledby="tables-h" {
                        h2 #tables-h { "Lake tables" }
                        @for t in tables { (table_section(t, readers.get(t.name.as_str()).map(Vec::as_slice).unwrap_or(&[]))) }
                    }
                    section #indicators aria-labelledby="indicators-h" {
                        h2 #indicators-h { "Indicators" }
                        @for ind in catalogue {
                            @let l = lineage.iter().find(|l| l.indicator == ind.id);
                            article.indicator #(format!("indicator-{}", ind.id)) {
                                h3 { (ind.name) " " span.muted { "(" (ind.id) ")" } }
                                p { (ind.definition) }
                                @if let Some(l) = l {
                                    dl {
                                        dt { "Reads" }
                                        dd {
                                            ul {
                                                @for (t, cols) in &l.reads {
                                                    li {
                                                        @if let Some(of) = t.strip_prefix("indicator ") {
                                                            "the indicator " a href=(format!("#indicator-{of}")) { (of) }
                                                        } @else if table_names.contains(&t.as_str()) {
                                                            a href=(format!("#table-{t}")) { (t) }
                                                        } @else {
                                                            (t) " (not in the lake yet)"
                                                        }
                                                        @if !cols.is_empty() { ": " (cols.join(", ")) }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                    @if !l.sql.is_empty() {
                                        details { summary { "SQL" } div.scroll { pre { code { (l.sql) } } } }
                                    }
                                }
                            }
                        }
                    }
                    section #runs aria-labelledby="runs-h" {
                        h2 #runs-h { "Runs" }
                        div.scroll {
                            table.data {
                                thead { tr { th scope="col" { "Run" } th scope="col" { "Status" } th scope="col" { "Trigger" } th scope="col" { "Started" } th scope="col" { "Seconds" } th scope="col" { "Files" } } }
                                tbody {
                                    @for r in runs {
                                        tr {
                                            td { (r["run_id"].as_str().unwrap_or_default()) }
                                            td { (r["status"].as_str().unwrap_or_default()) }
                                            td { (r["trigger"].as_str().unwrap_or_default()) }
                                            td { (r["started_at"].as_str().unwrap_or_default()) }
                                            td.num { (format!("{:.1}", r["seconds"].as_f64().unwrap_or_default())) }
                                            td.num { (r["files"].as_array().map_or(0, Vec::len)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    .into_string()
}
