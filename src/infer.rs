//! `startwell infer FILE [--name NAME]`: draft `pipelines/<name>.toml` and
//! `schemas/<name>.toml` from a partner's sample CSV, which `validate` accepts
//! as they are, and a review list of what was guessed and how surely.
//!
//! It works out the dialect (encoding, delimiter, the header row after any
//! title rows), each column's type (integers, decimals, booleans, UK dates),
//! which columns are required, which identify a child (by name *and* content:
//! NHS numbers pass modulus 11, UPNs their check letter, postcodes their
//! pattern, names, dates of birth), the child key to make from them, code lists
//! for low-cardinality columns, and the period from the file name. Partner
//! headers are matched to the names the project's other sources already use.
//! No value of an identifying column is printed or written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::check::{could_be_header, nhs_number_valid, upn_valid};
use crate::config::Project;
use crate::config::compile::normalise_header;
use crate::error::{Error, Result};

/// How sure a guess is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sure {
    Certain,
    Likely,
    Guess,
}

impl Sure {
    fn as_str(self) -> &'static str {
        match self {
            Sure::Certain => "certain",
            Sure::Likely => "likely",
            Sure::Guess => "a guess: check it",
        }
    }
}

/// What `infer` worked out, before it is written.
#[derive(Debug, Clone)]
pub struct Draft {
    pub name: String,
    pub pipeline: String,
    pub schema: String,
    pub review: Vec<(Sure, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    String,
    Integer,
    Decimal,
    Boolean,
    Date,
}

impl Type {
    fn as_str(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Integer => "integer",
            Type::Decimal => "decimal",
            Type::Boolean => "boolean",
            Type::Date => "date",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ident {
    Nhs,
    Upn,
    Postcode,
    Forename,
    Surname,
    Dob,
    Other,
}

#[derive(Debug, Clone)]
struct Column {
    header: String,
    name: String,
    name_sure: Sure,
    ty: Type,
    date_formats: Vec<&'static str>,
    required: bool,
    ident: Option<(Ident, Sure)>,
    codes: Option<Vec<String>>,
}

/// Text of the file: UTF-8 (a BOM stripped) or else Windows-1252.
fn decode(bytes: &[u8]) -> (String, &'static str) {
    // A byte-order mark says the encoding (UTF-8 or UTF-16, as `run` reads them);
    // without one, UTF-8 when valid, else Windows-1252 (`encoding = "auto"`).
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom..]);
        return (
            text.into_owned(),
            if enc == encoding_rs::UTF_8 {
                "UTF-8 with a BOM"
            } else {
                "UTF-16 with a BOM"
            },
        );
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), "UTF-8"),
        Err(_) => (
            encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
            "Windows-1252",
        ),
    }
}

fn records(text: &str, delimiter: u8, limit: usize) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .take(limit)
        .filter_map(|r| r.ok())
        .map(|r| r.iter().map(str::to_string).collect())
        .collect()
}

/// The delimiter whose rows most often have the commonest number of fields
/// (more than one).
fn delimiter(text: &str) -> (u8, Sure) {
    let mut best = (b',', 0.0);
    for d in [b',', b';', b'\t', b'|'] {
        let rows = records(text, d, 200);
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for r in &rows {
            *counts.entry(r.len()).or_default() += 1;
        }
        let Some((&width, &n)) = counts.iter().max_by_key(|(w, n)| (**n, **w)) else {
            continue;
        };
        if width < 2 {
            continue;
        }
        let score = n as f64 / rows.len().max(1) as f64 * (width as f64).ln();
        if score > best.1 {
            best = (d, score);
        }
    }
    (best.0, if best.1 > 0.0 { Sure::Certain } else { Sure::Guess })
}

const DATE_FORMATS: [(&str, &str); 5] = [
    ("%d/%m/%Y", "dd/mm/yyyy"),
    ("%Y-%m-%d", "yyyy-mm-dd"),
    ("%d-%b-%y", "dd-Mon-yy"),
    ("%d-%b-%Y", "dd-Mon-yyyy"),
    ("%d.%m.%Y", "dd.mm.yyyy"),
];

fn is_postcode(v: &str) -> bool {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)^[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}$").expect("valid regex")
    });
    RE.is_match(v.trim())
}

/// Share of `values` for which `f` holds.
fn share(values: &[&str], f: impl Fn(&str) -> bool) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().filter(|v| f(v)).count() as f64 / values.len() as f64
}

fn snake(header: &str) -> String {
    let mut out = String::new();
    for c in header.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_string();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("col_{out}")
    } else {
        out
    }
}

/// What a column is, from its header and its values.
fn column(header: &str, values: &[&str], known: &HashMap<String, String>) -> Column {
    let norm = normalise_header(header);
    let (name, name_sure) = match known.get(&norm) {
        Some(n) => (n.clone(), Sure::Certain),
        None => (snake(header), Sure::Likely),
    };
    let present: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    let required = !values.is_empty() && present.len() == values.len();
    let by_name = |words: &[&str]| words.iter().any(|w| norm.contains(w));
    // Identifiers: by content, then by name.
    let nhs = share(&present, |v| nhs_number_valid(&v.replace(' ', "")));
    let upn = share(&present, upn_valid);
    let pc = share(&present, is_postcode);
    let mut ident = if nhs >= 0.9 {
        Some((
            Ident::Nhs,
            if by_name(&["nhs"]) {
                Sure::Certain
            } else {
                Sure::Likely
            },
        ))
    } else if upn >= 0.9 {
        Some((
            Ident::Upn,
            if by_name(&["upn", "pupil"]) {
                Sure::Certain
            } else {
                Sure::Likely
            },
        ))
    } else if pc >= 0.9 {
        Some((Ident::Postcode, Sure::Certain))
    } else if by_name(&["nhs"]) {
        Some((Ident::Nhs, Sure::Guess))
    } else if by_name(&["upn", "uniquepupil"]) {
        Some((Ident::Upn, Sure::Guess))
    } else if by_name(&["postcode"]) {
        Some((Ident::Postcode, Sure::Likely))
    } else if by_name(&["forename", "firstname", "givenname"]) {
        Some((Ident::Forename, Sure::Certain))
    } else if by_name(&["surname", "lastname", "familyname"]) {
        Some((Ident::Surname, Sure::Certain))
    } else if by_name(&["name", "address", "telephone", "phone", "email", "reference"]) {
        Some((Ident::Other, Sure::Likely))
    } else {
        None
    };
    // Types.
    let mut date_formats = Vec::new();
    let ty = if present.is_empty() {
        Type::String
    } else if ident.is_none() && share(&present, |v| v.parse::<i64>().is_ok()) == 1.0 {
        Type::Integer
    } else if ident.is_none() && share(&present, |v| v.parse::<f64>().is_ok()) == 1.0 {
        Type::Decimal
    } else if share(&present, |v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "true" | "false"
        )
    }) == 1.0
    {
        Type::Boolean
    } else {
        for (f, _) in DATE_FORMATS {
            if share(&present, |v| chrono::NaiveDate::parse_from_str(v, f).is_ok()) >= 0.95 {
                date_formats.push(f);
            }
        }
        if date_formats.is_empty() {
            Type::String
        } else {
            Type::Date
        }
    };
    if ty == Type::Date && by_name(&["dob", "birth"]) {
        ident = Some((Ident::Dob, Sure::Certain));
    }
    let ident = ident.filter(|(i, _)| !(ty == Type::Date && *i == Ident::Other));
    let distinct: BTreeSet<&str> = present.iter().copied().collect();
    let codes = (ident.is_none() && ty == Type::String && present.len() >= 20 && distinct.len() <= 12)
        .then(|| distinct.iter().map(|s| s.to_string()).collect());
    let name = match ident {
        Some((Ident::Nhs, _)) if name_sure != Sure::Certain => "nhs_number".into(),
        Some((Ident::Upn, _)) if name_sure != Sure::Certain => "upn".into(),
        Some((Ident::Postcode, _)) if name_sure != Sure::Certain => "postcode".into(),
        Some((Ident::Forename, _)) if name_sure != Sure::Certain => "forename".into(),
        Some((Ident::Surname, _)) if name_sure != Sure::Certain => "surname".into(),
        Some((Ident::Dob, _)) if name_sure != Sure::Certain => "dob".into(),
        _ => name,
    };
    Column {
        header: header.trim().to_string(),
        name,
        name_sure,
        ty,
        date_formats,
        required,
        ident,
        codes,
    }
}

/// The period in a file name: its pattern, template, kind and how it reads.
fn period(file_name: &str) -> (String, String, Option<&'static str>, Sure) {
    let tries: [(&str, &str, &str); 4] = [
        (
            r"(?P<year>\d{4})-(?P<end>\d{2})-Q(?P<q>[1-4])",
            "{year}-{end}-Q{q}",
            "financial_quarter",
        ),
        (
            r"(?P<year>\d{4})-(?P<term>autumn|spring|summer)",
            "{year}-{term}",
            "term",
        ),
        (
            r"(?P<start>\d{4})-(?P<end>\d{2})",
            "{start}-{end}",
            "academic_year",
        ),
        (r"(?P<year>20\d{2})", "{year}", "calendar_year"),
    ];
    for (pattern, format, kind) in tries {
        if regex::Regex::new(pattern).is_ok_and(|r| r.is_match(file_name)) {
            return (pattern.to_string(), format.to_string(), Some(kind), Sure::Likely);
        }
    }
    (
        r"(?P<name>.+)\.[A-Za-z]+$".into(),
        "{name}".into(),
        None,
        Sure::Guess,
    )
}

/// A sample file as read: its dialect, header and data rows (of the header's width).
struct Sample {
    /// The sheet read, for an xlsx workbook.
    sheet: Option<String>,
    encoding: &'static str,
    delim: u8,
    delim_sure: Sure,
    header_at: usize,
    header: Vec<String>,
    data: Vec<Vec<String>>,
}

/// The rows of an xlsx sheet (the named one, else the first) as text; Excel
/// dates become `YYYY-MM-DD` as `run` reads them.
fn xlsx_rows(file: &Path, sheet: Option<&str>) -> Result<(String, Vec<Vec<String>>)> {
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(file)
        .map_err(|e| Error::config(file, format!("cannot read the workbook: {e}")))?;
    let names = wb.sheet_names();
    let name = match sheet {
        Some(s) => names.iter().find(|n| n.as_str() == s).cloned().ok_or_else(|| {
            Error::config(file, format!("no sheet `{s}`; the sheets: {}", names.join(", ")))
        })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| Error::config(file, "the workbook has no sheet"))?,
    };
    let range = wb
        .worksheet_range(&name)
        .map_err(|e| Error::config(file, format!("sheet `{name}`: {e}")))?;
    let rows = range
        .rows()
        .take(5001)
        .map(|r| r.iter().map(crate::read::cell_text).collect())
        .collect();
    Ok((name, rows))
}

fn sample(file: &Path, sheet: Option<&str>) -> Result<Sample> {
    let is_xlsx = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let (mut rows, encoding, delim, delim_sure, sheet) = if is_xlsx {
        let (name, rows) = xlsx_rows(file, sheet)?;
        (rows, "xlsx", b',', Sure::Certain, Some(name))
    } else {
        let bytes = std::fs::read(file).map_err(|e| Error::config(file, format!("cannot read: {e}")))?;
        let (text, encoding) = decode(&bytes);
        let (delim, delim_sure) = delimiter(&text);
        (records(&text, delim, 5001), encoding, delim, delim_sure, None)
    };
    // Trailing empty cells of an xlsx row do not count.
    if is_xlsx {
        let width = rows
            .iter()
            .map(|r| r.iter().rposition(|c| !c.trim().is_empty()).map_or(0, |i| i + 1))
            .max()
            .unwrap_or(0);
        for r in &mut rows {
            r.resize(width, String::new());
        }
    }
    let width = {
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for r in &rows {
            *counts.entry(r.len()).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by_key(|(w, n)| (*n, *w))
            .map_or(0, |(w, _)| w)
    };
    // The header: the first row of the usual width whose cells could all be names.
    let header_at = rows
        .iter()
        .position(|r| {
            r.len() == width
                && r.iter().filter(|c| !c.trim().is_empty()).count() * 2 > width
                && r.iter()
                    .all(|c| c.trim().is_empty() || (could_be_header(c) && c.trim().parse::<f64>().is_err()))
        })
        .ok_or_else(|| {
            Error::config(
                file,
                "no row looks like a header (a row of names as wide as the data)",
            )
        })?;
    let data: Vec<Vec<String>> = rows
        .split_off(header_at + 1)
        .into_iter()
        .filter(|r| r.len() == width)
        .collect();
    let header = rows.swap_remove(header_at);
    if data.is_empty() {
        return Err(Error::config(file, "the sample has a header but no data rows"));
    }
    Ok(Sample {
        sheet,
        encoding,
        delim,
        delim_sure,
        header_at,
        header,
        data,
    })
}

/// What a later delivery of an existing source changes (`infer --update`): its
/// new columns (drafted as `[[columns]]`), and required columns it lacks with
/// the header that looks most like them (to add to `aliases`).
pub fn propose_update(
    file: &Path,
    sheet: Option<&str>,
    source: &crate::config::SourcePlan,
) -> Result<Vec<String>> {
    let Sample { header, data, .. } = sample(file, sheet)?;
    let mut out = Vec::new();
    let matched = |h: &str| {
        let n = normalise_header(h);
        source.columns.iter().any(|c| c.aliases.contains(&n))
    };
    // Renamed required columns first: their new header is not a new column.
    let mut renamed: Vec<String> = Vec::new();
    for c in source.columns.iter().filter(|c| c.required) {
        if header.iter().any(|h| c.aliases.contains(&normalise_header(h))) {
            continue;
        }
        let nearest = header
            .iter()
            .filter(|h| !matched(h) && could_be_header(h))
            .map(|h| (strsim::jaro_winkler(&normalise_header(h), &c.aliases[0]), h))
            .filter(|(score, _)| *score > 0.7)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((_, h)) = nearest {
            renamed.push(h.clone());
        }
        out.push(match nearest {
            Some((_, h)) => format!(
                "# required column `{}` is missing; `{}` looks like it (renamed?): add it to its aliases in {}\n# aliases = [..., {}]\n",
                c.name,
                h.trim(),
                source.file.display(),
                toml::Value::String(h.trim().to_string())
            ),
            None => format!(
                "# required column `{}` is missing and no header looks like it: the file would be refused\n",
                c.name
            ),
        });
    }
    for (i, h) in header.iter().enumerate() {
        if h.trim().is_empty() || matched(h) || renamed.contains(h) {
            continue;
        }
        let values: Vec<&str> = data.iter().map(|r| r[i].as_str()).collect();
        let c = column(h, &values, &HashMap::new());
        let mut block = format!(
            "# new column `{}`: add to {}\n[[columns]]\nname = \"{}\"\n",
            c.header,
            source.file.display(),
            c.name
        );
        if normalise_header(&c.header) != normalise_header(&c.name) {
            block.push_str(&format!(
                "aliases = [{}]\n",
                toml::Value::String(c.header.clone())
            ));
        }
        if c.ty != Type::String {
            block.push_str(&format!("type = \"{}\"\n", c.ty.as_str()));
        }
        if c.ident.is_some() {
            block.push_str("identifier = true\n");
        } else {
            block.push_str(&format!(
                "# and to schemas/{}.toml:\n# [[columns]]\n# name = \"{}\"\n# type = \"{}\"\n",
                source.table,
                c.name,
                c.ty.as_str()
            ));
        }
        out.push(block);
    }
    Ok(out)
}

/// What `infer` guessed from a sample, before it is written out.
struct Guesses {
    sample: Sample,
    file_name: String,
    columns: Vec<Column>,
    /// (pattern, template, kind, how sure)
    period: (String, String, Option<&'static str>, Sure),
    /// The child key's name and fields.
    key: Option<(&'static str, Vec<String>)>,
    /// The postcode column, for ward and deprivation.
    postcode: Option<String>,
}

/// Draft the configuration for `file` as source `name`.
pub fn draft(file: &Path, sheet: Option<&str>, name: &str, project: Option<&Project>) -> Result<Draft> {
    let sample = sample(file, sheet)?;
    let columns = columns(&sample, project);
    let file_name = file
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let find = |i: Ident| columns.iter().find(|c| c.ident.is_some_and(|(x, _)| x == i));
    let key = child_key(&columns);
    let postcode = find(Ident::Postcode).map(|c| c.name.clone());
    let g = Guesses {
        period: period(&file_name),
        sample,
        file_name,
        columns,
        key,
        postcode,
    };
    Ok(Draft {
        name: name.to_string(),
        pipeline: pipeline_toml(name, &g),
        schema: schema_toml(name, &g),
        review: review(&g),
    })
}

/// Each header's column, named from the project's vocabulary where it knows it.
fn columns(sample: &Sample, project: Option<&Project>) -> Vec<Column> {
    let (header, data) = (&sample.header, &sample.data);
    // Partner spellings the project already knows → their canonical names.
    let mut known: HashMap<String, String> = HashMap::new();
    if let Some(p) = project {
        for s in &p.plan.sources {
            for c in &s.columns {
                for a in &c.aliases {
                    known.entry(a.clone()).or_insert_with(|| c.name.clone());
                }
            }
        }
    }
    let mut columns: Vec<Column> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.trim().is_empty())
        .map(|(i, h)| {
            let values: Vec<&str> = data.iter().map(|r| r[i].as_str()).collect();
            column(h, &values, &known)
        })
        .collect();
    // Two columns given one name: the later ones numbered.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for c in &mut columns {
        let n = seen.entry(c.name.clone()).or_default();
        *n += 1;
        if *n > 1 {
            c.name = format!("{}_{}", c.name, n);
            c.name_sure = Sure::Guess;
        }
    }
    columns
}

/// The child key: NHS number, else UPN, else name, date of birth and postcode.
fn child_key(columns: &[Column]) -> Option<(&'static str, Vec<String>)> {
    let find = |i: Ident| columns.iter().find(|c| c.ident.is_some_and(|(x, _)| x == i));
    if let Some(c) = find(Ident::Nhs) {
        Some(("nhs_key", vec![c.name.clone()]))
    } else if let Some(c) = find(Ident::Upn) {
        Some(("upn_key", vec![c.name.clone()]))
    } else if let (Some(f), Some(s), Some(d), Some(p)) = (
        find(Ident::Forename),
        find(Ident::Surname),
        find(Ident::Dob),
        find(Ident::Postcode),
    ) {
        Some((
            "match_key",
            vec![f.name.clone(), s.name.clone(), d.name.clone(), p.name.clone()],
        ))
    } else {
        None
    }
}

/// What was guessed, each with how sure, most doubtful first.
fn review(g: &Guesses) -> Vec<(Sure, String)> {
    let Sample {
        sheet,
        encoding,
        delim,
        delim_sure,
        header_at,
        data,
        ..
    } = &g.sample;
    let (sheet, delim, delim_sure, header_at) = (sheet, *delim, *delim_sure, *header_at);
    let (pattern, format, kind, period_sure) = &g.period;
    let (kind, period_sure) = (*kind, *period_sure);
    let columns = &g.columns;
    let key = &g.key;
    let mut review: Vec<(Sure, String)> = vec![
        (
            Sure::Certain,
            match &sheet {
                Some(name) => format!("workbook: sheet `{name}`"),
                None => format!("encoding: {encoding} (read as `auto`)"),
            },
        ),
        (
            delim_sure,
            match (&sheet, delim) {
                (Some(_), _) => "cells read as `run` reads them (Excel dates as dates)".to_string(),
                (None, b'\t') => "delimiter: tab".to_string(),
                (None, d) => format!("delimiter: `{}`", d as char),
            },
        ),
        (
            Sure::Likely,
            format!(
                "header on row {} ({} title row(s) above it); {} data rows in the sample",
                header_at + 1,
                header_at,
                data.len()
            ),
        ),
        (
            period_sure,
            match kind {
                Some(k) => format!("period from the file name: `{pattern}` → `{format}` ({k})"),
                None => "period: none in the file name, so each file is its own period (its name); give a real pattern".into(),
            },
        ),
    ];
    for c in columns.iter() {
        let mut what = format!("`{}` → {} ({}", c.header, c.name, c.ty.as_str());
        if c.required {
            what.push_str(", required");
        }
        if let Some((i, sure)) = c.ident {
            let _ = write!(what, ", identifier: {:?} [{}]", i, sure.as_str());
        }
        if let Some(codes) = &c.codes {
            let _ = write!(what, ", {} code(s)", codes.len());
        }
        what.push(')');
        let sure = c.ident.map_or(c.name_sure, |(_, s)| s.max(c.name_sure));
        review.push((sure, what));
    }

    match &key {
        Some((k, fields)) => review.push((
            Sure::Likely,
            format!("child key `{k}` from {}", fields.join(", ")),
        )),
        None => review.push((
            Sure::Guess,
            "no child key: no NHS number, UPN, or name, date of birth and postcode".into(),
        )),
    }
    if g.postcode.is_some() {
        review.push((
            Sure::Likely,
            "ward and deprivation derived from the postcode (then dropped)".into(),
        ));
    }
    review.sort_by_key(|r| std::cmp::Reverse(r.0));
    review
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// `pipelines/<name>.toml`.
fn pipeline_toml(name: &str, g: &Guesses) -> String {
    let q = quote;
    let (file_name, columns, key, postcode) = (&g.file_name, &g.columns, &g.key, &g.postcode);
    let Sample {
        sheet,
        delim,
        header_at,
        ..
    } = &g.sample;
    let (delim, header_at) = (*delim, *header_at);
    let (pattern, format, kind, _) = &g.period;
    let mut p = String::new();
    let _ = writeln!(
        p,
        "# Drafted by `startwell infer` from {file_name}: review every line, then `startwell validate`."
    );
    let _ = writeln!(p, "name = {}", q(name));
    let _ = writeln!(
        p,
        "description = {}",
        q(&format!("Drafted from the sample {file_name}."))
    );
    let ext = file_name.rsplit('.').next().unwrap_or("csv").to_ascii_lowercase();
    let _ = writeln!(p, "files = {}", q(&format!("*.{ext}")));
    let _ = writeln!(p, "redelivery = \"replace_period\"");
    if let Some((k, _)) = &key {
        let _ = writeln!(p, "unique = [{}]", q(k));
    }
    match &sheet {
        Some(name) => {
            let _ = writeln!(p, "\n[format]\nkind = \"xlsx\"\nsheet = {}", q(name));
        }
        None => {
            let _ = writeln!(p, "\n[format]\nkind = \"csv\"\nencoding = \"auto\"");
            if delim != b',' {
                let _ = writeln!(p, "delimiter = {}", q(&(delim as char).to_string()));
            }
        }
    }
    if header_at > 0 {
        let _ = writeln!(p, "header_row = {}", header_at + 1);
    }
    let _ = writeln!(
        p,
        "\n[period]\nfrom = \"file_name\"\npattern = {}\nformat = {}",
        q(pattern),
        q(format)
    );
    if let Some(k) = kind {
        let _ = writeln!(p, "kind = {}", q(k));
    }
    for c in columns.iter() {
        let _ = writeln!(p, "\n[[columns]]\nname = {}", q(&c.name));
        if normalise_header(&c.header) != normalise_header(&c.name) {
            let _ = writeln!(p, "aliases = [{}]", q(&c.header));
        }
        if c.ty != Type::String {
            let _ = writeln!(p, "type = {}", q(c.ty.as_str()));
        }
        if c.required {
            let _ = writeln!(p, "required = true");
        }
        if let Some((i, _)) = c.ident {
            let _ = writeln!(p, "identifier = true");
            match i {
                Ident::Nhs => {
                    let _ = writeln!(p, "check = \"nhs_number\"");
                }
                Ident::Upn => {
                    let _ = writeln!(p, "check = \"upn\"");
                }
                _ => {}
            }
        }
        if !c.date_formats.is_empty() {
            let f: Vec<String> = c.date_formats.iter().map(|f| q(f)).collect();
            let _ = writeln!(p, "date_formats = [{}]", f.join(", "));
        }
        if let Some(codes) = &c.codes {
            let list: Vec<String> = codes.iter().map(|v| q(v)).collect();
            let _ = writeln!(p, "allowed = [{}]", list.join(", "));
            let _ = writeln!(p, "# Map partner codes to canonical ones here, e.g.:");
            let _ = writeln!(p, "# values = {{ {} = {} }}", q(&codes[0]), q(&codes[0]));
        }
    }
    if let Some((k, fields)) = &key {
        let f: Vec<String> = fields.iter().map(|f| q(f)).collect();
        let _ = writeln!(
            p,
            "\n[[keys]]\nname = {}\nfields = [{}]\nrequired = true",
            q(k),
            f.join(", ")
        );
    }
    if let Some(pc) = &postcode {
        let _ = writeln!(p, "\n[[derive]]\nkind = \"geography\"\npostcode = {}", q(pc));
    }

    p
}

/// `schemas/<name>.toml`: every column that reaches the lake.
fn schema_toml(name: &str, g: &Guesses) -> String {
    let q = quote;
    let (file_name, columns, key, postcode) = (&g.file_name, &g.columns, &g.key, &g.postcode);
    let mut s = String::new();
    let _ = writeln!(s, "# Drafted by `startwell infer` from {file_name}.");
    let _ = writeln!(s, "table = {}", q(name));
    let _ = writeln!(
        s,
        "description = {}",
        q(&format!("Rows of {name}, pseudonymised."))
    );
    let mut lake: Vec<(String, &str, String)> = columns
        .iter()
        .filter(|c| c.ident.is_none())
        .map(|c| {
            (
                c.name.clone(),
                c.ty.as_str(),
                format!("From the partner's `{}`.", c.header),
            )
        })
        .collect();
    if let Some((k, fields)) = &key {
        lake.push((k.to_string(), "string", format!("HMAC of {}.", fields.join(", "))));
    }
    if postcode.is_some() {
        lake.extend([
            ("lsoa_code".into(), "string", "LSOA of the postcode.".into()),
            ("ward_code".into(), "string", "Ward of the postcode.".into()),
            ("ward_name".into(), "string", "Ward name.".into()),
            (
                "imd_decile".into(),
                "integer",
                "IMD decile of the LSOA (1 = most deprived).".into(),
            ),
            (
                "imd_quintile".into(),
                "integer",
                "IMD quintile of the LSOA (1 = most deprived).".into(),
            ),
        ]);
    }
    lake.extend([
        (
            "period".into(),
            "string",
            "Period the row belongs to (partition).".into(),
        ),
        (
            "delivery".into(),
            "string",
            "Part of the period's delivery (partition).".into(),
        ),
        (
            "source_file".into(),
            "string",
            "Landing file the row came from.".into(),
        ),
        ("source_line".into(), "integer", "Line in the source file.".into()),
        (
            "ingest_run_id".into(),
            "string",
            "Run that ingested the row.".into(),
        ),
    ]);
    for (n, t, d) in &lake {
        let _ = writeln!(
            s,
            "\n[[columns]]\nname = {}\ntype = {}\ndescription = {}",
            q(n),
            q(t),
            q(d)
        );
    }
    s
}

/// A source name from a file name: its stem without the period, snake_case
/// (`Nursery Places_2024-25.csv` → `nursery_places`).
pub fn name_from_file(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let cut = regex::Regex::new(r"[ _-]*(19|20)\d{2}.*$")
        .map(|r| r.replace(&stem, "").to_string())
        .unwrap_or(stem);
    snake(&cut)
}

/// Write the draft under `project_dir`, never over existing files unless `force`.
pub fn write(project_dir: &Path, d: &Draft, force: bool) -> Result<Vec<PathBuf>> {
    let files = [
        (
            project_dir.join("pipelines").join(format!("{}.toml", d.name)),
            &d.pipeline,
        ),
        (
            project_dir.join("schemas").join(format!("{}.toml", d.name)),
            &d.schema,
        ),
    ];
    if !force {
        let existing: Vec<String> = files
            .iter()
            .filter(|(p, _)| p.exists())
            .map(|(p, _)| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(Error::config(
                &files[0].0,
                format!("{} already exist(s); --force overwrites", existing.join(" and ")),
            ));
        }
    }
    for (p, text) in &files {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::config(parent, e.to_string()))?;
        }
        std::fs::write(p, text).map_err(|e| Error::config(p, format!("cannot write: {e}")))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// The review list, most doubtful first.
pub fn render_review(d: &Draft) -> String {
    let mut by: BTreeMap<Sure, Vec<&str>> = BTreeMap::new();
    for (s, what) in &d.review {
        by.entry(*s).or_default().push(what);
    }
    let mut out = String::new();
    for s in [Sure::Guess, Sure::Likely, Sure::Certain] {
        if let Some(items) = by.get(&s) {
            let _ = writeln!(out, "{}:", s.as_str());
            for i in items {
                let _ = writeln!(out, "  - {i}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_names_and_periods() {
        assert_eq!(snake("Child's First Name"), "child_s_first_name");
        assert_eq!(snake("2yo Funded?"), "col_2yo_funded");
        assert_eq!(period("hv_2024-25-Q3.csv").2, Some("financial_quarter"));
        assert_eq!(period("dwp_2024-spring.csv").1, "{year}-{term}");
        assert_eq!(period("eyfsp_2024-25.csv").2, Some("academic_year"));
        assert_eq!(period("extract.csv").2, None);
        assert_eq!(
            name_from_file(Path::new("Nursery Places_2024-25.csv")),
            "nursery_places"
        );
    }

    #[test]
    fn delimiters_and_encodings() {
        assert_eq!(delimiter("a;b;c\n1;2;3\n4;5;6\n").0, b';');
        assert_eq!(delimiter("a\tb\n1\t2\n").0, b'\t');
        assert_eq!(delimiter("a,b,c\n1,2,3\n").0, b',');
        assert_eq!(decode(b"\xEF\xBB\xBFa").1, "UTF-8 with a BOM");
        assert_eq!(decode(b"caf\xE9").0, "café");
        assert_eq!(
            decode(b"\xFF\xFEa\x00;\x00b\x00"),
            ("a;b".to_string(), "UTF-16 with a BOM")
        );
    }
}
