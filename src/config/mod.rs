//! Project configuration: the raw, strictly parsed files (`startwell.toml`,
//! `pipelines/*.toml`, `schemas/*.toml`) and the compile step ([`compile`]) that
//! checks them together and collects every problem with the file it came from.
//!
//! The doc comments on these structs are the user documentation of the keys.

pub mod compile;
pub mod ops;
pub mod target;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use compile::{Plan, Project, SourcePlan, load_project};
pub use target::{Aim, TargetSpec};

/// The files that make a project: `startwell.toml` and the configuration folders.
pub const PROJECT_ITEMS: &[&str] = &["startwell.toml", "pipelines", "schemas", "seeds"];

/// Copy a project's configuration (not its data) from `from` to `to`, e.g. to
/// try a change on a scratch copy.
pub fn copy_project(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    fn copy(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
        if from.is_dir() {
            std::fs::create_dir_all(to)?;
            for e in std::fs::read_dir(from)? {
                let e = e?;
                copy(&e.path(), &to.join(e.file_name()))?;
            }
            Ok(())
        } else {
            std::fs::copy(from, to).map(|_| ())
        }
    }
    for item in PROJECT_ITEMS {
        copy(&from.join(item), &to.join(item))?;
    }
    Ok(())
}

/// `startwell.toml` at the project root.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    /// The council whose scorecard this project builds.
    pub council: RawCouncil,
    /// Where the data lives.
    #[serde(default)]
    pub storage: RawStorage,
    /// Defaults for every source.
    #[serde(default)]
    pub ingest: RawIngest,
    /// Disclosure control of the published scorecard.
    #[serde(default)]
    pub disclosure: crate::disclosure::Policy,
    /// Run lease, retries and graceful shutdown.
    #[serde(default)]
    pub run: ops::RawRun,
    /// The long-running scheduler (`startwell serve`).
    #[serde(default)]
    pub serve: ops::RawServe,
    /// Webhook alerts.
    #[serde(default)]
    pub alerts: ops::RawAlerts,
    /// Memory and scratch space of the scorecard's query engine.
    #[serde(default)]
    pub compute: Compute,
    /// How long identifiable files are kept (`startwell purge`).
    #[serde(default)]
    pub retention: Retention,
    /// How the outputs are written.
    #[serde(default)]
    pub publish: Publish,
    /// What the strategy promised: `[[target]]` entries (see `config/target.rs`).
    #[serde(default, rename = "target")]
    pub targets: Vec<TargetSpec>,
}

/// `[retention]`: how long files holding identifiers are kept (`startwell purge`,
/// and daily under `serve`). Unset: kept until someone deletes them.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Days a landing file is kept after its rows were ingested. Files never
    /// ingested (new, refused, changed since) are never deleted.
    #[serde(default)]
    pub landing_days: Option<u32>,
    /// Days a quarantine file (rejected rows, with their identifiers) is kept.
    #[serde(default)]
    pub quarantine_days: Option<u32>,
}

/// `[publish]`: how the outputs under `outputs/` are written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// Start each CSV output with a UTF-8 byte-order mark, so that Excel reads
    /// it as UTF-8 (accents in names come out right). Default on.
    #[serde(default = "yes")]
    pub csv_bom: bool,
}

fn yes() -> bool {
    true
}

impl Default for Publish {
    fn default() -> Self {
        Publish { csv_bom: true }
    }
}

/// `[compute]`: bounds on the scorecard's query engine.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Compute {
    /// Memory the query engine may hold for sorts, aggregations and joins
    /// (e.g. `"1 GiB"`, `"2 GiB"`); beyond it, sorts and aggregations spill to
    /// `scratch_dir`, and a query that still cannot fit fails the run, naming
    /// this setting. A national-size lake runs with 160 MiB, spilling (its joins
    /// need most of that); the default leaves room for more years of deliveries.
    #[serde(default = "default_memory_limit")]
    pub memory_limit: bytesize::ByteSize,
    /// Where the views computed once per run and any spill files are written
    /// (a local folder, relative to the project; default: the system's temporary
    /// folder). They hold pseudonymised keys, like the lake, and are removed
    /// when the scorecard is done.
    #[serde(default)]
    pub scratch_dir: Option<String>,
    /// Scorecard queries run at once: more uses idle cores, at the cost of memory.
    #[serde(default = "default_concurrent_queries")]
    pub concurrent_queries: usize,
    /// Rows of a lake table that a view computed in parts (one that calls
    /// `in_part(key)`) takes at a time: the views in parts are computed in
    /// `ceil(rows / part_rows)` passes, each over its share of the children, so
    /// their sorts, joins and aggregations hold about this many rows however large
    /// the lake grows. Fewer rows: less memory, and each extra part one more pass
    /// (a scattered view's table is read once whatever the number of parts; any
    /// other view in parts reads its tables once a part).
    #[serde(default = "default_part_rows")]
    pub part_rows: std::num::NonZeroU64,
}

fn default_part_rows() -> std::num::NonZeroU64 {
    std::num::NonZeroU64::new(1_500_000).expect("not zero")
}

fn default_concurrent_queries() -> usize {
    1
}

impl Default for Compute {
    fn default() -> Self {
        Compute {
            memory_limit: default_memory_limit(),
            scratch_dir: None,
            concurrent_queries: default_concurrent_queries(),
            part_rows: default_part_rows(),
        }
    }
}

fn default_memory_limit() -> bytesize::ByteSize {
    bytesize::ByteSize::gib(2)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCouncil {
    /// Council name as published.
    pub name: String,
    /// ONS code of the local authority (e.g. `E08000099`).
    pub area_code: String,
    /// ONS code of its region (e.g. `E12000002`).
    #[serde(default)]
    pub region_code: Option<String>,
    /// The DfE's three-digit local authority number (e.g. `"999"`), for the
    /// open-data export's `old_la_code`.
    #[serde(default)]
    pub old_la_code: Option<String>,
    /// ONS codes of comparator councils (statistical neighbours) to show from the public files.
    #[serde(default)]
    pub comparators: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    /// Local path (relative to the project) or object-store URL (`s3://`, `az://`, `gs://`, `memory://`).
    #[serde(default = "default_root")]
    pub root: String,
}

impl Default for RawStorage {
    fn default() -> Self {
        RawStorage { root: default_root() }
    }
}

fn default_root() -> String {
    "data".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIngest {
    /// A file whose share of rejected rows exceeds this is refused whole (0.0–1.0).
    #[serde(default = "default_max_reject_ratio")]
    pub max_reject_ratio: f64,
    /// Rows per record batch while streaming a file.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Folder of reference seed files, relative to the project.
    #[serde(default = "default_seeds_dir")]
    pub seeds_dir: String,
}

impl Default for RawIngest {
    fn default() -> Self {
        RawIngest {
            max_reject_ratio: default_max_reject_ratio(),
            batch_rows: default_batch_rows(),
            seeds_dir: default_seeds_dir(),
        }
    }
}

fn default_max_reject_ratio() -> f64 {
    0.05
}
fn default_batch_rows() -> usize {
    8192
}
fn default_seeds_dir() -> String {
    "seeds".into()
}

/// `pipelines/<source>.toml`: one partner source, defined by configuration only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    /// Source name; files land under `landing/<name>/`.
    pub name: String,
    /// What the source is and who delivers it.
    #[serde(default)]
    pub description: String,
    /// Curated table written (`lake/<table>`), described by `schemas/<table>.toml`. Default: the source name.
    #[serde(default)]
    pub table: Option<String>,
    /// Glob, relative to `landing/<name>/`, of the files that belong to this source.
    #[serde(default = "default_glob")]
    pub files: String,
    /// File format and its options.
    pub format: Format,
    /// Which period each file (or row) belongs to.
    pub period: RawPeriod,
    /// What a newer file means for older ones.
    #[serde(default)]
    pub redelivery: Redelivery,
    /// Overrides `[ingest] max_reject_ratio` for this source.
    #[serde(default)]
    pub max_reject_ratio: Option<f64>,
    /// Canonical columns and how partner headers map to them.
    pub columns: Vec<RawColumn>,
    /// Pseudonymous keys (keyed HMAC of normalised identifying columns).
    #[serde(default)]
    pub keys: Vec<RawKey>,
    /// Fields derived from identifiers before the identifiers are dropped.
    #[serde(default)]
    pub derive: Vec<Derive>,
    /// Row rules across columns.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Columns (canonical or key names) that identify a row: later duplicates are quarantined.
    #[serde(default)]
    pub unique: Vec<String>,
    /// Expected delivery cadence: `startwell status`, `/metrics` and alerts report the source stale after it.
    #[serde(default)]
    pub freshness: Option<ops::RawFreshness>,
    /// What a file that replaces the whole table (`redelivery = "replace_table"`)
    /// must hold, so a truncated download never replaces a whole one.
    #[serde(default)]
    pub completeness: Option<RawCompleteness>,
}

fn default_glob() -> String {
    "*".into()
}

/// File formats. Adding one: a variant here, a `match` arm in `read::open`, a reader function.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Format {
    Csv {
        #[serde(default = "default_delimiter")]
        delimiter: char,
        #[serde(default = "default_quote")]
        quote: char,
        /// 1-based row holding the header.
        #[serde(default = "default_header_row")]
        header_row: usize,
        /// Rows after the header to skip (units, notes).
        #[serde(default)]
        skip_rows: usize,
        #[serde(default)]
        encoding: Encoding,
    },
    Xlsx {
        /// Sheet name, or 0-based index.
        #[serde(default)]
        sheet: SheetRef,
        #[serde(default = "default_header_row")]
        header_row: usize,
        #[serde(default)]
        skip_rows: usize,
    },
}

fn default_delimiter() -> char {
    ','
}
fn default_quote() -> char {
    '"'
}
fn default_header_row() -> usize {
    1
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8 when the whole file is valid UTF-8, otherwise Windows-1252. A BOM is always stripped.
    #[default]
    Auto,
    Utf8,
    Windows1252,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SheetRef {
    Index(usize),
    Name(String),
}

impl Default for SheetRef {
    fn default() -> Self {
        SheetRef::Index(0)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPeriod {
    /// `file_name` (with `pattern`) or `column` (with `column`).
    pub from: PeriodFrom,
    /// Regex with named groups, matched against the file name.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Template built from the named groups, e.g. `{start}-{end}`.
    #[serde(default)]
    pub format: Option<String>,
    /// Canonical column holding the period.
    #[serde(default)]
    pub column: Option<String>,
    /// What a period must look like; a file (file-name period) or row (column
    /// period) whose period is not one is refused. See [`PeriodKind`].
    #[serde(default)]
    pub kind: Option<PeriodKind>,
}

/// The periods a source's files or rows may carry, checked at ingest so that a
/// period the scorecard cannot place never reaches the lake.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// `2024-25`: an academic (or financial) year, the second year its first plus one.
    AcademicYear,
    /// `2024-25-Q1`: a quarter of a financial year.
    FinancialQuarter,
    /// `2024-autumn`, `2024-spring`, `2024-summer`: a term of the academic year 2024/25.
    Term,
    /// `202425`: a year as the DfE's open data writes `time_period` (consecutive years).
    DfeYear,
    /// `2025`: a calendar or reporting year.
    CalendarYear,
}

impl PeriodKind {
    /// An example of the form, for messages.
    pub fn example(self) -> &'static str {
        match self {
            PeriodKind::AcademicYear => "2024-25",
            PeriodKind::FinancialQuarter => "2024-25-Q1",
            PeriodKind::Term => "2024-autumn",
            PeriodKind::DfeYear => "202425",
            PeriodKind::CalendarYear => "2025",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::AcademicYear => "academic_year",
            PeriodKind::FinancialQuarter => "financial_quarter",
            PeriodKind::Term => "term",
            PeriodKind::DfeYear => "dfe_year",
            PeriodKind::CalendarYear => "calendar_year",
        }
    }

    /// Whether `key` is a period of this kind (years 1990–2100).
    pub fn is_valid(self, key: &str) -> bool {
        let year = |s: &str| {
            (s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<i32>().ok())
                .flatten()
                .filter(|y| (1990..=2100).contains(y))
        };
        let next = |y: i32, s: &str| {
            s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) && s == format!("{:02}", (y + 1) % 100)
        };
        let two_years = |a: &str, b: &str| year(a).is_some_and(|y| next(y, b));
        match self {
            PeriodKind::AcademicYear => key.split_once('-').is_some_and(|(a, b)| two_years(a, b)),
            PeriodKind::FinancialQuarter => key.rsplit_once("-Q").is_some_and(|(fy, q)| {
                matches!(q, "1" | "2" | "3" | "4") && fy.split_once('-').is_some_and(|(a, b)| two_years(a, b))
            }),
            PeriodKind::Term => key
                .split_once('-')
                .is_some_and(|(a, t)| year(a).is_some() && matches!(t, "autumn" | "spring" | "summer")),
            PeriodKind::DfeYear => {
                key.len() == 6 && key.is_char_boundary(4) && two_years(&key[..4], &key[4..])
            }
            PeriodKind::CalendarYear => year(key).is_some(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PeriodFrom {
    FileName,
    Column,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Redelivery {
    /// A newer file for the same period replaces the rows of the older one.
    #[default]
    ReplacePeriod,
    /// Every new file replaces the whole table (e.g. a national statistics download).
    ReplaceTable,
    /// Every new file adds rows.
    Append,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    #[default]
    String,
    Integer,
    Decimal,
    Date,
    Boolean,
}

impl ColumnType {
    pub fn arrow(self) -> datafusion::arrow::datatypes::DataType {
        use datafusion::arrow::datatypes::DataType;
        match self {
            ColumnType::String => DataType::Utf8,
            ColumnType::Integer => DataType::Int64,
            ColumnType::Decimal => DataType::Float64,
            ColumnType::Date => DataType::Date32,
            ColumnType::Boolean => DataType::Boolean,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawColumn {
    /// Canonical column name.
    pub name: String,
    /// Partner header spellings (matched ignoring case, spaces and punctuation). The name itself always matches.
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(rename = "type", default)]
    pub ty: ColumnType,
    /// The header must be present and every row must have a value.
    #[serde(default)]
    pub required: bool,
    /// Identifying column: used for keys and derived fields, never written outside landing/quarantine.
    #[serde(default)]
    pub identifier: bool,
    /// Code mapping, partner value → canonical value (keys matched ignoring case).
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// Allowed canonical values.
    #[serde(default)]
    pub allowed: Option<Vec<String>>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// Regex the (mapped) value must match in full.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Identifier check digit.
    #[serde(default)]
    pub check: Option<IdCheck>,
    /// chrono formats tried in order; default `%d/%m/%Y`, `%Y-%m-%d`. A year must
    /// be written in full: `12/03/23` is rejected as a two-digit year, unless a
    /// `%y` format is listed (chrono's pivot: 00–69 → 2000s, 70–99 → 1900s).
    #[serde(default)]
    pub date_formats: Option<Vec<String>>,
    /// Date columns: no value before this date (`YYYY-MM-DD`).
    #[serde(default)]
    pub earliest: Option<String>,
    /// Date columns: no value after the day the file is ingested.
    #[serde(default)]
    pub not_future: bool,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IdCheck {
    /// NHS number: 10 digits, modulus-11 check digit.
    NhsNumber,
    /// Unique pupil number: 13 characters, check letter first.
    Upn,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    /// Output column name; the same name in two sources means the same key.
    pub name: String,
    /// Columns whose normalised values are hashed, in this order.
    pub fields: Vec<String>,
    /// Reject the row when any field is empty (otherwise the key is null).
    #[serde(default)]
    pub required: bool,
}

/// Derived fields. Adding one: a variant here and a `match` arm in `check::derive`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Derive {
    /// Whole days from date `from` to date `at`.
    AgeDays { from: String, at: String, name: String },
    /// `YYYY-MM` of date `from`.
    MonthOfBirth { from: String, name: String },
    /// From a postcode, through the seeds: `lsoa_code`, `ward_code`, `ward_name`, `imd_decile`, `imd_quintile`.
    Geography { postcode: String },
    /// Group a code through the ethnicity seed (`dfe` or `nhs` scheme) into a major group.
    EthnicGroup {
        from: String,
        scheme: String,
        name: String,
    },
}

/// Row rules across columns. Adding one: a variant here and a `match` arm in `check`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Date `column` must not be before date `other` (except on rows matching `unless`).
    NotBefore {
        column: String,
        other: String,
        #[serde(default)]
        unless: Option<Condition>,
    },
    /// Date `column` must be at most `max_days` after date `of` (e.g. a child's
    /// age at a contact), except on rows matching `unless`.
    WithinDays {
        column: String,
        of: String,
        max_days: i64,
        #[serde(default)]
        unless: Option<Condition>,
    },
}

/// `[completeness]`: checks on a file that replaces its whole table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCompleteness {
    /// Each condition must hold for at least one accepted row (e.g. the England
    /// rows of a national statistics file: `{ column = "geographic_level", values = ["National"] }`).
    #[serde(default)]
    pub require: Vec<Condition>,
    /// The file must have at least this share of the rows the table holds now
    /// (e.g. 0.8: a download with a fifth fewer rows than the last is refused).
    #[serde(default)]
    pub min_rows_ratio: Option<f64>,
}

/// Rows whose (mapped) `column` value is one of `values`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub column: String,
    pub values: Vec<String>,
}

/// `schemas/<table>.toml`: the canonical schema of one curated table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchema {
    pub table: String,
    #[serde(default)]
    pub description: String,
    pub columns: Vec<RawSchemaColumn>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchemaColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    #[serde(default)]
    pub description: String,
}

#[cfg(test)]
mod period_kind_tests {
    use super::PeriodKind::*;

    #[test]
    fn periods_the_scorecard_can_place_and_those_it_cannot() {
        for (kind, good, bad) in [
            (
                AcademicYear,
                &["2024-25", "1999-00"][..],
                &["2025-13", "2025-20", "2025-2026", "24-25", "2024"][..],
            ),
            (
                FinancialQuarter,
                &["2024-25-Q1", "2024-25-Q4"],
                &["2024-25-Q5", "2024-26-Q1", "2024-25"],
            ),
            (
                Term,
                &["2024-autumn", "2024-summer"],
                &["2024-winter", "24-autumn"],
            ),
            (
                DfeYear,
                &["202425", "199900"],
                &["2025 (provisional)", "202513", "2025"],
            ),
            (CalendarYear, &["2025"], &["2025 (provisional)", "1800", "25"]),
        ] {
            for g in good {
                assert!(kind.is_valid(g), "{g} is a {kind:?}");
            }
            for b in bad {
                assert!(!kind.is_valid(b), "{b} is not a {kind:?}");
            }
        }
    }
}
