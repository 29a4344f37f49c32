//! Writing the lake: each ingested file is one atomic Delta commit, tagged with
//! an application transaction (`startwell-file-<sha256>`) so a crash between the
//! data commit and the ledger entry is recovered without duplicates. The ingest
//! ledger (`lake/ingest_ledger`) records every file's outcome.

use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::datasource::provider_as_source;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{LogicalPlanBuilder, col, lit};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::SessionContext;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::WriteBuilder;
use deltalake::protocol::SaveMode;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::storage::Storage;

pub const LEDGER: &str = "ingest_ledger";

/// Rows per Parquet row group in curated tables.
const ROW_GROUP_ROWS: usize = 65_536;
/// Size at which a curated table's data file is closed and a new one started.
const TARGET_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// What a new file's rows replace.
#[derive(Debug, Clone, PartialEq)]
pub enum Replace {
    Nothing,
    /// The rows of one period's delivery (`period`, `delivery`).
    Period(String, String),
    Table,
}

/// The application-transaction id that marks a file's commit.
pub fn file_app_id(source: &str, sha256: &str) -> String {
    format!("startwell-{source}-{sha256}")
}

/// A partition stream fed by a channel: batches flow from the reader to the
/// Delta writer with bounded buffering.
struct ChannelStream {
    schema: SchemaRef,
    rx: Mutex<Option<mpsc::Receiver<Result<RecordBatch, DataFusionError>>>>,
}

impl std::fmt::Debug for ChannelStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChannelStream")
    }
}

impl PartitionStream for ChannelStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }
    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let rx = self.rx.lock().expect("not poisoned").take();
        let stream = futures::stream::unfold(rx, |rx| async move {
            let mut rx = rx?;
            let item = rx.recv().await?;
            Some((item, Some(rx)))
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

/// Is the file with this app id already committed to `table`?
pub async fn is_committed(storage: &Storage, table: &str, app_id: &str) -> Result<bool> {
    let t = storage.table(table).await?;
    if t.version().is_none() {
        return Ok(false);
    }
    let state = t.snapshot()?;
    Ok(state
        .transaction_version(t.log_store().as_ref(), app_id)
        .await?
        .is_some())
}

/// Write everything `rx` yields to `lake/<table>` as one commit. An error from
/// the stream (e.g. too many rejected rows) aborts the write: nothing is committed.
pub async fn write_stream(
    storage: &Storage,
    table: &str,
    schema: SchemaRef,
    rx: mpsc::Receiver<Result<RecordBatch, DataFusionError>>,
    replace: Replace,
    app_id: &str,
    metadata: serde_json::Map<String, serde_json::Value>,
) -> Result<i64> {
    let t = storage.table(table).await?;
    let snapshot = t.snapshot().ok().map(|s| s.snapshot().clone());
    let source = StreamingTable::try_new(
        schema.clone(),
        vec![Arc::new(ChannelStream {
            schema,
            rx: Mutex::new(Some(rx)),
        })],
    )?;
    let plan = LogicalPlanBuilder::scan("input", provider_as_source(Arc::new(source)), None)?.build()?;
    let commit = CommitProperties::default()
        .with_application_transaction(Transaction::new(app_id, 1))
        .with_metadata(metadata);
    // Small row groups and data files keep the writer's buffers (and so the
    // process's memory) the same size whatever the size of the file ingested.
    let props = datafusion::parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_compression(datafusion::parquet::basic::Compression::SNAPPY)
        .build();
    let mut w = WriteBuilder::new(t.log_store(), snapshot)
        .with_input_plan(plan)
        .with_writer_properties(props)
        .with_target_file_size(std::num::NonZeroU64::new(TARGET_FILE_BYTES))
        .with_partition_columns(["period", "delivery"])
        .with_commit_properties(commit)
        .with_table_name(table);
    w = match replace {
        Replace::Nothing => w.with_save_mode(SaveMode::Append),
        Replace::Table => w.with_save_mode(SaveMode::Overwrite),
        Replace::Period(p, d) => w
            .with_save_mode(SaveMode::Overwrite)
            .with_replace_where(col("period").eq(lit(p)).and(col("delivery").eq(lit(d)))),
    };
    let written = w.await.map_err(|e| match e {
        deltalake::DeltaTableError::Arrow { source } => Error::internal(source),
        other => Error::from(other),
    })?;
    Ok(written.version().unwrap_or(0) as i64)
}

/// One row of the ingest ledger.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LedgerEntry {
    pub run_id: String,
    pub source: String,
    pub file: String,
    pub size: i64,
    pub sha256: String,
    pub rows_read: i64,
    pub rows_accepted: i64,
    pub rows_rejected: i64,
    pub outcome: String,
    pub message: String,
    pub recorded_at: String,
}

fn ledger_schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let i = |n: &str| Field::new(n, DataType::Int64, true);
    Arc::new(Schema::new(vec![
        s("run_id"),
        s("source"),
        s("file"),
        i("size"),
        s("sha256"),
        i("rows_read"),
        i("rows_accepted"),
        i("rows_rejected"),
        s("outcome"),
        s("message"),
        s("recorded_at"),
        s("period"),
    ]))
}

/// Append entries to the ledger (one commit).
pub async fn append_ledger(storage: &Storage, entries: &[LedgerEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let strs = |f: fn(&LedgerEntry) -> &str| -> Arc<dyn Array> {
        Arc::new(StringArray::from_iter_values(entries.iter().map(f)))
    };
    let ints = |f: fn(&LedgerEntry) -> i64| -> Arc<dyn Array> {
        Arc::new(Int64Array::from_iter_values(entries.iter().map(f)))
    };
    let batch = RecordBatch::try_new(
        ledger_schema(),
        vec![
            strs(|e| &e.run_id),
            strs(|e| &e.source),
            strs(|e| &e.file),
            ints(|e| e.size),
            strs(|e| &e.sha256),
            ints(|e| e.rows_read),
            ints(|e| e.rows_accepted),
            ints(|e| e.rows_rejected),
            strs(|e| &e.outcome),
            strs(|e| &e.message),
            strs(|e| &e.recorded_at),
            // The ledger is partitioned by source so each source's history stays small.
            strs(|e| &e.source),
        ],
    )
    .map_err(Error::internal)?;
    let t = storage.table(LEDGER).await?;
    let snapshot = t.snapshot().ok().map(|s| s.snapshot().clone());
    WriteBuilder::new(t.log_store(), snapshot)
        .with_input_batches([batch])
        .with_partition_columns(["period"])
        .with_save_mode(SaveMode::Append)
        .with_table_name(LEDGER)
        .await?;
    Ok(())
}

/// Every ledger entry, oldest first.
pub async fn read_ledger(storage: &Storage) -> Result<Vec<LedgerEntry>> {
    let batches = query_table(
        storage,
        LEDGER,
        "SELECT run_id, source, file, size, sha256, rows_read, rows_accepted, rows_rejected, \
         outcome, message, recorded_at FROM t ORDER BY recorded_at, file",
    )
    .await?;
    let mut out = Vec::new();
    for b in batches {
        // Parquet strings may come back as Utf8View: cast to the plain types first.
        let s = |i: usize| {
            cast(b.column(i), &DataType::Utf8)
                .ok()
                .and_then(|a| a.as_any().downcast_ref::<StringArray>().cloned())
        };
        let n = |i: usize| {
            cast(b.column(i), &DataType::Int64)
                .ok()
                .and_then(|a| a.as_any().downcast_ref::<Int64Array>().cloned())
        };
        let (Some(run), Some(src), Some(file), Some(size), Some(sha)) = (s(0), s(1), s(2), n(3), s(4)) else {
            return Err(Error::internal("ledger has an unexpected schema"));
        };
        let (Some(rr), Some(ra), Some(rj), Some(oc), Some(msg), Some(at)) =
            (n(5), n(6), n(7), s(8), s(9), s(10))
        else {
            return Err(Error::internal("ledger has an unexpected schema"));
        };
        for r in 0..b.num_rows() {
            out.push(LedgerEntry {
                run_id: run.value(r).into(),
                source: src.value(r).into(),
                file: file.value(r).into(),
                size: size.value(r),
                sha256: sha.value(r).into(),
                rows_read: rr.value(r),
                rows_accepted: ra.value(r),
                rows_rejected: rj.value(r),
                outcome: oc.value(r).into(),
                message: msg.value(r).into(),
                recorded_at: at.value(r).into(),
            });
        }
    }
    Ok(out)
}

/// Run `sql` against `lake/<table>` registered as `t` (empty when the table does not exist).
pub async fn query_table(storage: &Storage, table: &str, sql: &str) -> Result<Vec<RecordBatch>> {
    let t = storage.table(table).await?;
    if t.version().is_none() {
        return Ok(Vec::new());
    }
    let ctx = SessionContext::new();
    t.update_datafusion_session(&ctx.state())?;
    let provider = t.table_provider().await?;
    ctx.register_table("t", provider)?;
    Ok(ctx.sql(sql).await?.collect().await?)
}

/// Rows in `lake/<table>` now (0 when it does not exist yet).
pub async fn count_rows(storage: &Storage, table: &str) -> Result<u64> {
    let batches = query_table(storage, table, "SELECT COUNT(*) AS n FROM t").await?;
    let n = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Int64Array>()
                .map(|a| a.value(0))
        })
        .unwrap_or(0);
    Ok(n.max(0) as u64)
}
