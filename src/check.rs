//! Normalising and checking rows: header mapping, code mapping, type parsing,
//! field checks (allowed values, ranges, patterns, NHS number and UPN check
//! digits), row rules, keys, derived fields and duplicates. A row either becomes
//! typed values for the lake or a list of reasons for quarantine.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

use crate::config::compile::{ColumnPlan, DerivePlan, RulePlan, SlotKind, SourcePlan, normalise_header};
use crate::config::{ColumnType, IdCheck};
use crate::error::{Error, Result};
use crate::pseudo::{PseudoKey, normalise_text};
use crate::read::{RawRow, excel_serial_to_date};
use crate::seeds::{Seeds, imd_quintile};

/// A typed value in a row's working slots.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Date(NaiveDate),
    Bool(bool),
}

impl Value {
    fn key_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Str(s) => Some(normalise_text(s)),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Date(d) => Some(d.format("%Y-%m-%d").to_string()),
            Value::Bool(b) => Some(b.to_string()),
        }
    }
}

/// Why a row was rejected. `summary()` (column and kind, no values) groups reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub column: String,
    pub kind: &'static str,
    pub detail: String,
}

impl Reason {
    pub fn summary(&self) -> String {
        format!("{}: {}", self.column, self.kind)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.detail.is_empty() {
            write!(f, "{}: {}", self.column, self.kind)
        } else {
            write!(f, "{}: {} ({})", self.column, self.kind, self.detail)
        }
    }
}

/// NHS number check: 10 digits, modulus 11 with weights 10..2.
pub fn nhs_number_valid(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 10 || s.chars().any(|c| !c.is_ascii_digit() && c != ' ' && c != '-') {
        return false;
    }
    let sum: u32 = digits[..9]
        .iter()
        .enumerate()
        .map(|(i, d)| d * (10 - i as u32))
        .sum();
    let check = 11 - (sum % 11);
    let check = if check == 11 { 0 } else { check };
    check != 10 && check == digits[9]
}

/// The check letters of the UPN scheme (DfE): index = weighted sum mod 23.
const UPN_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";

/// The check letter for the 12 characters after it (digits; the last may be a letter).
pub fn upn_check_letter(rest: &str) -> Option<char> {
    let b = rest.as_bytes();
    if b.len() != 12 {
        return None;
    }
    let mut sum = 0u32;
    for (i, &c) in b.iter().enumerate() {
        let v = if c.is_ascii_digit() {
            (c - b'0') as u32
        } else if i == 11 {
            UPN_LETTERS.iter().position(|&l| l == c.to_ascii_uppercase())? as u32
        } else {
            return None;
        };
        sum += v * (i as u32 + 2);
    }
    Some(UPN_LETTERS[(sum % 23) as usize] as char)
}

pub fn upn_valid(s: &str) -> bool {
    let s = s.trim();
    s.len() == 13
        && s.is_ascii()
        && upn_check_letter(&s[1..]).is_some_and(|c| c == s.as_bytes()[0].to_ascii_uppercase() as char)
}

/// Excel serial day numbers read as dates: 10000 (1927-05-18) to 80000 (2119-01-10).
/// A smaller bare number is more likely a year (`2020`) or a count than a date.
pub const EXCEL_SERIALS: std::ops::RangeInclusive<f64> = 10_000.0..=80_000.0;

/// Parse a date in one of `formats`, or an Excel serial day number (see
/// [`EXCEL_SERIALS`]). A year must be written in full: chrono's `%Y` reads `23`
/// as the year 23, so a parse giving a year before 1000 is not taken (a `%y`
/// format, if listed, still reads it).
pub fn parse_date(s: &str, formats: &[String]) -> Option<NaiveDate> {
    let s = s.trim();
    let full_year = |d: &NaiveDate| d.year() >= 1000;
    for f in formats {
        if let Ok(d) = NaiveDate::parse_from_str(s, f)
            && full_year(&d)
        {
            return Some(d);
        }
    }
    if s.len() > 10 && s.is_char_boundary(10) {
        // "2024-01-31 00:00:00", "31/01/2024 00:00"
        for f in formats {
            if let Ok(d) = NaiveDate::parse_from_str(&s[..10], f)
                && full_year(&d)
            {
                return Some(d);
            }
        }
    }
    match s.parse::<f64>() {
        Ok(serial) if EXCEL_SERIALS.contains(&serial) => excel_serial_to_date(serial),
        _ => None,
    }
}

/// A date written with a two-digit year (`12/03/23`, `12-03-23`).
fn two_digit_year(s: &str) -> bool {
    let parts: Vec<&str> = s.trim().split(['/', '-', '.']).collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[2].len() == 2
        && parts[0].len() <= 2
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Which header cell feeds each declared column.
#[derive(Debug, Clone)]
pub struct HeaderMap {
    pub cells: Vec<Option<usize>>,
    /// Cells in the header row, not counting empty ones at its end.
    pub width: usize,
}

/// Whether a header cell may be quoted in a message: it could be a column name,
/// not an identifier or other value of a data row (an NHS number, a UPN, a
/// postcode, a date, a long number, a line break from a misread line ending).
pub fn could_be_header(cell: &str) -> bool {
    static POSTCODE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}\b").expect("valid regex")
    });
    static DATE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\d{1,4}[-/. ]\d{1,2}[-/. ]\d{1,4}|\d{1,2}[-/ ][A-Za-z]{3}").expect("valid regex")
    });
    let c = cell.trim();
    let digits = c.chars().filter(char::is_ascii_digit).count();
    !c.is_empty()
        && c.chars().count() <= 64
        && !c.contains(['\r', '\n'])
        && digits < 6
        && !nhs_number_valid(c)
        && !upn_valid(c)
        && !POSTCODE.is_match(c)
        && !DATE.is_match(c)
}

/// Map a file's header to the source's columns, or say why it cannot be used.
///
/// Messages never quote the row's cells when it may not be a header at all (it
/// may be the first data row of a file delivered without one), and quote a cell
/// of a header that did map only when [`could_be_header`] says it may be a name.
pub fn map_header(plan: &SourcePlan, header: &[String], file: &str) -> Result<HeaderMap> {
    let normalised: Vec<String> = header.iter().map(|h| normalise_header(h)).collect();
    let cells: Vec<Option<usize>> = plan
        .columns
        .iter()
        .map(|c| normalised.iter().position(|h| c.aliases.contains(h)))
        .collect();
    let header_row = match &plan.format {
        crate::config::Format::Csv { header_row, .. } | crate::config::Format::Xlsx { header_row, .. } => {
            *header_row
        }
    };
    let mapped = cells.iter().filter(|c| c.is_some()).count();
    if mapped == 0 {
        return Err(Error::bad_file(
            file,
            format!(
                "row {header_row}, where the header should be, has {} cell(s) and none of them is a column name of source `{}` (the row is not quoted: it may be data). Is this the right file, does it have a header row, and is it on row {header_row}?",
                header.len(),
                plan.name,
            ),
        ));
    }
    // Two columns of the file mapping to one column: which is meant is a guess.
    for (c, at) in plan.columns.iter().zip(&cells) {
        let Some(first) = at else { continue };
        if let Some(second) = normalised
            .iter()
            .enumerate()
            .skip(first + 1)
            .find(|(_, h)| c.aliases.contains(h))
            .map(|(i, _)| i)
        {
            let name = |i: usize| {
                if could_be_header(&header[i]) {
                    format!("`{}` (column {})", header[i].trim(), i + 1)
                } else {
                    format!("column {}", i + 1)
                }
            };
            return Err(Error::bad_file(
                file,
                format!(
                    "two columns, {} and {}, both map to column `{}`: which one is meant is ambiguous; ask the partner to send one, or make the aliases in {} tell them apart",
                    name(*first),
                    name(second),
                    c.name,
                    plan.file.display()
                ),
            ));
        }
    }
    let mut missing = Vec::new();
    for (c, cell) in plan.columns.iter().zip(&cells) {
        if c.required && cell.is_none() {
            // Quote the nearest cell only when the row is surely a header (two or
            // more columns found) and the cell itself could be a column name.
            let closest = header
                .iter()
                .filter(|h| mapped >= 2 && could_be_header(h))
                .map(|h| (strsim::jaro_winkler(&normalise_header(h), &c.aliases[0]), h))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, h)| format!(" (closest header present: `{}`)", h.trim()))
                .unwrap_or_default();
            missing.push(format!("`{}`{closest}", c.name));
        }
    }
    if !missing.is_empty() {
        return Err(Error::bad_file(
            file,
            format!(
                "missing required column(s) {}; add the partner's spelling to `aliases` in {}",
                missing.join(", "),
                plan.file.display()
            ),
        ));
    }
    let width = header
        .iter()
        .rposition(|h| !h.trim().is_empty())
        .map_or(0, |i| i + 1);
    Ok(HeaderMap { cells, width })
}

/// Per-file context for checking rows.
pub struct Checker<'a> {
    pub plan: &'a SourcePlan,
    pub header: HeaderMap,
    pub key: &'a PseudoKey,
    pub seeds: &'a Seeds,
    pub info: FileInfo,
    /// 128-bit digest of each accepted row's `unique` values → its line.
    seen: HashMap<u128, u64>,
    /// The day of ingest, for `not_future` columns.
    today: NaiveDate,
}

/// What every row of one file carries: its period, delivery, file name and run.
#[derive(Debug, Clone)]
pub struct FileInfo {
    /// From the file name (`None` when the period comes from a column).
    pub period: Option<String>,
    pub delivery: String,
    /// Path under `landing/<source>/`.
    pub file: String,
    pub run_id: String,
}

/// The outcome for one row.
pub enum Checked {
    Ok(Vec<Value>),
    Rejected(Vec<Reason>),
}

impl<'a> Checker<'a> {
    pub fn new(
        plan: &'a SourcePlan,
        header: HeaderMap,
        key: &'a PseudoKey,
        seeds: &'a Seeds,
        info: FileInfo,
    ) -> Self {
        Checker {
            plan,
            header,
            key,
            seeds,
            info,
            seen: HashMap::new(),
            today: chrono::Local::now().date_naive(),
        }
    }

    /// A row the file's damage made: a line break inside a value (a quote left
    /// open swallows the lines after it into one cell), or a number of fields
    /// that differs from the header's (a row cut short, an unquoted delimiter
    /// shifting the columns). Empty cells beyond the header are tolerated.
    fn damaged(&self, row: &RawRow) -> Option<Reason> {
        let breaks: usize = row
            .cells
            .iter()
            .map(|c| c.trim_end_matches('\r').matches('\n').count())
            .sum();
        if breaks > 0 {
            return Some(Reason {
                column: "(row)".into(),
                kind: "line break inside a value (a quote left open?)",
                detail: format!("the row spans {} lines", breaks + 1),
            });
        }
        let fields = row
            .cells
            .iter()
            .rposition(|c| !c.trim().is_empty())
            .map_or(0, |i| i + 1);
        let width = self.header.width;
        if fields > width || (row.cells.len() < width && fields > 0) {
            return Some(Reason {
                column: "(row)".into(),
                kind: "wrong number of fields",
                detail: format!(
                    "{} field(s), the header has {width}",
                    if fields > width { fields } else { row.cells.len() }
                ),
            });
        }
        None
    }

    /// The raw cell of declared column `i`, trimmed.
    pub fn raw<'r>(&self, row: &'r RawRow, i: usize) -> &'r str {
        self.header.cells[i]
            .and_then(|c| row.cells.get(c))
            .map(|s| s.trim())
            .unwrap_or("")
    }

    pub fn check(&mut self, row: &RawRow) -> Checked {
        if let Some(reason) = self.damaged(row) {
            return Checked::Rejected(vec![reason]);
        }
        let mut reasons = Vec::new();
        let mut slots = vec![Value::Null; self.plan.slots.len()];
        for (i, c) in self.plan.columns.iter().enumerate() {
            match self.parse(c, self.raw(row, i)) {
                Ok(v) => slots[i] = v,
                Err(Some(reason)) => reasons.push(reason),
                Err(None) => {}
            }
        }
        self.check_period(&slots, &mut reasons);
        apply_rules(self.plan, &slots, &mut reasons);
        self.make_keys(&mut slots, &mut reasons);
        self.derive(&mut slots);
        self.stamp(&mut slots, row);
        if let Some(period_slot) = self.plan.slot("period")
            && slots[period_slot] == Value::Null
            && reasons.is_empty()
        {
            reasons.push(Reason {
                column: "period".into(),
                kind: "period missing",
                detail: String::new(),
            });
        }
        if reasons.is_empty() {
            self.dedupe(&slots, row, &mut reasons);
        }
        if reasons.is_empty() {
            Checked::Ok(slots)
        } else {
            Checked::Rejected(reasons)
        }
    }

    /// One declared column's cell: its value (`Null` when empty and optional), or
    /// why the row is rejected (`Err(None)`: empty and optional, nothing to keep).
    /// An identifier's value is never quoted in a reason.
    fn parse(&self, c: &ColumnPlan, raw: &str) -> std::result::Result<Value, Option<Reason>> {
        let reject = |kind: &'static str, detail: String| {
            Err(Some(Reason {
                column: c.name.clone(),
                kind,
                detail,
            }))
        };
        let shown = |v: &str| {
            if c.identifier {
                String::new()
            } else {
                format!("`{v}`")
            }
        };
        if raw.is_empty() {
            return if c.required {
                reject("required value missing", String::new())
            } else {
                Err(None)
            };
        }
        let mapped: &str = c
            .values
            .get(&raw.to_lowercase())
            .map(String::as_str)
            .unwrap_or(raw);
        let Some(v) = convert(c, mapped) else {
            return reject(unreadable(c.ty, mapped), shown(raw));
        };
        if let Value::Date(d) = &v {
            let why = if let Some(e) = c.earliest.filter(|e| d < e) {
                Some(("implausible date (too early)", format!("before {e}")))
            } else if c.not_future && *d > self.today {
                Some(("date in the future", format!("after {}", self.today)))
            } else {
                None
            };
            if let Some((kind, bound)) = why {
                let value = shown(raw);
                return reject(
                    kind,
                    if value.is_empty() {
                        bound
                    } else {
                        format!("{value} {bound}")
                    },
                );
            }
        }
        if let Some(allowed) = &c.allowed
            && !allowed.contains(mapped)
        {
            return reject("value not allowed", shown(raw));
        }
        let num = match &v {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        };
        if let Some(n) = num
            && (c.min.is_some_and(|m| n < m) || c.max.is_some_and(|m| n > m))
        {
            let bound = |m: Option<f64>| m.map(|m| m.to_string()).unwrap_or_default();
            return reject(
                "out of range",
                format!("{} not in {}–{}", shown(raw), bound(c.min), bound(c.max)),
            );
        }
        if let Some(p) = &c.pattern
            && !p.is_match(mapped)
        {
            return reject("does not match pattern", shown(raw));
        }
        match c.check {
            Some(IdCheck::NhsNumber) if !nhs_number_valid(mapped) => {
                reject("invalid NHS number (check digit)", String::new())
            }
            Some(IdCheck::Upn) if !upn_valid(mapped) => reject("invalid UPN (check letter)", String::new()),
            _ => Ok(v),
        }
    }

    /// A period read from a column must look like the source's kind of period.
    fn check_period(&self, slots: &[Value], reasons: &mut Vec<Reason>) {
        let plan = self.plan;
        if let (crate::config::compile::PeriodPlan::Column { slot }, Some(kind)) =
            (&plan.period, plan.period_kind)
            && let Value::Str(p) = &slots[*slot]
            && !kind.is_valid(p)
        {
            let c = &plan.columns[*slot];
            reasons.push(Reason {
                column: c.name.clone(),
                kind: "not a valid period",
                detail: if c.identifier {
                    String::new()
                } else {
                    format!("`{p}`, expected like `{}`", kind.example())
                },
            });
        }
    }

    /// Each key from its fields (an HMAC of their normalised text), or why not.
    fn make_keys(&self, slots: &mut [Value], reasons: &mut Vec<Reason>) {
        let plan = self.plan;
        let nc = plan.columns.len();
        for (k, kp) in plan.keys.iter().enumerate() {
            let texts: Option<Vec<String>> = kp.fields.iter().map(|f| slots[*f].key_text()).collect();
            match texts {
                Some(t) if t.iter().all(|s| !s.is_empty()) => {
                    let refs: Vec<&str> = t.iter().map(String::as_str).collect();
                    slots[nc + k] = Value::Str(self.key.child_key(&kp.name, &refs));
                }
                _ if kp.required => reasons.push(Reason {
                    column: kp.name.clone(),
                    kind: "key cannot be made (a field is missing or invalid)",
                    detail: String::new(),
                }),
                _ => {}
            }
        }
    }

    /// The derived fields (age in days, month of birth, geography, ethnic group).
    fn derive(&self, slots: &mut [Value]) {
        for d in &self.plan.derive {
            match d {
                DerivePlan::AgeDays { from, at, out } => {
                    if let (Value::Date(f), Value::Date(a)) = (&slots[*from], &slots[*at]) {
                        slots[*out] = Value::Int((*a - *f).num_days());
                    }
                }
                DerivePlan::MonthOfBirth { from, out } => {
                    if let Value::Date(f) = &slots[*from] {
                        slots[*out] = Value::Str(format!("{:04}-{:02}", f.year(), f.month()));
                    }
                }
                DerivePlan::Geography { postcode, out } => {
                    if let Value::Str(p) = &slots[*postcode]
                        && let Some(a) = self.seeds.area(p)
                    {
                        slots[out[0]] = Value::Str(a.lsoa_code.clone());
                        slots[out[1]] = Value::Str(a.ward_code.clone());
                        slots[out[2]] = Value::Str(a.ward_name.clone());
                        if let Some(d) = a.imd_decile {
                            slots[out[3]] = Value::Int(d);
                            slots[out[4]] = imd_quintile(d).map(Value::Int).unwrap_or(Value::Null);
                        }
                    }
                }
                DerivePlan::EthnicGroup { from, scheme, out } => {
                    if let Value::Str(code) = &slots[*from] {
                        slots[*out] = self
                            .seeds
                            .ethnic_group(scheme, code)
                            .map(|g| Value::Str(g.to_string()))
                            .unwrap_or(Value::Null);
                    }
                }
            }
        }
    }

    /// The bookkeeping values: period, file, line, run and delivery.
    fn stamp(&self, slots: &mut [Value], row: &RawRow) {
        let plan = self.plan;
        for (ix, (_, kind, _)) in plan.slots.iter().enumerate() {
            match kind {
                SlotKind::Period => {
                    slots[ix] = match &plan.period {
                        crate::config::compile::PeriodPlan::Column { slot } => match &slots[*slot] {
                            Value::Null => Value::Null,
                            v => Value::Str(v.key_text_raw()),
                        },
                        _ => self.info.period.clone().map(Value::Str).unwrap_or(Value::Null),
                    }
                }
                SlotKind::SourceFile => slots[ix] = Value::Str(self.info.file.clone()),
                SlotKind::SourceLine => slots[ix] = Value::Int(row.line as i64),
                SlotKind::RunId => slots[ix] = Value::Str(self.info.run_id.clone()),
                SlotKind::Delivery => slots[ix] = Value::Str(self.info.delivery.clone()),
                _ => {}
            }
        }
    }

    /// A row whose `unique` columns repeat an earlier row's is a duplicate.
    fn dedupe(&mut self, slots: &[Value], row: &RawRow, reasons: &mut Vec<Reason>) {
        let plan = self.plan;
        if plan.unique.is_empty() {
            return;
        }
        let digest = unique_digest(plan.unique.iter().map(|u| &slots[*u]));
        if let Some(first) = self.seen.get(&digest) {
            reasons.push(Reason {
                column: plan
                    .unique
                    .iter()
                    .map(|u| plan.slots[*u].0.as_str())
                    .collect::<Vec<_>>()
                    .join("+"),
                kind: "duplicate row",
                detail: format!("same as line {first}"),
            });
        } else {
            self.seen.insert(digest, row.line);
        }
    }
}

/// A 128-bit digest (SHA-256, truncated) of values, each encoded without
/// ambiguity: a type tag, then a length-prefixed text or the fixed-width number.
/// Two different keys collide with probability about n²/2¹²⁹ (10⁻²⁵ for ten
/// million rows), so duplicate detection is exact in practice.
pub fn unique_digest<'v>(values: impl Iterator<Item = &'v Value>) -> u128 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for v in values {
        match v {
            Value::Null => h.update([0u8]),
            Value::Str(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
            Value::Int(i) => {
                h.update([2u8]);
                h.update(i.to_le_bytes());
            }
            Value::Float(f) => {
                h.update([3u8]);
                h.update(f.to_bits().to_le_bytes());
            }
            Value::Date(d) => {
                h.update([4u8]);
                h.update(chrono::Datelike::num_days_from_ce(d).to_le_bytes());
            }
            Value::Bool(b) => h.update([5u8, u8::from(*b)]),
        }
    }
    let out = h.finalize();
    u128::from_le_bytes(out[..16].try_into().expect("32 bytes"))
}

impl Value {
    /// Plain text of a value (for periods taken from a column).
    fn key_text_raw(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            other => other.key_text().unwrap_or_default(),
        }
    }
}

/// Accumulates accepted rows into record batches of the curated schema.
pub struct BatchBuilder {
    schema: SchemaRef,
    outputs: Vec<usize>,
    rows: Vec<Vec<Value>>,
}

impl BatchBuilder {
    pub fn new(plan: &SourcePlan) -> Self {
        BatchBuilder {
            schema: plan.schema.clone(),
            outputs: plan.outputs.clone(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, slots: Vec<Value>) {
        self.rows.push(slots);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn finish(&mut self) -> Result<RecordBatch> {
        let rows = std::mem::take(&mut self.rows);
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.outputs.len());
        for (field, slot) in self.schema.fields().iter().zip(&self.outputs) {
            let col = rows.iter().map(|r| &r[*slot]);
            let a: ArrayRef = match field.data_type() {
                DataType::Utf8 => {
                    let mut b = StringBuilder::new();
                    for v in col {
                        match v {
                            Value::Str(s) => b.append_value(s),
                            _ => b.append_null(),
                        }
                    }
                    Arc::new(b.finish())
                }
                DataType::Int64 => {
                    let mut b = Int64Builder::new();
                    for v in col {
                        match v {
                            Value::Int(i) => b.append_value(*i),
                            _ => b.append_null(),
                        }
                    }
                    Arc::new(b.finish())
                }
                DataType::Float64 => {
                    let mut b = Float64Builder::new();
                    for v in col {
                        match v {
                            Value::Float(f) => b.append_value(*f),
                            Value::Int(i) => b.append_value(*i as f64),
                            _ => b.append_null(),
                        }
                    }
                    Arc::new(b.finish())
                }
                DataType::Date32 => {
                    let mut b = Date32Builder::new();
                    for v in col {
                        match v {
                            Value::Date(d) => b.append_value(date32(*d)),
                            _ => b.append_null(),
                        }
                    }
                    Arc::new(b.finish())
                }
                DataType::Boolean => {
                    let mut b = BooleanBuilder::new();
                    for v in col {
                        match v {
                            Value::Bool(x) => b.append_value(*x),
                            _ => b.append_null(),
                        }
                    }
                    Arc::new(b.finish())
                }
                other => return Err(Error::internal(format!("unexpected type {other}"))),
            };
            arrays.push(a);
        }
        RecordBatch::try_new(self.schema.clone(), arrays).map_err(Error::internal)
    }
}

/// Days since the Unix epoch, as Arrow's Date32 stores them.
pub fn date32(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days() as i32
}

/// Schema of a quarantine file: where the row came from, why, and its raw cells.
pub fn quarantine_schema(plan: &SourcePlan) -> SchemaRef {
    let mut fields = vec![
        Field::new("source_file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("reasons", DataType::Utf8, false),
    ];
    for c in &plan.columns {
        fields.push(Field::new(&c.name, DataType::Utf8, true));
    }
    Arc::new(Schema::new(fields))
}

/// A cell's text as a value of the column's type, `None` when it is not one.
fn convert(c: &ColumnPlan, mapped: &str) -> Option<Value> {
    match c.ty {
        ColumnType::String => Some(Value::Str(mapped.to_string())),
        ColumnType::Integer => mapped
            .parse::<i64>()
            .ok()
            .or_else(|| {
                mapped
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            })
            .map(Value::Int),
        ColumnType::Decimal => mapped
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::Float),
        ColumnType::Date => parse_date(mapped, &c.date_formats).map(Value::Date),
        ColumnType::Boolean => parse_bool(mapped).map(Value::Bool),
    }
}

/// Why a cell is not a value of type `ty`.
fn unreadable(ty: ColumnType, mapped: &str) -> &'static str {
    match ty {
        ColumnType::Date if two_digit_year(mapped) => "two-digit year (write the year in full)",
        ColumnType::Date => "not a date",
        ColumnType::Integer => "not a whole number",
        ColumnType::Decimal => "not a number",
        ColumnType::Boolean => "not yes/no",
        ColumnType::String => "unreadable",
    }
}

/// The source's rules between dates (`not_before`, `within_days`).
fn apply_rules(plan: &SourcePlan, slots: &[Value], reasons: &mut Vec<Reason>) {
    // A rule does not apply to rows matching its `unless` condition.
    let exempt = |unless: &Option<(usize, std::collections::HashSet<String>)>| {
        unless
            .as_ref()
            .is_some_and(|(c, vals)| matches!(&slots[*c], Value::Str(s) if vals.contains(s)))
    };
    for r in &plan.rules {
        match r {
            RulePlan::NotBefore {
                column,
                other,
                unless,
            } => {
                if let (Value::Date(a), Value::Date(b)) = (&slots[*column], &slots[*other])
                    && a < b
                    && !exempt(unless)
                {
                    reasons.push(Reason {
                        column: plan.columns[*column].name.clone(),
                        kind: "date before",
                        detail: plan.columns[*other].name.clone(),
                    });
                }
            }
            RulePlan::WithinDays {
                column,
                of,
                max_days,
                unless,
            } => {
                if let (Value::Date(a), Value::Date(b)) = (&slots[*column], &slots[*of])
                    && (*a - *b).num_days() > *max_days
                    && !exempt(unless)
                {
                    reasons.push(Reason {
                        column: plan.columns[*column].name.clone(),
                        kind: "implausibly long after",
                        detail: format!("more than {max_days} days after {}", plan.columns[*of].name),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Make a valid NHS number from 9 digits, if one exists.
    fn nhs_from(nine: &str) -> Option<String> {
        let sum: u32 = nine
            .chars()
            .enumerate()
            .map(|(i, c)| c.to_digit(10).unwrap() * (10 - i as u32))
            .sum();
        let check = (11 - sum % 11) % 11;
        (check != 10).then(|| format!("{nine}{check}"))
    }

    #[test]
    fn unique_digests_tell_values_apart() {
        let d = |v: &[Value]| unique_digest(v.iter());
        let s = |t: &str| Value::Str(t.to_string());
        assert_ne!(d(&[s("a"), s("bc")]), d(&[s("ab"), s("c")]));
        assert_ne!(d(&[s("1")]), d(&[Value::Int(1)]));
        assert_ne!(d(&[Value::Null, s("")]), d(&[s(""), Value::Null]));
        assert_ne!(d(&[Value::Bool(true)]), d(&[Value::Bool(false)]));
        assert_eq!(d(&[s("key"), Value::Int(7)]), d(&[s("key"), Value::Int(7)]));
    }

    #[test]
    fn nhs_numbers() {
        assert!(nhs_number_valid("9434765919"));
        assert!(nhs_number_valid("943 476 5919"));
        assert!(!nhs_number_valid("9434765918"));
        assert!(!nhs_number_valid("943476591"));
        assert!(!nhs_number_valid("94347659190"));
        assert!(!nhs_number_valid("943476591X"));
    }

    #[test]
    fn upns() {
        // A valid UPN is its check letter then 12 characters.
        let rest = "801200001001";
        let letter = upn_check_letter(rest).unwrap();
        let upn = format!("{letter}{rest}");
        assert!(upn_valid(&upn));
        let wrong = if letter == 'A' { 'B' } else { 'A' };
        assert!(!upn_valid(&format!("{wrong}{rest}")));
        assert!(!upn_valid("A80120000100"));
        // A temporary UPN ends in a letter.
        let rest = "80120000100A";
        assert!(upn_valid(&format!("{}{rest}", upn_check_letter(rest).unwrap())));
    }

    #[test]
    fn dates_uk_iso_and_serial() {
        let f = vec!["%d/%m/%Y".to_string(), "%Y-%m-%d".to_string()];
        let d = NaiveDate::from_ymd_opt(2024, 3, 1);
        assert_eq!(parse_date("01/03/2024", &f), d);
        assert_eq!(parse_date("2024-03-01", &f), d);
        assert_eq!(parse_date("2024-03-01 00:00:00", &f), d);
        assert_eq!(parse_date("45352", &f), d);
        assert_eq!(parse_date("31/02/2024", &f), None);
        assert_eq!(parse_date("yesterday", &f), None);
    }

    proptest! {
        #[test]
        fn every_nhs_number_with_its_check_digit_is_valid(nine in "[0-9]{9}") {
            if let Some(n) = nhs_from(&nine) {
                prop_assert!(nhs_number_valid(&n));
                // changing the last digit always breaks it
                let last = n.chars().last().unwrap().to_digit(10).unwrap();
                let bad = format!("{}{}", &n[..9], (last + 1) % 10);
                prop_assert!(!nhs_number_valid(&bad));
            }
        }

        #[test]
        fn upn_single_digit_changes_are_caught(rest in "[0-9]{12}", pos in 0usize..12, delta in 1u8..10) {
            let upn = format!("{}{rest}", upn_check_letter(&rest).unwrap());
            prop_assert!(upn_valid(&upn));
            let mut b = upn.into_bytes();
            b[pos + 1] = b'0' + (b[pos + 1] - b'0' + delta) % 10;
            let changed = String::from_utf8(b).unwrap();
            // weights 2..13 are all coprime with 23, so one changed digit always changes the letter
            prop_assert!(!upn_valid(&changed));
        }

        #[test]
        fn uk_dates_round_trip(y in 1990i32..2040, m in 1u32..13, d in 1u32..29) {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            let f = vec!["%d/%m/%Y".to_string(), "%Y-%m-%d".to_string()];
            prop_assert_eq!(parse_date(&date.format("%d/%m/%Y").to_string(), &f), Some(date));
            prop_assert_eq!(parse_date(&date.format("%Y-%m-%d").to_string(), &f), Some(date));
        }
    }
}
