//! `startwell sql "SELECT …"`: DataFusion over every lake table (the curated
//! tables, `ref_*`, `ingest_ledger`, `scorecard` history) and the published
//! outputs (`outputs_scorecard`, `outputs_targets`, `outputs_indicators`), with
//! the startwell SQL functions registered. `--as-of` reads each Delta table as
//! it was at a version or a time (Delta time travel). Results stream: each batch
//! is written as it arrives, in a table, CSV, JSON lines or Parquet.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use clap::ValueEnum;
use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use crate::error::{Error, Result};
use crate::storage::Storage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for reading (one box per batch of rows).
    Table,
    Csv,
    /// One JSON object per line.
    Json,
    /// Needs --out.
    Parquet,
}

/// Which version of the Delta tables to read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AsOf {
    Version(u64),
    Time(chrono::DateTime<chrono::Utc>),
}

impl AsOf {
    /// `12` (a version), `2025-11-20T02:00:00Z` (RFC 3339) or `2025-11-20` (that day's start, UTC).
    pub fn parse(text: &str) -> Result<AsOf> {
        if let Ok(v) = text.parse::<u64>() {
            return Ok(AsOf::Version(v));
        }
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
            return Ok(AsOf::Time(t.with_timezone(&chrono::Utc)));
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(AsOf::Time(d.and_time(chrono::NaiveTime::MIN).and_utc()));
        }
        Err(query_error(format!(
            "--as-of {text:?}: give a table version (e.g. 3), a time (2025-11-20T02:00:00Z) or a date (2025-11-20)"
        )))
    }
}

fn query_error(message: String) -> Error {
    Error::Query(message)
}

/// The Parquet outputs a query can read, as `outputs_<name>`.
const OUTPUTS: [&str; 3] = ["scorecard", "targets", "indicators"];

/// A session with every lake table and output registered; the names
/// registered, and notes (tables with no version at `as_of`).
pub async fn session(
    storage: &Storage,
    as_of: Option<AsOf>,
) -> Result<(SessionContext, Vec<String>, Vec<String>)> {
    let ctx = SessionContext::new();
    crate::indicators::udf::register(&ctx);
    let mut names = Vec::new();
    let mut notes = Vec::new();
    for table in storage.lake_tables().await? {
        let mut t = storage.table(&table).await?;
        if t.version().is_none() {
            continue;
        }
        let loaded = match as_of {
            None => Ok(()),
            Some(AsOf::Version(v)) => t.load_version(v).await,
            Some(AsOf::Time(at)) => t.load_with_datetime(at).await,
        };
        if let Err(e) = loaded {
            notes.push(format!("{table}: no version at {as_of:?} ({e}); left out"));
            continue;
        }
        t.update_datafusion_session(&ctx.state())?;
        ctx.register_table(table.as_str(), t.table_provider().await?)?;
        names.push(table);
    }
    for name in OUTPUTS {
        let Some(bytes) = storage.get(&format!("outputs/{name}.parquet")).await? else {
            continue;
        };
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .map_err(Error::internal)?
            .build()
            .map_err(Error::internal)?;
        let schema = datafusion::arrow::array::RecordBatchReader::schema(&reader);
        let batches: Vec<RecordBatch> = reader
            .collect::<std::result::Result<_, _>>()
            .map_err(Error::internal)?;
        let table = format!("outputs_{name}");
        ctx.register_table(
            table.as_str(),
            Arc::new(MemTable::try_new(schema, vec![batches])?),
        )?;
        names.push(table);
    }
    names.sort();
    Ok((ctx, names, notes))
}

/// Run `query` and write its rows to `out` (stdout when `None`) as they come.
/// Returns the number of rows.
pub async fn run(
    storage: &Storage,
    query: &str,
    format: Format,
    out: Option<&Path>,
    as_of: Option<AsOf>,
) -> Result<u64> {
    if format == Format::Parquet && out.is_none() {
        return Err(query_error("--format parquet needs --out FILE".into()));
    }
    let (ctx, names, notes) = session(storage, as_of).await?;
    for n in &notes {
        tracing::warn!("{n}");
    }
    let explain = |e: datafusion::error::DataFusionError| {
        let text = e.to_string();
        let hint = if text.contains("not found") && text.contains("table") {
            format!(". The tables: {}", names.join(", "))
        } else {
            String::new()
        };
        query_error(format!(
            "the query failed: {}{hint}",
            text.trim().trim_end_matches('.')
        ))
    };
    let df = ctx.sql(query).await.map_err(explain)?;
    let mut stream = df.execute_stream().await.map_err(explain)?;
    let mut writer: Box<dyn Write + Send> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| Error::config(p, format!("cannot write: {e}")))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut rows = 0u64;
    let mut csv_header = true;
    // Parquet: one writer for the whole result (an empty result is a valid, empty file).
    let mut parquet = match format {
        Format::Parquet => {
            let w = std::mem::replace(&mut writer, Box::new(std::io::sink()));
            Some(ArrowWriter::try_new(w, stream.schema(), None).map_err(Error::internal)?)
        }
        _ => None,
    };
    let mut out_writer = writer;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(explain)?;
        if batch.num_rows() == 0 {
            continue;
        }
        rows += batch.num_rows() as u64;
        let io = |e: std::io::Error| Error::internal(format!("writing the result: {e}"));
        match format {
            Format::Table => {
                let text = datafusion::arrow::util::pretty::pretty_format_batches(&[batch])
                    .map_err(Error::internal)?;
                writeln!(out_writer, "{text}").map_err(io)?;
            }
            Format::Csv => {
                let mut w = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(csv_header)
                    .build(&mut out_writer);
                w.write(&batch).map_err(Error::internal)?;
                csv_header = false;
            }
            Format::Json => {
                let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut out_writer);
                w.write(&batch).map_err(Error::internal)?;
                w.finish().map_err(Error::internal)?;
            }
            Format::Parquet => {
                if let Some(w) = parquet.as_mut() {
                    w.write(&batch).map_err(Error::internal)?;
                }
            }
        }
    }
    if let Some(w) = parquet {
        w.close().map_err(Error::internal)?;
    }
    out_writer
        .flush()
        .map_err(|e| Error::internal(format!("writing the result: {e}")))?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_takes_a_version_a_time_or_a_date() {
        assert_eq!(AsOf::parse("3").unwrap(), AsOf::Version(3));
        let t = chrono::DateTime::parse_from_rfc3339("2025-11-20T02:00:00Z").unwrap();
        assert_eq!(AsOf::parse("2025-11-20T02:00:00Z").unwrap(), AsOf::Time(t.into()));
        let day = chrono::DateTime::parse_from_rfc3339("2025-11-20T00:00:00Z").unwrap();
        assert_eq!(AsOf::parse("2025-11-20").unwrap(), AsOf::Time(day.into()));
        for bad in ["-1", "yesterday", "20/11/2025", ""] {
            let e = AsOf::parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::exit_code::CONFIG);
            assert!(e.to_string().contains("--as-of"), "{e}");
        }
    }
}
