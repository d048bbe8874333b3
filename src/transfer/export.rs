//! Reading every table page by page from one snapshot, and writing the pages as JSON Lines.

use std::io::Write;

use anyhow::{Context, anyhow, bail};
use tokio::sync::mpsc;

use super::format::{DumpBatch, DumpKey, DumpTable, Header, IdCounters, TableCounts, Trailer};
use crate::storage::ExportTx;

/// Rows per query at most (also the most rows an import statement inserts).
pub(crate) const MAX_ROWS: usize = 1000;
/// Rows of the first page of each table; later pages are sized to about `PAGE_BYTES`.
const FIRST_PAGE: usize = 100;
const PAGE_BYTES: usize = 4 << 20;

/// What the reading side sends: pages, then the totals and the id counters once everything was
/// read.
pub(crate) enum Page {
    Rows(DumpBatch),
    Done(TableCounts, IdCounters),
}

/// Reads every table (tokens unless `tokens` is false) in dump order from the snapshot and sends
/// the pages. Memory stays bounded: at most a few pages are in flight. `None` when the receiving
/// side stopped (its error is the one to report).
pub(crate) async fn produce(
    mut tx: Box<dyn ExportTx>,
    tokens: bool,
    sink: mpsc::Sender<Page>,
) -> anyhow::Result<Option<TableCounts>> {
    let mut counts = TableCounts::default();
    for table in DumpTable::ALL {
        if table == DumpTable::AgentTokens && !tokens {
            continue;
        }
        let mut after: Option<DumpKey> = None;
        let mut limit = FIRST_PAGE;
        loop {
            let batch = tx
                .page(table, after.as_ref(), limit as u32)
                .await
                .with_context(|| format!("cannot read {table}"))?;
            let n = batch.len();
            if n == 0 {
                break;
            }
            counts.add(table, n as u64);
            after = batch.last_key();
            let full = n == limit;
            limit = (PAGE_BYTES * n / batch.approx_bytes().max(1)).clamp(16, MAX_ROWS);
            if sink.send(Page::Rows(batch)).await.is_err() {
                return Ok(None);
            }
            if !full {
                break;
            }
        }
        tracing::debug!(%table, rows = counts.get(table), "table read");
    }
    // After the rows, in the same snapshot: a counter is never below the keys just read.
    let counters = tx.counters().await.context("cannot read the id counters")?;
    tracing::debug!(?counters, "id counters read");
    Ok(sink
        .send(Page::Done(counts, counters))
        .await
        .ok()
        .map(|()| counts))
}

/// Writes the header, every page and the end line. Runs on a blocking thread. Without the
/// producer's `Done` (it failed), no end line is written and this fails, so the dump is never
/// mistaken for a complete one.
pub(crate) fn write_dump(
    out: &mut dyn Write,
    header: &Header,
    pages: &mut mpsc::Receiver<Page>,
) -> anyhow::Result<TableCounts> {
    let io = |e: std::io::Error| anyhow!("cannot write the dump: {e}");
    serde_json::to_writer(&mut *out, header).map_err(|e| anyhow!("cannot write the dump: {e}"))?;
    out.write_all(b"\n").map_err(io)?;
    let mut written = TableCounts::default();
    while let Some(page) = pages.blocking_recv() {
        match page {
            Page::Rows(batch) => {
                let table = batch.table();
                super::progress::rows(table, batch.len() as u64);
                for row in batch.into_rows() {
                    serde_json::to_writer(&mut *out, &row)
                        .map_err(|e| anyhow!("cannot write the dump: {e}"))?;
                    out.write_all(b"\n").map_err(io)?;
                    written.add(table, 1);
                }
            }
            Page::Done(read, counters) => {
                if read != written {
                    bail!("rows read ({read}) and written ({written}) differ");
                }
                let trailer = Trailer {
                    end: written,
                    counters: Some(counters),
                };
                serde_json::to_writer(&mut *out, &trailer)
                    .map_err(|e| anyhow!("cannot write the dump: {e}"))?;
                out.write_all(b"\n").map_err(io)?;
                out.flush().map_err(io)?;
                return Ok(written);
            }
        }
    }
    // The reading side failed; its error is the one to report.
    bail!("the export stopped before the end")
}
