//! Progress of `export`, `import` and `copy` on stderr: rows per table and the rate. On a
//! terminal one status line is redrawn in place (at most 5 times a second); otherwise (a log, a
//! pipe) a plain line when a table is done and every 5 s within a long table. The commands
//! install a reporter; library callers (tests) have none and print nothing.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::format::{DumpTable, TableCounts};

struct Reporter {
    verb: &'static str,
    started: Instant,
    table_started: Instant,
    last_print: Instant,
    current: Option<DumpTable>,
    counts: TableCounts,
    terminal: bool,
}

static REPORTER: Mutex<Option<Reporter>> = Mutex::new(None);

/// Starts reporting for this process's transfer (`verb`: "export", "import", "copy").
pub fn install(verb: &'static str) {
    let now = Instant::now();
    *lock() = Some(Reporter {
        verb,
        started: now,
        table_started: now,
        last_print: now,
        current: None,
        counts: TableCounts::default(),
        terminal: std::io::stderr().is_terminal(),
    });
}

fn lock() -> std::sync::MutexGuard<'static, Option<Reporter>> {
    REPORTER.lock().unwrap_or_else(|p| p.into_inner())
}

fn rate(rows: u64, since: Instant) -> f64 {
    rows as f64 / since.elapsed().as_secs_f64().max(1e-3)
}

impl Reporter {
    fn table_done(&self, table: DumpTable) {
        let rows = self.counts.get(table);
        let line = format!(
            "{}: {} done, {rows} rows ({:.0} rows/s)",
            self.verb,
            table.as_str(),
            rate(rows, self.table_started)
        );
        if self.terminal {
            eprintln!("\r\x1b[K{line}");
        } else {
            eprintln!("{line}");
        }
    }

    fn status(&mut self, table: DumpTable) {
        let every = if self.terminal {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        if self.last_print.elapsed() < every {
            return;
        }
        self.last_print = Instant::now();
        let line = format!(
            "{}: {} {} rows, {} rows in all ({:.0} rows/s)",
            self.verb,
            table.as_str(),
            self.counts.get(table),
            self.counts.total(),
            rate(self.counts.total(), self.started)
        );
        if self.terminal {
            eprint!("\r\x1b[K{line}");
            let _ = std::io::stderr().flush();
        } else {
            eprintln!("{line}");
        }
    }
}

/// `n` more rows of `table` went through.
pub fn rows(table: DumpTable, n: u64) {
    let mut guard = lock();
    let Some(r) = guard.as_mut() else {
        return;
    };
    if r.current != Some(table) {
        if let Some(previous) = r.current {
            r.table_done(previous);
        }
        r.current = Some(table);
        r.table_started = Instant::now();
    }
    r.counts.add(table, n);
    r.status(table);
}

/// The transfer ended (well or not): report the last table and stop reporting.
pub fn finish(succeeded: bool) {
    let Some(r) = lock().take() else {
        return;
    };
    if succeeded && let Some(table) = r.current {
        r.table_done(table);
    } else if r.terminal {
        eprintln!();
    }
}
