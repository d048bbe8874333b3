//! `export`, `import` and `copy`: every session, agent, message (with its recipients, receipts
//! and acks), memory entry, audit row and token hash moved between databases with ids,
//! timestamps and JSON values unchanged.
//!
//! - `export` reads one consistent snapshot of the configured database page by page (bounded
//!   memory) and writes a JSON Lines dump ([`format`]).
//! - `import` reads a dump into the configured database, which must be empty, in **one**
//!   transaction: a bad line, a truncated file or a refused row leaves the database as it was.
//!   Rows are inserted many per statement; the id counters then move (forward only) to the
//!   source's counters from the end line and past the imported ids, so no fencing token or id
//!   the source handed out is handed out again.
//! - `copy` is export piped into import inside the process: pages read from one database are
//!   inserted into the other while the next page is read; no file.
//!
//! All three report rows per table and the rate on stderr as they go ([`progress`]).

pub mod format;

mod compat;
mod export;
mod import;
mod progress;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use tokio::sync::mpsc;

use crate::storage::{self, ConnectOptions, Store};
use crate::util::url::{mask_url, sqlite_file};
use export::Page;
use format::{DumpTable, Header, TableCounts};
use import::{Importer, Parsed};

#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Where to write the dump; `-` is standard output. A file is written whole or not at all
    /// (mode 0600: it holds every message and the token hashes).
    #[arg(long, short, value_name = "FILE", default_value = "-")]
    pub output: PathBuf,
    /// Leave out the agent tokens (agents then authenticate again after an import).
    #[arg(long)]
    pub no_tokens: bool,
    /// Write the dump to standard output even when it is a terminal (refused otherwise).
    #[arg(long)]
    pub to_terminal: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The dump to read (from `export`); `-` is standard input.
    #[arg(long, short, value_name = "FILE")]
    pub input: PathBuf,
    /// Import a format-1 dump of a server that had direct messages although it lacks their
    /// recipients (they arrive as private notes of their senders). Refused otherwise.
    #[arg(long)]
    pub accept_lost_recipients: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CopyArgs {
    /// The database to read, e.g. `sqlite:/home/me/.local/share/shared-context-server/shared-context.db`.
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The empty database to fill, e.g. `postgres://scs:secret@db:5432/scs`.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Leave out the agent tokens (agents then authenticate again).
    #[arg(long)]
    pub no_tokens: bool,
}

/// The newest migration of a backend: the dump header's `schema_version`.
fn schema_version(backend: &str) -> i64 {
    let migrator = if backend == "sqlite" {
        &storage::sqlite::MIGRATOR
    } else {
        &storage::postgres::MIGRATOR
    };
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Writes a dump of `store` to `out`. `out` is written on a blocking thread while the next page
/// is read.
pub async fn export(
    store: &dyn Store,
    out: Box<dyn Write + Send>,
    tokens: bool,
) -> anyhow::Result<TableCounts> {
    let header = Header {
        format: format::FORMAT.into(),
        version: format::VERSION,
        exported_at: crate::util::now(),
        source_backend: store.backend().into(),
        schema_version: schema_version(store.backend()),
    };
    let snapshot = store
        .begin_export()
        .await
        .context("cannot start reading the database")?;
    let (send, mut recv) = mpsc::channel::<Page>(2);
    let producer = tokio::spawn(export::produce(snapshot, tokens, send));
    let writer = tokio::task::spawn_blocking(move || {
        let mut out = out;
        export::write_dump(&mut *out, &header, &mut recv)
    });
    let written = writer.await.context("the dump writer panicked")?;
    let read = producer.await.context("the export panicked")?;
    // A failed read explains a failed write ("stopped before the end"), so it goes first.
    match (read?, written?) {
        (Some(read), written) if read == written => Ok(written),
        (read, written) => bail!("rows read ({read:?}) and written ({written}) differ"),
    }
}

/// Imports a dump into `store`, which must be empty; all or nothing.
pub async fn import(
    store: &dyn Store,
    input: Box<dyn BufRead + Send>,
    accept_lost_recipients: bool,
) -> anyhow::Result<TableCounts> {
    let (send, mut recv) = mpsc::channel::<anyhow::Result<Parsed>>(4);
    // A plain thread, never joined: after a failure it may be blocked reading stdin, which must
    // not keep the process alive (the runtime would wait for a spawn_blocking task).
    std::thread::Builder::new()
        .name("dump-reader".into())
        .spawn(move || import::read_dump(input, send))
        .context("cannot start the dump reader")?;
    let result = async {
        let header = match recv.recv().await {
            Some(Ok(Parsed::Header(header))) => {
                match compat::lost_recipients(&header) {
                    Some(why) if !accept_lost_recipients => bail!("line 1: {why}"),
                    Some(why) => tracing::warn!("{why}; importing anyway as asked"),
                    None => {}
                }
                if let Some(why) = compat::lost_coordination(&header) {
                    tracing::warn!("{why}");
                }
                if let Some(why) = compat::lost_counters(&header) {
                    tracing::warn!("{why}");
                }
                tracing::info!(
                    source = %header.source_backend,
                    exported_at = %crate::util::rfc3339(header.exported_at),
                    schema_version = header.schema_version,
                    "importing a dump"
                );
                header
            }
            Some(Err(e)) => return Err(e),
            Some(Ok(_)) | None => bail!("the dump has no header"),
        };
        let mut importer = Importer::begin(store).await?;
        match import_rows(&mut importer, &header, &mut recv).await {
            Ok(()) => importer.finish().await,
            Err(e) => {
                importer.abort().await;
                Err(e)
            }
        }
    }
    .await;
    // The reader stops at its next line once nobody receives.
    drop(recv);
    result
}

async fn import_rows(
    importer: &mut Importer,
    header: &Header,
    parsed: &mut mpsc::Receiver<anyhow::Result<Parsed>>,
) -> anyhow::Result<()> {
    let mut ended = false;
    while let Some(item) = parsed.recv().await {
        match item? {
            Parsed::Header(_) => bail!("a second header"),
            Parsed::Rows(rows) => {
                for (line, bytes, row) in rows {
                    progress::rows(row.table(), 1);
                    importer.push(row, line, bytes).await?;
                }
            }
            Parsed::End {
                line,
                counts,
                counters,
            } => {
                importer.check_end(line, &counts)?;
                if let Some(why) = compat::missing_counters(header, counters.as_ref()) {
                    bail!("line {line}: {why}");
                }
                if let Some(counters) = counters {
                    importer.set_counters(counters);
                }
                ended = true;
            }
        }
    }
    if !ended {
        bail!("the dump ended early");
    }
    Ok(())
}

/// Copies every row of `source` into `target`, which must be empty; all or nothing.
pub async fn copy(
    source: &dyn Store,
    target: &dyn Store,
    tokens: bool,
) -> anyhow::Result<TableCounts> {
    // Refuse a non-empty target before reading anything.
    let mut importer = Importer::begin(target).await?;
    let snapshot = match source.begin_export().await {
        Ok(s) => s,
        Err(e) => {
            importer.abort().await;
            return Err(anyhow::Error::from(e).context("cannot start reading the source database"));
        }
    };
    let (send, mut recv) = mpsc::channel::<Page>(2);
    let producer = tokio::spawn(export::produce(snapshot, tokens, send));
    let pumped: anyhow::Result<Option<TableCounts>> = async {
        while let Some(page) = recv.recv().await {
            match page {
                Page::Rows(batch) => {
                    progress::rows(batch.table(), batch.len() as u64);
                    importer.push_batch(batch).await?
                }
                Page::Done(read, counters) => {
                    importer.set_counters(counters);
                    return Ok(Some(read));
                }
            }
        }
        Ok(None)
    }
    .await;
    drop(recv);
    let produced = producer.await;
    let read = match (pumped, produced) {
        (Ok(Some(read)), _) => read,
        // Inserting failed: the reading side merely stopped.
        (Err(e), _) => {
            importer.abort().await;
            return Err(e);
        }
        // Reading failed: that is why the pages stopped.
        (Ok(None), produced) => {
            importer.abort().await;
            let e = match produced {
                Ok(Err(e)) => e,
                Ok(Ok(_)) => anyhow!("the source stopped before the end"),
                Err(panic) => anyhow!("reading the source panicked: {panic}"),
            };
            return Err(e);
        }
    };
    let inserted = importer.counts();
    if read != inserted {
        importer.abort().await;
        bail!("rows read ({read}) and inserted ({inserted}) differ");
    }
    importer.finish().await
}

fn summary(counts: &TableCounts) -> String {
    DumpTable::ALL
        .iter()
        .map(|t| format!("  {:<19}{:>10}\n", t.as_str(), counts.get(*t)))
        .collect()
}

/// `shared-context-server export`.
pub async fn run_export(store: Arc<dyn Store>, args: &ExportArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    if args.output.as_os_str() == "-" && std::io::stdout().is_terminal() && !args.to_terminal {
        store.close().await;
        bail!(
            "export writes every message and token hash; it will not print them to a terminal. \
             Use --output FILE, redirect standard output, or pass --to-terminal"
        );
    }
    let started = Instant::now();
    progress::install("export");
    let result = if args.output.as_os_str() == "-" {
        let out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout());
        export(&*store, Box::new(out), !args.no_tokens).await
    } else {
        export_to_file(&*store, &args.output, !args.no_tokens).await
    };
    progress::finish(result.is_ok());
    store.close().await;
    let counts = result?;
    let target = if args.output.as_os_str() == "-" {
        "standard output".into()
    } else {
        args.output.display().to_string()
    };
    eprintln!(
        "exported {} rows to {target} in {:.1} s:\n{}",
        counts.total(),
        started.elapsed().as_secs_f64(),
        summary(&counts).trim_end()
    );
    Ok(())
}

/// Writes to a temporary file beside `path` and renames it into place only when complete.
async fn export_to_file(
    store: &dyn Store,
    path: &Path,
    tokens: bool,
) -> anyhow::Result<TableCounts> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("--output {} is not a file name", path.display()))?;
    let partial = path.with_file_name(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let file =
        create_private(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let sync = file
        .try_clone()
        .context("cannot open the dump file twice")?;
    let out = std::io::BufWriter::with_capacity(1 << 20, file);
    let result = async {
        let counts = export(store, Box::new(out), tokens).await?;
        sync.sync_all()
            .with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, path)
            .with_context(|| format!("cannot move the dump to {}", path.display()))?;
        Ok(counts)
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// `shared-context-server import`.
pub async fn run_import(store: Arc<dyn Store>, args: &ImportArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (input, source): (Box<dyn BufRead + Send>, String) = if args.input.as_os_str() == "-" {
        (
            Box::new(std::io::BufReader::with_capacity(1 << 20, std::io::stdin())),
            "standard input".into(),
        )
    } else {
        let file = std::fs::File::open(&args.input)
            .with_context(|| format!("cannot open {}", args.input.display()))?;
        (
            Box::new(std::io::BufReader::with_capacity(1 << 20, file)),
            args.input.display().to_string(),
        )
    };
    progress::install("import");
    let result = import(&*store, input, args.accept_lost_recipients).await;
    progress::finish(result.is_ok());
    store.close().await;
    // Every failure rolls the whole import back.
    let counts = result.with_context(|| format!("nothing was imported from {source}"))?;
    println!(
        "imported {} rows from {source} in {:.1} s:\n{}",
        counts.total(),
        started.elapsed().as_secs_f64(),
        summary(&counts).trim_end()
    );
    Ok(())
}

/// `shared-context-server copy --from URL --to URL`: needs no configuration or keys.
pub async fn run_copy(args: &CopyArgs) -> anyhow::Result<()> {
    let (from, to) = (mask_url(&args.from), mask_url(&args.to));
    if args.from == args.to {
        bail!("--from and --to name the same database ({from})");
    }
    if let Some(path) = sqlite_file(&args.from)
        && !path.exists()
    {
        bail!("there is no database at {} (--from {from})", path.display());
    }
    if let Some(dir) = sqlite_file(&args.to)
        .as_deref()
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let options = ConnectOptions {
        max_connections: 4,
        min_connections: 1,
        ..ConnectOptions::default()
    };
    let started = Instant::now();
    let source = storage::connect(&args.from, &options)
        .await
        .with_context(|| format!("cannot open {from}"))?;
    let target = match storage::connect(&args.to, &options).await {
        Ok(t) => t,
        Err(e) => {
            source.close().await;
            return Err(e.context(format!("cannot open {to}")));
        }
    };
    eprintln!(
        "copying {from} ({}) to {to} ({})",
        source.backend(),
        target.backend()
    );
    progress::install("copy");
    let result = copy(&*source, &*target, !args.no_tokens).await;
    progress::finish(result.is_ok());
    source.close().await;
    target.close().await;
    // Every failure rolls the whole copy back; the source is only read.
    let counts = result.with_context(|| format!("nothing was copied from {from} to {to}"))?;
    println!(
        "copied {} rows from {from} to {to} in {:.1} s:\n{}",
        counts.total(),
        started.elapsed().as_secs_f64(),
        summary(&counts).trim_end()
    );
    Ok(())
}
