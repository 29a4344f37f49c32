//! Reading partner files: a first streaming pass ([`sniff`]) hashes the bytes and
//! recognises what the file really is; [`open`] then streams its rows (CSV) or
//! reads its sheet (xlsx) as text cells with their line numbers.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use calamine::{Data, Reader, Xlsx, open_workbook};

use encoding_rs::{UTF_8, WINDOWS_1252};
use encoding_rs_io::DecodeReaderBytesBuilder;
use sha2::{Digest, Sha256};

use crate::config::{Encoding, Format, SheetRef};
use crate::error::{Error, Result};

/// What the first pass learnt about a file.
#[derive(Debug, Clone)]
pub struct Sniff {
    pub sha256: String,
    pub size: u64,
    pub kind: Detected,
    /// The last byte is a line break (a text file cut short usually is not).
    pub ends_with_newline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    Empty,
    Binary,
    /// A zip container: an Excel workbook (xlsx).
    Xlsx,
    /// An old binary Excel workbook (xls).
    Xls,
    /// UTF-16 text without a byte-order mark (which cannot be told from binary
    /// with certainty, so it is not read).
    Utf16NoBom,
    Text {
        utf8: bool,
        /// Lines end in CR alone (old Mac exports): read with CR as the terminator.
        cr_only: bool,
    },
}

/// One streaming pass: SHA-256, size, and what kind of file it is.
pub fn sniff(path: &Path) -> std::io::Result<Sniff> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    let mut head: Vec<u8> = Vec::new();
    let mut utf8 = true;
    let mut carry: Vec<u8> = Vec::new();
    let mut nul = false;
    let (mut lf, mut cr) = (false, false);
    let mut last = 0u8;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        hasher.update(chunk);
        if head.len() < 8192 {
            let take = (8192 - head.len()).min(n);
            head.extend_from_slice(&chunk[..take]);
        }
        if size < 8192 && chunk[..n.min(8192)].contains(&0) {
            nul = true;
        }
        size += n as u64;
        last = chunk[n - 1];
        lf = lf || chunk.contains(&b'\n');
        cr = cr || chunk.contains(&b'\r');
        if utf8 {
            carry.extend_from_slice(chunk);
            match std::str::from_utf8(&carry) {
                Ok(_) => carry.clear(),
                Err(e) if e.error_len().is_none() => {
                    // Incomplete sequence at the end: keep it for the next chunk.
                    let valid = e.valid_up_to();
                    carry.drain(..valid);
                }
                Err(_) => utf8 = false,
            }
        }
    }
    if !carry.is_empty() {
        utf8 = false;
    }
    let kind = if size == 0 || head.iter().all(|b| b.is_ascii_whitespace()) && size <= 8192 {
        Detected::Empty
    } else if head.starts_with(b"PK\x03\x04") {
        Detected::Xlsx
    } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Detected::Xls
    } else if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        // UTF-16 with its byte-order mark: text (the reader decodes it by the BOM).
        Detected::Text {
            utf8: false,
            cr_only: cr && !lf,
        }
    } else if nul && looks_like_utf16(&head) {
        Detected::Utf16NoBom
    } else if nul {
        Detected::Binary
    } else {
        Detected::Text {
            utf8,
            cr_only: cr && !lf,
        }
    };
    Ok(Sniff {
        sha256: hex::encode(hasher.finalize()),
        size,
        kind,
        ends_with_newline: matches!(last, b'\n' | b'\r'),
    })
}

/// Every other byte NUL, the rest mostly printable ASCII: UTF-16 text.
fn looks_like_utf16(head: &[u8]) -> bool {
    let n = head.len() / 2 * 2;
    if n < 8 {
        return false;
    }
    let (even_nul, odd_nul) = head[..n].chunks(2).fold((0, 0), |(e, o), p| {
        (e + (p[0] == 0) as usize, o + (p[1] == 0) as usize)
    });
    let pairs = n / 2;
    even_nul * 10 >= pairs * 9 || odd_nul * 10 >= pairs * 9
}

/// One data row: its 1-based line (CSV) or sheet row (xlsx), and its cells as text.
#[derive(Debug, Clone)]
pub struct RawRow {
    pub line: u64,
    pub cells: Vec<String>,
}

/// An open file: its header and a stream of data rows.
pub struct RowReader {
    pub header: Vec<String>,
    pub rows: Box<dyn Iterator<Item = Result<RawRow>> + Send>,
    /// Rows skipped as blank or totals (shared with the iterator).
    pub skipped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// True for rows that carry no data: all blank, or a totals line.
fn is_ignorable(cells: &[String]) -> bool {
    let mut non_empty = cells.iter().map(|c| c.trim()).filter(|c| !c.is_empty());
    match non_empty.next() {
        None => true,
        Some(first) => {
            let f = first.to_lowercase();
            f == "total" || f == "totals" || f.starts_with("grand total") || f.starts_with("total:")
        }
    }
}

/// Open `path` (named `display` in messages) as `format`, after [`sniff`].
pub fn open(path: &Path, display: &str, format: &Format, sniff: &Sniff) -> Result<RowReader> {
    match (format, sniff.kind) {
        (_, Detected::Empty) => Err(Error::bad_file(display, "the file is empty")),
        (_, Detected::Utf16NoBom) => Err(Error::bad_file(
            display,
            "the file is UTF-16 text without a byte-order mark: save it as UTF-8 (or UTF-16 with a BOM)",
        )),
        (_, Detected::Binary) => Err(Error::bad_file(
            display,
            "the file is binary, not text: it cannot be read as CSV",
        )),
        (Format::Csv { .. }, Detected::Xlsx) => Err(Error::bad_file(
            display,
            "the file is an Excel workbook (xlsx) although this source expects CSV: \
             ask the partner to export CSV, or set `format.kind = \"xlsx\"` for this source",
        )),
        (_, Detected::Xls) => Err(Error::bad_file(
            display,
            "the file is an old binary Excel workbook (.xls): save it as .xlsx or CSV",
        )),
        (Format::Xlsx { .. }, Detected::Text { .. }) => Err(Error::bad_file(
            display,
            "the file is text, not an Excel workbook: set `format.kind = \"csv\"` for this source",
        )),
        (
            Format::Csv {
                delimiter,
                quote,
                header_row,
                skip_rows,
                encoding,
            },
            Detected::Text { utf8, cr_only },
        ) => {
            let enc = match encoding {
                Encoding::Utf8 => UTF_8,
                Encoding::Windows1252 => WINDOWS_1252,
                Encoding::Auto if utf8 => UTF_8,
                Encoding::Auto => WINDOWS_1252,
            };
            let dialect = Dialect {
                delimiter: *delimiter as u8,
                quote: *quote as u8,
                terminator: if cr_only { b'\r' } else { b'\n' },
            };
            open_csv(path, display, dialect, *header_row, *skip_rows, enc)
        }
        (
            Format::Xlsx {
                sheet,
                header_row,
                skip_rows,
            },
            Detected::Xlsx,
        ) => open_xlsx(path, display, sheet, *header_row, *skip_rows),
    }
}

/// How a CSV file is laid out.
#[derive(Debug, Clone, Copy)]
struct Dialect {
    delimiter: u8,
    quote: u8,
    /// `\n`, or `\r` for files whose lines end in CR alone.
    terminator: u8,
}

fn open_csv(
    path: &Path,
    display: &str,
    dialect: Dialect,
    header_row: usize,
    skip_rows: usize,
    enc: &'static encoding_rs::Encoding,
) -> Result<RowReader> {
    let file = File::open(path).map_err(|e| Error::bad_file(display, e.to_string()))?;
    // A BOM is stripped whatever the encoding; Windows-1252 bytes are decoded to UTF-8.
    let decoded = DecodeReaderBytesBuilder::new()
        .encoding(Some(enc))
        .bom_override(true)
        .build(BufReader::with_capacity(1 << 16, file));
    // `\n` alone ends a record (a `\r` before it is trimmed with the cell), so that
    // CRLF blank lines reach us as rows and line numbers stay true; in a file with
    // no `\n` at all, `\r` does.
    let rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(dialect.terminator))
        .delimiter(dialect.delimiter)
        .quote(dialect.quote)
        .from_reader(decoded);
    let mut records = rdr.into_records();
    let mut header = None;
    let mut n = 0usize;
    for rec in records.by_ref() {
        n += 1;
        let rec = rec.map_err(|e| Error::bad_file(display, format!("row {n}: {e}")))?;
        if n == header_row {
            header = Some(rec.iter().map(|s| s.trim().to_string()).collect::<Vec<_>>());
            break;
        }
    }
    let header = header.ok_or_else(|| {
        Error::bad_file(
            display,
            format!("the file has fewer than {header_row} rows: no header"),
        )
    })?;
    let skipped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let skipped2 = skipped.clone();
    let display = display.to_string();
    let mut to_skip = skip_rows;
    let rows = records.filter_map(move |rec| match rec {
        Err(e) => {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            Some(Err(Error::bad_file(
                display.clone(),
                format!("line {line}: cannot parse CSV: {e}"),
            )))
        }
        Ok(rec) => {
            if to_skip > 0 {
                to_skip -= 1;
                return None;
            }
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            let cells: Vec<String> = rec.iter().map(|s| s.trim_end_matches('\r').to_string()).collect();
            if is_ignorable(&cells) {
                skipped2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                None
            } else {
                Some(Ok(RawRow { line, cells }))
            }
        }
    });
    Ok(RowReader {
        header,
        rows: Box::new(rows),
        skipped,
    })
}

/// Text of an xlsx cell; Excel dates become ISO `YYYY-MM-DD`.
pub(crate) fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) if dt.is_datetime() => excel_serial_to_date(dt.as_f64())
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| dt.as_f64().to_string()),
        Data::DateTime(dt) => dt.as_f64().to_string(),
        Data::DateTimeIso(s) => s.get(..10).unwrap_or(s).to_string(),
        Data::DurationIso(s) => s.clone(),
    }
}

/// Excel's serial day number (1900 date system, with its 1900 leap-year bug) as a date.
pub fn excel_serial_to_date(serial: f64) -> Option<chrono::NaiveDate> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?;
    base.checked_add_signed(chrono::Duration::days(serial.floor() as i64))
}

fn open_xlsx(
    path: &Path,
    display: &str,
    sheet: &SheetRef,
    header_row: usize,
    skip_rows: usize,
) -> Result<RowReader> {
    let wb: Xlsx<_> = open_workbook(path)
        .map_err(|e| Error::bad_file(display, format!("cannot open the workbook: {e}")))?;
    let names = wb.sheet_names();
    drop(wb);
    let name = match sheet {
        SheetRef::Name(n) => names
            .iter()
            .find(|s| s.eq_ignore_ascii_case(n))
            .cloned()
            .ok_or_else(|| {
                Error::bad_file(
                    display,
                    format!("no sheet named `{n}`; the workbook has: {}", names.join(", ")),
                )
            })?,
        SheetRef::Index(i) => names.get(*i).cloned().ok_or_else(|| {
            Error::bad_file(
                display,
                format!("no sheet number {i}; the workbook has {}", names.len()),
            )
        })?,
    };
    // A thread owns the workbook and streams its rows through a bounded channel,
    // so memory stays flat however long the sheet is.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(u64, Vec<String>)>>(1024);
    let path = path.to_path_buf();
    let disp = display.to_string();
    let sheet_name = name.clone();
    std::thread::spawn(move || {
        let send_err = |e: String| {
            let _ = tx.send(Err(Error::bad_file(disp.clone(), e)));
        };
        let mut wb: Xlsx<_> = match open_workbook(&path) {
            Ok(wb) => wb,
            Err(e) => return send_err(format!("cannot open the workbook: {e}")),
        };
        let mut cells = match wb.worksheet_cells_reader(&sheet_name) {
            Ok(c) => c,
            Err(e) => return send_err(format!("sheet `{sheet_name}`: {e}")),
        };
        let mut current: Option<(u32, Vec<String>)> = None;
        loop {
            match cells.next_cell() {
                Ok(Some(cell)) => {
                    let (r, c) = cell.get_position();
                    if current.as_ref().is_some_and(|(cr, _)| *cr != r) {
                        let (cr, row) = current.take().expect("checked");
                        if tx.send(Ok((cr as u64 + 1, row))).is_err() {
                            return;
                        }
                    }
                    let entry = current.get_or_insert_with(|| (r, Vec::new()));
                    let text = cell_text(&Data::from(cell.get_value().clone()));
                    let c = c as usize;
                    if entry.1.len() <= c {
                        entry.1.resize(c + 1, String::new());
                    }
                    entry.1[c] = text;
                }
                Ok(None) => break,
                Err(e) => return send_err(format!("sheet `{sheet_name}`: {e}")),
            }
        }
        if let Some((cr, row)) = current {
            let _ = tx.send(Ok((cr as u64 + 1, row)));
        }
    });
    let mut rows = rx.into_iter();
    let mut header = None;
    for item in rows.by_ref() {
        let (line, cells) = item?;
        if line as usize == header_row {
            header = Some(cells.iter().map(|s| s.trim().to_string()).collect::<Vec<_>>());
            break;
        }
        if line as usize > header_row {
            break;
        }
    }
    let header = header.ok_or_else(|| {
        Error::bad_file(
            display,
            format!("sheet `{name}` has no row {header_row}: no header"),
        )
    })?;
    let skipped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let skipped2 = skipped.clone();
    let data = rows.skip(skip_rows).filter_map(move |item| match item {
        Err(e) => Some(Err(e)),
        Ok((line, cells)) => {
            if is_ignorable(&cells) {
                skipped2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                None
            } else {
                Some(Ok(RawRow { line, cells }))
            }
        }
    });
    Ok(RowReader {
        header,
        rows: Box::new(data),
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn csv_format() -> Format {
        Format::Csv {
            delimiter: ',',
            quote: '"',
            header_row: 1,
            skip_rows: 0,
            encoding: Encoding::Auto,
        }
    }

    fn read_all(bytes: &[u8]) -> Result<(Vec<String>, Vec<RawRow>)> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
        let s = sniff(&p).unwrap();
        let r = open(&p, "f.csv", &csv_format(), &s)?;
        let rows = r.rows.collect::<Result<Vec<_>>>()?;
        Ok((r.header, rows))
    }

    #[test]
    fn bom_is_stripped_and_1252_decoded() {
        let (h, rows) = read_all(b"\xEF\xBB\xBFName,Town\r\nZo\xC3\xAB,Leeds\r\n").unwrap();
        assert_eq!(h, vec!["Name", "Town"]);
        assert_eq!(rows[0].cells[0], "Zoë");
        let (_, rows) = read_all(b"Name,Town\r\nZo\xEB,Leeds\r\nRen\xE9e,York\r\n").unwrap();
        assert_eq!(rows[0].cells[0], "Zoë");
        assert_eq!(rows[1].cells[0], "Renée");
        assert_eq!(rows[1].line, 3);
    }

    #[test]
    fn blank_and_totals_rows_are_ignored() {
        let (_, rows) = read_all(b"a,b\n1,2\n,\n\nTotal,3\n  ,  \n").unwrap();
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn line_numbers_are_true_with_crlf_blank_lines_and_quoted_newlines() {
        let (_, rows) = read_all(b"a,b\r\n1,2\r\n\r\n3,\"x\r\ny\"\r\n4,5\r\n").unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 4, 6]);
        assert_eq!(rows[1].cells[1], "x\r\ny");
        assert_eq!(rows[2].cells[1], "5");
    }

    #[test]
    fn bad_files_are_named() {
        let e = read_all(b"").err().unwrap().to_string();
        assert!(e.contains("f.csv") && e.contains("empty"), "{e}");
        let e = read_all(b"PK\x03\x04rest-of-zip").err().unwrap().to_string();
        assert!(e.contains("Excel workbook"), "{e}");
        let e = read_all(b"\x00\x01\x02binary\x00").err().unwrap().to_string();
        assert!(e.contains("binary"), "{e}");
    }

    #[test]
    fn sniff_handles_utf8_split_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        let mut bytes = vec![b'a'; (1 << 16) - 1];
        bytes.extend_from_slice("é,x\n".as_bytes());
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(
            sniff(&p).unwrap().kind,
            Detected::Text {
                utf8: true,
                cr_only: false
            }
        );
    }

    #[test]
    fn excel_serials() {
        assert_eq!(
            excel_serial_to_date(45292.0),
            chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        );
        assert_eq!(excel_serial_to_date(-3.0), None);
    }
}
