//! Reading a dump line by line (on a blocking thread) and inserting its rows in batches inside
//! one transaction.

use std::io::BufRead;

use anyhow::{Context, anyhow, bail};
use tokio::sync::mpsc;

use super::export::MAX_ROWS;
use super::format::{self, DumpBatch, DumpRow, DumpTable, Header, IdCounters, Line, TableCounts};
use crate::storage::{ImportTx, Store};

/// An insert statement carries at most this much row data (and at most `MAX_ROWS` rows).
const BATCH_BYTES: usize = 8 << 20;
/// Parsed rows travel from the reading thread in chunks of this many.
const CHUNK_ROWS: usize = 256;

/// What the reading thread sends.
pub(crate) enum Parsed {
    Header(Header),
    /// (line number, line length, row)
    Rows(Vec<(u64, usize, DumpRow)>),
    End {
        line: u64,
        counts: TableCounts,
        counters: Option<IdCounters>,
    },
}

/// Reads and parses the dump; sends the header, the rows and the end line, or the first error
/// (with its line number) and stops. Runs on a blocking thread.
pub(crate) fn read_dump(
    mut input: Box<dyn BufRead + Send>,
    sink: mpsc::Sender<anyhow::Result<Parsed>>,
) {
    let send = |item| sink.blocking_send(item).is_ok();
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut line_no: u64 = 0;
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    let mut chunk_bytes = 0usize;
    let mut ended = false;
    loop {
        buf.clear();
        let n = match input.read_until(b'\n', &mut buf) {
            Ok(n) => n,
            Err(e) => {
                send(Err(anyhow!(
                    "cannot read the dump after line {line_no}: {e}"
                )));
                return;
            }
        };
        if n == 0 {
            break;
        }
        line_no += 1;
        let text = trim_line(&buf);
        if line_no == 1 {
            match format::parse_header(text) {
                Ok(header) => {
                    if !send(Ok(Parsed::Header(header))) {
                        return;
                    }
                }
                Err(e) => {
                    send(Err(anyhow!("line 1: {e}")));
                    return;
                }
            }
            continue;
        }
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if ended {
            send(Err(anyhow!(
                "line {line_no}: there is more after the end line; the dump is damaged"
            )));
            return;
        }
        match format::parse_line(text) {
            Ok(Line::Row(row)) => {
                chunk_bytes += text.len();
                chunk.push((line_no, text.len(), row));
                if chunk.len() >= CHUNK_ROWS || chunk_bytes >= BATCH_BYTES {
                    chunk_bytes = 0;
                    if !send(Ok(Parsed::Rows(std::mem::replace(
                        &mut chunk,
                        Vec::with_capacity(CHUNK_ROWS),
                    )))) {
                        return;
                    }
                }
            }
            Ok(Line::End(counts, counters)) => {
                if !chunk.is_empty() && !send(Ok(Parsed::Rows(std::mem::take(&mut chunk)))) {
                    return;
                }
                if !send(Ok(Parsed::End {
                    line: line_no,
                    counts,
                    counters,
                })) {
                    return;
                }
                ended = true;
            }
            Err(e) => {
                send(Err(anyhow!("line {line_no}: {e}")));
                return;
            }
        }
    }
    if line_no == 0 {
        send(Err(anyhow!("the dump is empty (no header line)")));
        return;
    }
    if !ended {
        if !chunk.is_empty() && !send(Ok(Parsed::Rows(chunk))) {
            return;
        }
        send(Err(anyhow!(
            "the dump ends at line {line_no} without its end line ({{\"end\":…}}): it is incomplete, e.g. cut off while it was written"
        )));
    }
}

fn trim_line(buf: &[u8]) -> &[u8] {
    let buf = buf.strip_suffix(b"\n").unwrap_or(buf);
    buf.strip_suffix(b"\r").unwrap_or(buf)
}

/// Rows waiting to be inserted, all of one table.
struct Pending {
    batch: DumpBatch,
    bytes: usize,
    lines: Option<(u64, u64)>,
}

/// Inserts rows in dump order inside one import transaction, many rows per statement.
pub(crate) struct Importer {
    tx: Box<dyn ImportTx>,
    pending: Option<Pending>,
    last_table: Option<DumpTable>,
    counts: TableCounts,
    /// The source's id counters, applied (forward only) before the commit.
    counters: Option<IdCounters>,
}

impl Importer {
    /// Starts the transaction; refuses a database that already holds any row.
    pub(crate) async fn begin(store: &dyn Store) -> anyhow::Result<Self> {
        let mut tx = store
            .begin_import()
            .await
            .context("cannot start the import transaction")?;
        let occupied = match tx.occupied().await {
            Ok(o) => o,
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e.into());
            }
        };
        if !occupied.is_empty() {
            let _ = tx.rollback().await;
            let tables: Vec<&str> = occupied.iter().map(|t| t.as_str()).collect();
            bail!(
                "the target database is not empty (it has rows in {}); import only into an empty database: a new \
                 SQLite file, or a new PostgreSQL database (or drop its schema shared_context first)",
                tables.join(", ")
            );
        }
        Ok(Self {
            tx,
            pending: None,
            last_table: None,
            counts: TableCounts::default(),
            counters: None,
        })
    }

    pub(crate) fn counts(&self) -> TableCounts {
        self.counts
    }

    /// Tables must come in dump order, each in one run.
    fn check_order(&mut self, table: DumpTable, line: Option<u64>) -> anyhow::Result<()> {
        if let Some(last) = self.last_table
            && table < last
        {
            let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
            bail!(
                "{at}a {table} row after {last} rows; a dump lists sessions, agents, messages, \
                 message_recipients, agent_memory, audit_log, agent_tokens, leases, tasks, shared_memory in that order"
            );
        }
        self.last_table = Some(table);
        Ok(())
    }

    /// Adds one row of a dump file (its line number and length), inserting when a batch is full.
    pub(crate) async fn push(
        &mut self,
        row: DumpRow,
        line: u64,
        bytes: usize,
    ) -> anyhow::Result<()> {
        let table = row.table();
        self.check_order(table, Some(line))?;
        if self
            .pending
            .as_ref()
            .is_some_and(|p| p.batch.table() != table)
        {
            self.flush().await?;
        }
        let pending = self.pending.get_or_insert_with(|| Pending {
            batch: DumpBatch::new(table),
            bytes: 0,
            lines: Some((line, line)),
        });
        if pending.batch.push(row).is_err() {
            unreachable!("the pending batch holds this row's table");
        }
        pending.bytes += bytes;
        if let Some((_, last)) = &mut pending.lines {
            *last = line;
        }
        self.counts.add(table, 1);
        if pending.batch.len() >= MAX_ROWS || pending.bytes >= BATCH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    /// Adds a page read from another database, split into statements of bounded size.
    pub(crate) async fn push_batch(&mut self, mut batch: DumpBatch) -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let table = batch.table();
        self.check_order(table, None)?;
        self.flush().await?;
        self.counts.add(table, batch.len() as u64);
        let per_row = (batch.approx_bytes() / batch.len()).max(1);
        let rows = (BATCH_BYTES / per_row).clamp(1, MAX_ROWS);
        while !batch.is_empty() {
            let rest = if batch.len() > rows {
                batch.split_off(rows)
            } else {
                DumpBatch::new(table)
            };
            self.pending = Some(Pending {
                batch,
                bytes: 0,
                lines: None,
            });
            self.flush().await?;
            batch = rest;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        let table = pending.batch.table();
        self.tx
            .insert(&pending.batch)
            .await
            .with_context(|| match pending.lines {
                Some((first, last)) if first == last => {
                    format!("line {first} ({table} row) could not be inserted")
                }
                Some((first, last)) => {
                    format!("lines {first}-{last} ({table} rows) could not be inserted")
                }
                None => format!("{} {table} rows could not be inserted", pending.batch.len()),
            })?;
        Ok(())
    }

    /// The source's id counters, for `finish` to apply.
    pub(crate) fn set_counters(&mut self, counters: IdCounters) {
        self.counters = Some(counters);
    }

    /// Checks the end line's counts against the rows seen.
    pub(crate) fn check_end(&self, line: u64, expected: &TableCounts) -> anyhow::Result<()> {
        if *expected != self.counts {
            bail!(
                "line {line}: the end line counts {expected}, but the dump holds {}; the dump is damaged",
                self.counts
            );
        }
        Ok(())
    }

    /// Inserts what is left, moves the id counters up to the source's and past the imported
    /// ids (never back), commits.
    pub(crate) async fn finish(mut self) -> anyhow::Result<TableCounts> {
        if let Err(e) = self.flush().await {
            self.abort().await;
            return Err(e);
        }
        if let Some(counters) = self.counters
            && let Err(e) = self.tx.advance(&counters).await
        {
            self.abort().await;
            return Err(anyhow::Error::from(e).context("cannot move the id counters"));
        }
        self.tx.commit().await.context("cannot commit the import")?;
        Ok(self.counts)
    }

    /// Rolls everything back.
    pub(crate) async fn abort(self) {
        if let Err(e) = self.tx.rollback().await {
            // The transaction ends with its connection anyway; nothing was committed.
            tracing::debug!(error = %e, "rollback of the import failed");
        }
    }
}
