//! The compile step: raw configuration files → a checked [`Plan`], collecting
//! every problem (with its file) instead of stopping at the first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use regex::Regex;

use super::*;
use crate::error::{ConfigIssue, Error, Result};
use crate::seeds::Seeds;

/// Column names that identify a child: they must be declared `identifier = true`.
const IDENTIFYING_NAMES: &[&str] = &[
    "upn",
    "nhs_number",
    "forename",
    "first_name",
    "surname",
    "last_name",
    "name",
    "child_name",
    "dob",
    "date_of_birth",
    "postcode",
    "parent_reference",
];

/// A loaded, checked project.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub council: RawCouncil,
    pub storage_root: String,
    pub batch_rows: usize,
    pub plan: Plan,
    pub seeds: Arc<Seeds>,
    pub disclosure: crate::disclosure::Policy,
    /// Lease, retries, shutdown, schedules, endpoint and alerts.
    pub ops: super::ops::Ops,
    /// The scorecard engine's memory limit and scratch folder.
    pub compute: super::Compute,
    /// `[[target]]` entries (checked against the catalogue where it is loaded).
    pub targets: Vec<super::TargetSpec>,
    /// How long identifiable files are kept.
    pub retention: super::Retention,
    pub publish: super::Publish,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub sources: Vec<Arc<SourcePlan>>,
}

impl Plan {
    pub fn source(&self, name: &str) -> Option<&Arc<SourcePlan>> {
        self.sources.iter().find(|s| s.name == name)
    }
}

/// Where one slot of a row's working values comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotKind {
    Column(usize),
    Key(usize),
    Derived,
    Period,
    SourceFile,
    SourceLine,
    RunId,
    Delivery,
}

#[derive(Debug)]
pub struct ColumnPlan {
    pub name: String,
    pub aliases: Vec<String>,
    pub ty: ColumnType,
    pub required: bool,
    pub identifier: bool,
    pub values: HashMap<String, String>,
    pub allowed: Option<HashSet<String>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub pattern: Option<Regex>,
    pub check: Option<IdCheck>,
    pub date_formats: Vec<String>,
    /// Date columns: the earliest plausible value.
    pub earliest: Option<chrono::NaiveDate>,
    /// Date columns: no value after the day of ingest.
    pub not_future: bool,
}

/// `[completeness]`, compiled: (column, allowed values) that some row must have,
/// and the least share of the table's current rows.
#[derive(Debug, Clone)]
pub struct CompletenessPlan {
    pub require: Vec<(usize, HashSet<String>)>,
    pub min_rows_ratio: Option<f64>,
}

#[derive(Debug)]
pub struct KeyPlan {
    pub name: String,
    pub fields: Vec<usize>,
    pub required: bool,
}

#[derive(Debug)]
pub enum DerivePlan {
    AgeDays { from: usize, at: usize, out: usize },
    MonthOfBirth { from: usize, out: usize },
    Geography { postcode: usize, out: [usize; 5] },
    EthnicGroup { from: usize, scheme: String, out: usize },
}

/// A rule's exemption: rows whose column (by index) holds one of the values.
pub type Unless = Option<(usize, HashSet<String>)>;

#[derive(Debug)]
pub enum RulePlan {
    NotBefore {
        column: usize,
        other: usize,
        unless: Unless,
    },
    WithinDays {
        column: usize,
        of: usize,
        max_days: i64,
        unless: Unless,
    },
}

#[derive(Debug)]
pub enum PeriodPlan {
    FileName { pattern: Regex, format: String },
    Column { slot: usize },
}

#[derive(Debug)]
pub struct SourcePlan {
    pub name: String,
    pub table: String,
    pub file: PathBuf,
    pub description: String,
    pub glob: globset::GlobMatcher,
    pub format: Format,
    pub period: PeriodPlan,
    /// What its periods must look like (checked at ingest), when declared.
    pub period_kind: Option<super::PeriodKind>,
    /// Checks on a file that replaces the whole table.
    pub completeness: Option<CompletenessPlan>,
    pub redelivery: Redelivery,
    pub max_reject_ratio: f64,
    pub columns: Vec<ColumnPlan>,
    pub keys: Vec<KeyPlan>,
    pub derive: Vec<DerivePlan>,
    pub rules: Vec<RulePlan>,
    pub unique: Vec<usize>,
    /// Expected delivery cadence, when declared.
    pub freshness: Option<super::ops::Freshness>,
    /// Name and kind of every working slot of a row.
    pub slots: Vec<(String, SlotKind, ColumnType)>,
    /// For each output column (schema order), its slot.
    pub outputs: Vec<usize>,
    pub schema: SchemaRef,
}

impl SourcePlan {
    pub fn slot(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|(n, _, _)| n == name)
    }
}

/// Normalise a header or alias for matching: lowercase alphanumerics only.
pub fn normalise_header(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect()
}

struct Issues(Vec<ConfigIssue>);

impl Issues {
    fn push(&mut self, file: &Path, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            file: file.to_path_buf(),
            message: message.into(),
        });
    }
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path, issues: &mut Issues) -> Option<T> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            issues.push(path, format!("cannot read: {e}"));
            return None;
        }
    };
    match toml::from_str::<T>(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            let line = e
                .span()
                .map(|s| {
                    format!(
                        "line {}: ",
                        text[..s.start.min(text.len())].lines().count().max(1)
                    )
                })
                .unwrap_or_default();
            issues.push(path, format!("{line}{}", e.message().trim()));
            None
        }
    }
}

fn toml_files(dir: &Path, issues: &mut Issues) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            v.sort();
            v
        }
        Err(e) => {
            issues.push(dir, format!("cannot read folder: {e}"));
            Vec::new()
        }
    }
}

/// Load and check the project in `dir`. Returns every problem found as one [`Error::Config`].
pub fn load_project(dir: &Path) -> Result<Project> {
    let mut issues = Issues(Vec::new());
    let manifest = dir.join("startwell.toml");
    if !manifest.exists() {
        return Err(Error::config(
            &manifest,
            "not found: the project folder must hold startwell.toml (use --project DIR)",
        ));
    }
    let raw: Option<RawProject> = read_toml(&manifest, &mut issues);

    let schemas = load_schemas(dir, &mut issues);
    let seeds = load_seeds(raw.as_ref(), dir, &mut issues);
    let default_ratio = raw.as_ref().map(|r| r.ingest.max_reject_ratio).unwrap_or(0.05);
    if let Some(r) = &raw {
        check_settings(r, &manifest, &mut issues);
    }

    let ops = raw
        .as_ref()
        .map(|r| super::ops::compile(&manifest, &r.run, &r.serve, &r.alerts, &mut issues.0));

    let mut sources = Vec::new();
    let mut names = HashSet::new();
    for path in toml_files(&dir.join("pipelines"), &mut issues) {
        let Some(rp) = read_toml::<RawPipeline>(&path, &mut issues) else {
            continue;
        };
        if !names.insert(rp.name.clone()) {
            issues.push(&path, format!("source `{}` is defined twice", rp.name));
        }
        if let Some(sp) = compile_source(&path, rp, &schemas, &seeds, default_ratio, &mut issues) {
            sources.push(Arc::new(sp));
        }
    }
    if sources.is_empty() && issues.0.is_empty() {
        issues.push(&dir.join("pipelines"), "no source definitions found");
    }
    for s in ops.iter().flat_map(|o| &o.schedules) {
        if let Some(src) = &s.source
            && !sources.iter().any(|p: &Arc<SourcePlan>| &p.name == src)
        {
            issues.push(
                &manifest,
                format!("[[serve.schedule]] `{}`: no source named `{src}`", s.name),
            );
        }
    }

    if !issues.0.is_empty() {
        return Err(Error::Config(issues.0));
    }
    let raw = raw.expect("parsed when there are no issues");
    Ok(Project {
        dir: dir.to_path_buf(),
        storage_root: raw.storage.root.clone(),
        batch_rows: raw.ingest.batch_rows,
        council: raw.council,
        disclosure: raw.disclosure,
        plan: Plan { sources },
        seeds: Arc::new(seeds),
        ops: ops.expect("compiled when startwell.toml parsed"),
        compute: raw.compute,
        targets: raw.targets,
        retention: raw.retention,
        publish: raw.publish,
    })
}

/// `schemas/*.toml`, by table: each named after its file, no column twice.
fn load_schemas(dir: &Path, issues: &mut Issues) -> BTreeMap<String, (PathBuf, RawSchema)> {
    let mut schemas: BTreeMap<String, (PathBuf, RawSchema)> = BTreeMap::new();
    for path in toml_files(&dir.join("schemas"), issues) {
        if let Some(s) = read_toml::<RawSchema>(&path, issues) {
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            if s.table != stem {
                issues.push(
                    &path,
                    format!("table `{}` must match the file name `{stem}.toml`", s.table),
                );
            }
            let mut seen = HashSet::new();
            for c in &s.columns {
                if !seen.insert(c.name.clone()) {
                    issues.push(&path, format!("column `{}` is declared twice", c.name));
                }
            }
            schemas.insert(s.table.clone(), (path, s));
        }
    }
    schemas
}

/// The seeds folder's reference data (empty, with the problems noted, when it
/// cannot be read).
fn load_seeds(raw: Option<&RawProject>, dir: &Path, issues: &mut Issues) -> Seeds {
    let seeds_dir = raw
        .map(|r| dir.join(&r.ingest.seeds_dir))
        .unwrap_or_else(|| dir.join("seeds"));
    match Seeds::load(&seeds_dir) {
        Ok(s) => s,
        Err(Error::Config(mut v)) => {
            issues.0.append(&mut v);
            Seeds::default()
        }
        Err(e) => {
            issues.push(&seeds_dir, e.to_string());
            Seeds::default()
        }
    }
}

/// The settings of `startwell.toml` that are checked on their own.
fn check_settings(r: &RawProject, manifest: &Path, issues: &mut Issues) {
    if !(0.0..=1.0).contains(&r.ingest.max_reject_ratio) {
        issues.push(manifest, "[ingest] max_reject_ratio must be between 0 and 1");
    }
    if r.ingest.batch_rows == 0 {
        issues.push(manifest, "[ingest] batch_rows must be at least 1");
    }
    if r.disclosure.threshold < 1 {
        issues.push(manifest, "[disclosure] threshold must be at least 1");
    }
    if let Some(code) = &r.council.old_la_code
        && !(code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()))
    {
        issues.push(
            manifest,
            format!(
                "[council] old_la_code must be the DfE's three-digit LA number (e.g. \"999\"), not {code:?}"
            ),
        );
    }
    if r.council.area_code.trim().is_empty() {
        issues.push(manifest, "[council] area_code must not be empty");
    }
}

fn compile_source(
    path: &Path,
    rp: RawPipeline,
    schemas: &BTreeMap<String, (PathBuf, RawSchema)>,
    seeds: &Seeds,
    default_ratio: f64,
    issues: &mut Issues,
) -> Option<SourcePlan> {
    let start = issues.0.len();
    let table = rp.table.clone().unwrap_or_else(|| rp.name.clone());
    let mut c = SourceCompiler {
        path,
        rp: &rp,
        issues,
        slots: Vec::new(),
    };
    let (glob, ratio, freshness) = c.settings(default_ratio);
    let columns = c.columns();
    let keys = c.keys();
    let derive = c.derived(seeds);
    let rules = c.rules();
    c.bookkeeping();
    let period = c.period();
    let unique = c.unique();
    let (outputs, fields) = c.curated(schemas, &table);
    let completeness = c.completeness();
    let slots = c.slots;
    if issues.0.len() > start {
        return None;
    }
    Some(SourcePlan {
        name: rp.name,
        table,
        file: path.to_path_buf(),
        description: rp.description,
        glob: glob?,
        format: rp.format,
        period: period?,
        redelivery: rp.redelivery,
        max_reject_ratio: ratio,
        period_kind: rp.period.kind,
        completeness,
        columns,
        keys,
        derive,
        rules,
        unique,
        freshness,
        slots,
        outputs,
        schema: Arc::new(Schema::new(fields)),
    })
}

/// One pipeline file being compiled, phase by phase (settings, columns, keys,
/// derived fields, rules, bookkeeping, period, unique, the curated schema,
/// completeness): each phase adds its output slots, in this order, and reports
/// what is wrong with its part of the file.
struct SourceCompiler<'a> {
    path: &'a Path,
    rp: &'a RawPipeline,
    issues: &'a mut Issues,
    /// Every value a row will carry: (output name, where it comes from, type).
    slots: Vec<(String, SlotKind, ColumnType)>,
}

impl SourceCompiler<'_> {
    fn push(&mut self, message: impl Into<String>) {
        self.issues.push(self.path, message);
    }

    fn col_index(&self, name: &str) -> Option<usize> {
        self.rp.columns.iter().position(|c| c.name == name)
    }

    fn slot_of(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|(n, _, _)| n == name)
    }

    /// A declared column of type date, for `what` (a derived field or rule).
    fn need_date(&mut self, name: &str, what: &str) -> Option<usize> {
        match self.col_index(name) {
            Some(ix) if self.rp.columns[ix].ty == ColumnType::Date => Some(ix),
            Some(_) => {
                self.push(format!("derive {what}: column `{name}` must have type date"));
                None
            }
            None => {
                self.push(format!("derive {what}: unknown column `{name}`"));
                None
            }
        }
    }

    /// A rule's `unless`: `Some(None)` when there is none, `None` when it is wrong.
    fn condition(&mut self, cond: Option<&super::Condition>, rule: &str) -> Option<Unless> {
        match cond {
            None => Some(None),
            Some(cond) => match self.col_index(&cond.column) {
                Some(ix) => Some(Some((ix, cond.values.iter().cloned().collect()))),
                None => {
                    self.push(format!(
                        "rule {rule}: unless names unknown column `{}`",
                        cond.column
                    ));
                    None
                }
            },
        }
    }

    /// The name, file pattern, format, reject ratio and freshness.
    fn settings(
        &mut self,
        default_ratio: f64,
    ) -> (Option<globset::GlobMatcher>, f64, Option<super::ops::Freshness>) {
        let rp = self.rp;
        if rp.name.is_empty()
            || !rp
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            self.push(format!(
                "name `{}` must be lowercase letters, digits and _",
                rp.name
            ));
        }
        // `*.csv` matches `EYFSP_2025-26.CSV` too: partners' tools vary the case.
        let glob = match globset::GlobBuilder::new(&rp.files)
            .case_insensitive(true)
            .build()
        {
            Ok(g) => Some(g.compile_matcher()),
            Err(e) => {
                self.push(format!("files: bad glob `{}`: {e}", rp.files));
                None
            }
        };
        let header_row = match &rp.format {
            Format::Csv {
                delimiter,
                quote,
                header_row,
                ..
            } => {
                if !delimiter.is_ascii() || !quote.is_ascii() {
                    self.push("format: delimiter and quote must be ASCII characters");
                }
                *header_row
            }
            Format::Xlsx { header_row, .. } => *header_row,
        };
        if header_row == 0 {
            self.push("format: header_row is 1-based and must be at least 1");
        }
        let ratio = rp.max_reject_ratio.unwrap_or(default_ratio);
        let freshness = rp
            .freshness
            .as_ref()
            .map(|f| f.compile(self.path, &mut self.issues.0));
        if !(0.0..=1.0).contains(&ratio) {
            self.push("max_reject_ratio must be between 0 and 1");
        }
        (glob, ratio, freshness)
    }

    fn columns(&mut self) -> Vec<ColumnPlan> {
        let mut alias_owner: HashMap<String, String> = HashMap::new();
        let mut columns = Vec::new();
        for (i, c) in self.rp.columns.iter().enumerate() {
            if self.slots.iter().any(|s| s.0 == c.name) {
                self.push(format!("column `{}` is declared twice", c.name));
            }
            columns.push(self.column(c, &mut alias_owner));
            self.slots.push((c.name.clone(), SlotKind::Column(i), c.ty));
        }
        columns
    }

    fn column(&mut self, c: &RawColumn, alias_owner: &mut HashMap<String, String>) -> ColumnPlan {
        if IDENTIFYING_NAMES.contains(&c.name.as_str()) && !c.identifier {
            self.push(format!(
                "column `{}` identifies a child: declare it `identifier = true` so it is never written to the lake",
                c.name
            ));
        }
        let mut aliases = vec![normalise_header(&c.name)];
        aliases.extend(c.aliases.iter().map(|a| normalise_header(a)));
        aliases.dedup();
        for a in &aliases {
            if let Some(other) = alias_owner.insert(a.clone(), c.name.clone())
                && other != c.name
            {
                self.push(format!(
                    "header alias `{a}` maps to both `{other}` and `{}`",
                    c.name
                ));
            }
        }
        let pattern = c
            .pattern
            .as_ref()
            .and_then(|p| match Regex::new(&format!("^(?:{p})$")) {
                Ok(r) => Some(r),
                Err(e) => {
                    self.push(format!("column `{}`: bad pattern: {e}", c.name));
                    None
                }
            });
        if (c.min.is_some() || c.max.is_some()) && !matches!(c.ty, ColumnType::Integer | ColumnType::Decimal)
        {
            self.push(format!(
                "column `{}`: min/max need type integer or decimal",
                c.name
            ));
        }
        let date_formats = c
            .date_formats
            .clone()
            .unwrap_or_else(|| vec!["%d/%m/%Y".into(), "%Y-%m-%d".into()]);
        if (c.earliest.is_some() || c.not_future) && c.ty != ColumnType::Date {
            self.push(format!(
                "column `{}`: `earliest` and `not_future` need type = \"date\"",
                c.name
            ));
        }
        let earliest = c.earliest.as_deref().and_then(|e| {
            chrono::NaiveDate::parse_from_str(e, "%Y-%m-%d")
                .map_err(|_| {
                    self.push(format!(
                        "column `{}`: earliest = \"{e}\" is not a date like 2000-01-01",
                        c.name
                    ))
                })
                .ok()
        });
        ColumnPlan {
            name: c.name.clone(),
            aliases,
            ty: c.ty,
            required: c.required,
            identifier: c.identifier,
            values: c
                .values
                .iter()
                .map(|(k, v)| (k.trim().to_lowercase(), v.clone()))
                .collect(),
            allowed: c.allowed.as_ref().map(|a| a.iter().cloned().collect()),
            min: c.min,
            max: c.max,
            pattern,
            check: c.check,
            date_formats,
            earliest,
            not_future: c.not_future,
        }
    }

    fn keys(&mut self) -> Vec<KeyPlan> {
        let mut keys = Vec::new();
        for (i, k) in self.rp.keys.iter().enumerate() {
            let mut fields = Vec::new();
            for f in &k.fields {
                match self.col_index(f) {
                    Some(ix) => fields.push(ix),
                    None => self.push(format!("key `{}`: unknown column `{f}`", k.name)),
                }
            }
            if k.fields.is_empty() {
                self.push(format!("key `{}` has no fields", k.name));
            }
            keys.push(KeyPlan {
                name: k.name.clone(),
                fields,
                required: k.required,
            });
            self.slots
                .push((k.name.clone(), SlotKind::Key(i), ColumnType::String));
        }
        keys
    }

    fn derived(&mut self, seeds: &Seeds) -> Vec<DerivePlan> {
        let mut derive = Vec::new();
        for d in &self.rp.derive {
            match d {
                Derive::AgeDays { from, at, name } => {
                    let f = self.need_date(from, "age_days");
                    let a = self.need_date(at, "age_days");
                    self.slots
                        .push((name.clone(), SlotKind::Derived, ColumnType::Integer));
                    if let (Some(from), Some(at)) = (f, a) {
                        derive.push(DerivePlan::AgeDays {
                            from,
                            at,
                            out: self.slots.len() - 1,
                        });
                    }
                }
                Derive::MonthOfBirth { from, name } => {
                    let f = self.need_date(from, "month_of_birth");
                    self.slots
                        .push((name.clone(), SlotKind::Derived, ColumnType::String));
                    if let Some(from) = f {
                        derive.push(DerivePlan::MonthOfBirth {
                            from,
                            out: self.slots.len() - 1,
                        });
                    }
                }
                Derive::Geography { postcode } => {
                    let base = self.slots.len();
                    for (n, t) in [
                        ("lsoa_code", ColumnType::String),
                        ("ward_code", ColumnType::String),
                        ("ward_name", ColumnType::String),
                        ("imd_decile", ColumnType::Integer),
                        ("imd_quintile", ColumnType::Integer),
                    ] {
                        self.slots.push((n.to_string(), SlotKind::Derived, t));
                    }
                    match self.col_index(postcode) {
                        Some(ix) => derive.push(DerivePlan::Geography {
                            postcode: ix,
                            out: [base, base + 1, base + 2, base + 3, base + 4],
                        }),
                        None => self.push(format!("derive geography: unknown column `{postcode}`")),
                    }
                }
                Derive::EthnicGroup { from, scheme, name } => {
                    self.slots
                        .push((name.clone(), SlotKind::Derived, ColumnType::String));
                    if !seeds.has_ethnicity_scheme(scheme) {
                        self.push(format!(
                            "derive ethnic_group: scheme `{scheme}` is not in seeds/ethnicity_groups.csv"
                        ));
                    }
                    match self.col_index(from) {
                        Some(ix) => derive.push(DerivePlan::EthnicGroup {
                            from: ix,
                            scheme: scheme.clone(),
                            out: self.slots.len() - 1,
                        }),
                        None => self.push(format!("derive ethnic_group: unknown column `{from}`")),
                    }
                }
            }
        }
        derive
    }

    fn rules(&mut self) -> Vec<RulePlan> {
        let mut rules = Vec::new();
        for r in &self.rp.rules {
            match r {
                Rule::NotBefore {
                    column,
                    other,
                    unless,
                } => {
                    let c = self.need_date(column, "rule not_before");
                    let o = self.need_date(other, "rule not_before");
                    let u = self.condition(unless.as_ref(), "not_before");
                    if let (Some(column), Some(other), Some(unless)) = (c, o, u) {
                        rules.push(RulePlan::NotBefore {
                            column,
                            other,
                            unless,
                        });
                    }
                }
                Rule::WithinDays {
                    column,
                    of,
                    max_days,
                    unless,
                } => {
                    let c = self.need_date(column, "rule within_days");
                    let o = self.need_date(of, "rule within_days");
                    let u = self.condition(unless.as_ref(), "within_days");
                    if *max_days < 0 {
                        self.push("rule within_days: max_days must not be negative");
                    }
                    if let (Some(column), Some(of), Some(unless)) = (c, o, u) {
                        rules.push(RulePlan::WithinDays {
                            column,
                            of,
                            max_days: *max_days,
                            unless,
                        });
                    }
                }
            }
        }
        rules
    }

    /// The slots every row carries (period, delivery, where it came from, the
    /// run), then no output name twice.
    fn bookkeeping(&mut self) {
        self.slots
            .push(("period".into(), SlotKind::Period, ColumnType::String));
        self.slots
            .push(("delivery".into(), SlotKind::Delivery, ColumnType::String));
        self.slots
            .push(("source_file".into(), SlotKind::SourceFile, ColumnType::String));
        self.slots
            .push(("source_line".into(), SlotKind::SourceLine, ColumnType::Integer));
        self.slots
            .push(("ingest_run_id".into(), SlotKind::RunId, ColumnType::String));
        let mut seen = HashSet::new();
        let twice: Vec<String> = self
            .slots
            .iter()
            .filter(|(n, _, _)| !seen.insert(n.clone()))
            .map(|(n, _, _)| n.clone())
            .collect();
        for n in twice {
            self.push(format!(
                "output name `{n}` is produced twice (column, key or derived field)"
            ));
        }
    }

    fn period(&mut self) -> Option<PeriodPlan> {
        let rp = self.rp;
        match rp.period.from {
            PeriodFrom::FileName => match (&rp.period.pattern, &rp.period.format) {
                (Some(p), Some(f)) => match Regex::new(p) {
                    Ok(re) => Some(PeriodPlan::FileName {
                        pattern: re,
                        format: f.clone(),
                    }),
                    Err(e) => {
                        self.push(format!("period: bad pattern: {e}"));
                        None
                    }
                },
                _ => {
                    self.push("period: from = \"file_name\" needs `pattern` and `format`");
                    None
                }
            },
            PeriodFrom::Column => {
                if rp.redelivery == Redelivery::ReplacePeriod {
                    self.push(
                        "period: from = \"column\" cannot be used with redelivery = \"replace_period\" (use replace_table or append)",
                    );
                }
                match rp.period.column.as_deref().and_then(|c| self.col_index(c)) {
                    Some(ix) => Some(PeriodPlan::Column { slot: ix }),
                    None => {
                        self.push("period: from = \"column\" needs `column` naming a declared column");
                        None
                    }
                }
            }
        }
    }

    fn unique(&mut self) -> Vec<usize> {
        let mut unique = Vec::new();
        for u in &self.rp.unique {
            match self.slot_of(u) {
                Some(ix) => unique.push(ix),
                None => self.push(format!("unique: unknown column or key `{u}`")),
            }
        }
        unique
    }

    /// The curated table's columns: the slots written (in the schema's order) and
    /// their Arrow fields, checked against `schemas/<table>.toml` both ways.
    fn curated(
        &mut self,
        schemas: &BTreeMap<String, (PathBuf, RawSchema)>,
        table: &str,
    ) -> (Vec<usize>, Vec<Field>) {
        let rp = self.rp;
        let mut outputs = Vec::new();
        let mut fields = Vec::new();
        let Some((spath, schema)) = schemas.get(table) else {
            self.push(format!("table `{table}` has no schema: add schemas/{table}.toml"));
            return (outputs, fields);
        };
        let is_identifier =
            |kind: &SlotKind| matches!(kind, SlotKind::Column(c) if rp.columns[*c].identifier);
        for sc in &schema.columns {
            let Some(ix) = self.slot_of(&sc.name) else {
                self.issues.push(
                    spath,
                    format!(
                        "column `{}` is not produced by source `{}` ({})",
                        sc.name,
                        rp.name,
                        self.path.display()
                    ),
                );
                continue;
            };
            let (_, kind, ty) = &self.slots[ix];
            if is_identifier(kind) {
                self.issues.push(
                    spath,
                    format!(
                        "column `{}` is an identifier and must not be in a curated table",
                        sc.name
                    ),
                );
            }
            if *ty != sc.ty {
                self.issues.push(
                    spath,
                    format!(
                        "column `{}` has type {:?} here but source `{}` produces {:?}",
                        sc.name, sc.ty, rp.name, ty
                    ),
                );
            }
            outputs.push(ix);
            fields.push(Field::new(&sc.name, ty.arrow(), true));
        }
        for needed in ["period", "delivery"] {
            if !schema.columns.iter().any(|c| c.name == needed) {
                self.issues.push(
                    spath,
                    format!("every curated table needs a `{needed}` column (its partitions)"),
                );
            }
        }
        for (n, kind, _) in &self.slots {
            if !is_identifier(kind) && !schema.columns.iter().any(|c| &c.name == n) {
                self.issues.push(
                    spath,
                    format!(
                        "source `{}` produces `{n}` but the schema does not declare it",
                        rp.name
                    ),
                );
            }
        }
        (outputs, fields)
    }

    fn completeness(&mut self) -> Option<CompletenessPlan> {
        let rp = self.rp;
        let c = rp.completeness.as_ref()?;
        if rp.redelivery != Redelivery::ReplaceTable {
            self.push("[completeness] applies to redelivery = \"replace_table\" only");
        }
        if c.min_rows_ratio.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
            self.push("[completeness] min_rows_ratio must be between 0 and 1");
        }
        let mut require = Vec::new();
        for cond in &c.require {
            match self.col_index(&cond.column) {
                Some(ix) => require.push((ix, cond.values.iter().cloned().collect())),
                None => self.push(format!(
                    "[completeness] require names unknown column `{}`",
                    cond.column
                )),
            }
        }
        Some(CompletenessPlan {
            require,
            min_rows_ratio: c.min_rows_ratio,
        })
    }
}

/// Arrow type of a curated column (for tests and readers).
pub fn arrow_type(ty: ColumnType) -> DataType {
    ty.arrow()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of the shipped project in a temporary folder.
    fn shipped() -> tempfile::TempDir {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        crate::config::copy_project(repo, dir.path()).unwrap();
        dir
    }

    fn issues(dir: &Path) -> Vec<ConfigIssue> {
        match load_project(dir) {
            Err(Error::Config(v)) => v,
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => Vec::new(),
        }
    }

    #[test]
    fn the_shipped_project_is_valid() {
        let dir = shipped();
        let p = load_project(dir.path()).unwrap();
        assert_eq!(p.plan.sources.len(), 6);
    }

    #[test]
    fn every_problem_is_reported_with_its_file() {
        let dir = shipped();
        let d = dir.path();
        let edit = |f: &str, from: &str, to: &str| {
            let p = d.join(f);
            let s = std::fs::read_to_string(&p).unwrap();
            assert!(s.contains(from), "{f}: {from}");
            std::fs::write(&p, s.replacen(from, to, 1)).unwrap();
        };
        // A typo in a key, an unknown column in a key, a schema type mismatch,
        // an identifier not declared as one.
        edit(
            "pipelines/dwp_2yo.toml",
            "kind = \"csv\"",
            "kind = \"csv\"\ndelimeter = \";\"",
        );
        edit(
            "pipelines/ey_headcount.toml",
            "fields = [\"forename\", \"surname\", \"dob\", \"postcode\"]",
            "fields = [\"forename\", \"surnam\"]",
        );
        edit(
            "schemas/hv_contacts.toml",
            "name = \"age_days\"\ntype = \"integer\"",
            "name = \"age_days\"\ntype = \"string\"",
        );
        edit(
            "pipelines/eyfsp.toml",
            "name = \"postcode\"\naliases = [\"Postcode\", \"Home Postcode\", \"Post Code\"]\nidentifier = true",
            "name = \"postcode\"\naliases = [\"Postcode\", \"Home Postcode\", \"Post Code\"]",
        );
        let found = issues(d);
        let text: Vec<String> = found.iter().map(|i| i.to_string()).collect();
        let has = |file: &str, msg: &str| {
            assert!(
                found
                    .iter()
                    .any(|i| i.file.ends_with(file) && i.message.contains(msg)),
                "expected `{msg}` for {file} in {text:#?}"
            )
        };
        has("pipelines/dwp_2yo.toml", "unknown field `delimeter`");
        has("pipelines/ey_headcount.toml", "unknown column `surnam`");
        has("schemas/hv_contacts.toml", "age_days");
        has("pipelines/eyfsp.toml", "`postcode` identifies a child");
        assert!(found.len() >= 4);
    }

    #[test]
    fn a_schema_may_not_hold_an_identifier() {
        let dir = shipped();
        let p = dir.path().join("schemas/dwp_2yo.toml");
        let mut s = std::fs::read_to_string(&p).unwrap();
        s.push_str("\n[[columns]]\nname = \"dob\"\ntype = \"date\"\n");
        std::fs::write(&p, s).unwrap();
        let found = issues(dir.path());
        assert!(
            found.iter().any(|i| i.message.contains("`dob` is an identifier")),
            "{found:#?}"
        );
    }

    #[test]
    fn headers_normalise() {
        assert_eq!(normalise_header("Date of Birth"), "dateofbirth");
        assert_eq!(
            normalise_header(" ELG01: Listening, Attention & Understanding "),
            "elg01listeningattentionunderstanding"
        );
    }
}
