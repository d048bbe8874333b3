//! Group commit on SQLite: a write that arrives while another runs joins that write's
//! transaction, and one COMMIT acknowledges them all (as `postgres/combine.rs` does per session).
//!
//! SQLite has one writer. Written one transaction each, twenty agents' posts queue on it and each
//! pays a BEGIN, a COMMIT and the commit's WAL frames: every page the write dirtied (the message's
//! table and index pages, the FTS5 segment it flushes, the count and audit rows) is appended again
//! for every message. In one transaction a page dirtied by several members is written once.
//!
//! Each caller runs its own write, in its own task, on the shared connection: the first member
//! begins the transaction, later ones run inside a savepoint, so a write that fails or asks to
//! be undone (an idempotent replay, a refused write) is rolled back alone. Whoever finishes when
//! nobody is queued behind it (or when the batch is full) commits; every member answers only
//! after that COMMIT succeeded, so an acknowledged write is in the WAL file and survives a
//! process kill. Nothing waits to be combined: a write on an idle server commits at once.
//!
//! A member's own statements run on the writer's thread, a round trip each; SAVEPOINT and RELEASE
//! around them were two more. A write given its scope (`write_scoped`) sends them in its own
//! round trips instead (`scoped!`: one query of several statements): a plain `add_message` joins,
//! writes and releases in one round trip where it took three (at 20 agents the transaction
//! carried 12.5 writes, each waiting for the ones before it).
//!
//! Cancellation: a caller dropped inside its write leaves a note (`Undo`) for the next holder,
//! which rolls that write back first; the COMMIT runs in a task of its own, so no caller going
//! away can interrupt it. If a dropped caller was the one due to commit, a flush task commits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::storage::{StoreError, StoreResult};

/// The most writes one transaction carries; then it commits even with callers queued.
const MAX_BATCH: usize = 64;

type Done = watch::Sender<Option<StoreResult<()>>>;

/// Where a write runs in the shared transaction, for a write that opens its scope itself
/// ([`GroupCommit::write_scoped`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scope {
    /// The first write of the transaction: it begins it.
    First,
    /// A later write: in a savepoint of its own, released once its statements succeeded.
    Member,
}

macro_rules! begin_sql {
    () => {
        "BEGIN IMMEDIATE"
    };
}
macro_rules! savepoint_sql {
    () => {
        "SAVEPOINT member"
    };
}
macro_rules! release_sql {
    () => {
        "RELEASE member"
    };
}

/// A write's statements (several, `;`-separated, run by sqlx-sqlite in turn on one command) in
/// the three forms it runs in: inside a scope the group opened (`bare`), or opening its own
/// ([`Scope`]). A statement that fails stops the rest: a member's savepoint stays open for the
/// group to roll back.
pub(super) struct Scoped {
    pub(super) bare: &'static str,
    first: &'static str,
    member: &'static str,
}

macro_rules! scoped {
    ($($sql:tt)+) => {
        $crate::storage::sqlite::group::Scoped::new(
            concat!($($sql)+),
            concat!($crate::storage::sqlite::group::begin_sql!(), "; ", $($sql)+),
            concat!(
                $crate::storage::sqlite::group::savepoint_sql!(), "; ", $($sql)+, "; ",
                $crate::storage::sqlite::group::release_sql!()
            ),
        )
    };
}
pub(crate) use {begin_sql, release_sql, savepoint_sql, scoped};

impl Scoped {
    pub(super) const fn new(bare: &'static str, first: &'static str, member: &'static str) -> Self {
        Self {
            bare,
            first,
            member,
        }
    }

    pub(super) fn sql(&self, scope: Scope) -> &'static str {
        match scope {
            Scope::First => self.first,
            Scope::Member => self.member,
        }
    }
}

impl Scope {
    /// Opens the scope alone (a round trip), for a scoped write that runs several queries.
    pub(super) async fn open(self, conn: &mut SqliteConnection) -> StoreResult<()> {
        match self {
            Self::First => exec(conn, begin_sql!()).await,
            Self::Member => exec(conn, savepoint_sql!()).await,
        }
    }

    /// Closes what [`Scope::open`] opened, once the write's statements succeeded.
    pub(super) async fn close(self, conn: &mut SqliteConnection) -> StoreResult<()> {
        match self {
            Self::First => Ok(()),
            Self::Member => exec(conn, release_sql!()).await,
        }
    }
}

pub(super) struct GroupCommit {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    batch: Arc<Mutex<Batch>>,
    /// Callers waiting for the lock: while any is, a finished member leaves the commit to them.
    queued: AtomicUsize,
    /// Committed transactions and the writes they carried (writes / transactions: the batching).
    commits: AtomicU64,
    committed_writes: AtomicU64,
}

#[derive(Default)]
struct Batch {
    open: Option<Open>,
}

/// The transaction being filled.
struct Open {
    conn: PoolConnection<Sqlite>,
    /// Writes kept in it so far (all waiting for its COMMIT).
    members: usize,
    done: Done,
    /// Set while a member runs: what to undo if that member's caller is dropped mid-write.
    undo: Option<Undo>,
}

#[derive(Clone, Copy)]
enum Undo {
    /// The first member (or the BEGIN itself): nothing else is in the transaction yet.
    Transaction,
    /// A later member, inside its savepoint.
    Savepoint,
}

impl GroupCommit {
    pub(super) fn new(pool: SqlitePool) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                batch: Arc::default(),
                queued: AtomicUsize::new(0),
                commits: AtomicU64::new(0),
                committed_writes: AtomicU64::new(0),
            }),
        }
    }

    /// Transactions committed and the writes they carried, since start.
    pub(super) fn stats(&self) -> (u64, u64) {
        (
            self.inner.commits.load(Ordering::Relaxed),
            self.inner.committed_writes.load(Ordering::Relaxed),
        )
    }

    /// Runs `work` in the shared transaction. It returns its value and whether to keep what it
    /// wrote (`false`: roll it back, e.g. an idempotent replay). A kept write answers after the
    /// COMMIT that makes it durable; an undone one or an error answers at once.
    pub(super) async fn write<T>(
        &self,
        work: impl AsyncFnOnce(&mut SqliteConnection) -> StoreResult<(T, bool)>,
    ) -> StoreResult<T> {
        self.run(false, async |conn, _| work(conn).await).await
    }

    /// As [`GroupCommit::write`], but `work` opens its [`Scope`] itself (`BEGIN IMMEDIATE` or
    /// `SAVEPOINT member`, in the round trip of its first statement) and, as a member, releases
    /// it once its statements succeeded. What succeeds is kept: after RELEASE there is no
    /// savepoint left to roll back.
    pub(super) async fn write_scoped<T>(
        &self,
        work: impl AsyncFnOnce(&mut SqliteConnection, Scope) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.run(true, async |conn, scope| {
            work(conn, scope).await.map(|v| (v, true))
        })
        .await
    }

    async fn run<T>(
        &self,
        scoped: bool,
        work: impl AsyncFnOnce(&mut SqliteConnection, Scope) -> StoreResult<(T, bool)>,
    ) -> StoreResult<T> {
        let inner = &self.inner;
        inner.queued.fetch_add(1, Ordering::SeqCst);
        let mut turn = Turn {
            inner: inner.clone(),
            queued: true,
            finished: false,
        };
        let mut guard = inner.batch.clone().lock_owned().await;
        inner.queued.fetch_sub(1, Ordering::SeqCst);
        turn.queued = false;

        undo_interrupted(&mut guard).await;
        let first = guard.open.is_none();
        let scope = if first { Scope::First } else { Scope::Member };
        let open = if first {
            let conn = inner.pool.acquire().await?;
            let (done, _) = watch::channel(None);
            guard.open.insert(Open {
                conn,
                members: 0,
                done,
                undo: Some(Undo::Transaction),
            })
        } else {
            let open = guard.open.as_mut().expect("checked above");
            open.undo = Some(Undo::Savepoint);
            open
        };
        if !scoped && let Err(e) = scope.open(&mut open.conn).await {
            if first {
                guard.open = None; // back to the pool: BEGIN failed, no transaction is open
            } else {
                fail_batch(&mut guard, e.clone());
            }
            turn.finished = true;
            return Err(e);
        }
        let open = guard.open.as_mut().expect("opened above");
        let outcome = work(&mut *open.conn, scope).await;
        let undo = open.undo.expect("set above");
        let keep = matches!(outcome, Ok((_, true)));
        // The undo note stays until the statement below has run: a caller dropped during it
        // leaves the next holder to finish it.
        let settled = match (keep, undo) {
            (true, Undo::Transaction) => Ok(()),
            (true, Undo::Savepoint) if scoped => Ok(()), // released by the write itself
            (true, Undo::Savepoint) => scope.close(&mut open.conn).await,
            (false, Undo::Savepoint) => release_undone(&mut open.conn).await,
            (false, Undo::Transaction) => {
                // The only member: SQLite may have rolled back already (then this fails, and
                // the write's own error is the one to report).
                let _ = exec(&mut open.conn, "ROLLBACK").await;
                guard.open = None;
                Ok(())
            }
        };
        turn.finished = true;
        if let Err(e) = settled {
            // The transaction is gone (SQLite rolls back on a full disk or an I/O error):
            // every member fails; this one reports its own error if it had one.
            fail_batch(&mut guard, e.clone());
            return outcome.and(Err(e));
        }
        let Some(open) = guard.open.as_mut() else {
            return outcome.map(|(v, _)| v); // the only member, rolled back
        };
        open.undo = None;
        if keep {
            open.members += 1;
        }
        let done = keep.then(|| open.done.subscribe());
        if open.members >= MAX_BATCH || self.inner.queued.load(Ordering::SeqCst) == 0 {
            tokio::spawn(commit(self.inner.clone(), guard));
        } else {
            drop(guard);
        }
        let Some(mut done) = done else {
            return outcome.map(|(v, _)| v);
        };
        let committed = done
            .wait_for(Option::is_some)
            .await
            .map(|r| r.clone().expect("waited for Some"))
            .unwrap_or_else(|_| Err(lost()));
        committed.and(outcome.map(|(v, _)| v))
    }
}

/// A caller's place in line; dropped before it finished (its future was cancelled), it makes
/// sure the transaction it may have joined or been due to commit still ends.
struct Turn {
    inner: Arc<Inner>,
    queued: bool,
    finished: bool,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.queued {
            self.inner.queued.fetch_sub(1, Ordering::SeqCst);
        }
        if !self.finished {
            let inner = self.inner.clone();
            tokio::spawn(async move {
                let mut guard = inner.batch.clone().lock_owned().await;
                undo_interrupted(&mut guard).await;
                if guard.open.is_some() && inner.queued.load(Ordering::SeqCst) == 0 {
                    commit(inner, guard).await;
                }
            });
        }
    }
}

/// Rolls back the write of a member whose caller was dropped inside it.
async fn undo_interrupted(guard: &mut OwnedMutexGuard<Batch>) {
    let Some(open) = guard.open.as_mut() else {
        return;
    };
    let undone = match open.undo.take() {
        None => return,
        Some(Undo::Savepoint) => release_undone(&mut open.conn).await,
        Some(Undo::Transaction) => {
            // Nothing else is in it; ROLLBACK fails harmlessly if BEGIN never ran.
            let _ = exec(&mut open.conn, "ROLLBACK").await;
            guard.open = None;
            return;
        }
    };
    if let Err(e) = undone {
        fail_batch(guard, e);
    }
}

/// Commits the transaction and answers every member.
async fn commit(inner: Arc<Inner>, mut guard: OwnedMutexGuard<Batch>) {
    let Some(mut open) = guard.open.take() else {
        return;
    };
    let result = exec(&mut open.conn, "COMMIT").await;
    if result.is_err() {
        let _ = exec(&mut open.conn, "ROLLBACK").await;
    } else {
        inner.commits.fetch_add(1, Ordering::Relaxed);
        inner
            .committed_writes
            .fetch_add(open.members as u64, Ordering::Relaxed);
    }
    open.done.send_replace(Some(result));
}

/// The transaction cannot go on (SQLite may have rolled it back itself, e.g. on a full disk):
/// roll back and tell every member waiting for it, in a task no caller can cancel.
fn fail_batch(guard: &mut OwnedMutexGuard<Batch>, err: StoreError) {
    if let Some(mut open) = guard.open.take() {
        tokio::spawn(async move {
            let _ = exec(&mut open.conn, "ROLLBACK").await;
            open.done.send_replace(Some(Err(err)));
        });
    }
}

async fn release_undone(conn: &mut SqliteConnection) -> StoreResult<()> {
    exec(conn, "ROLLBACK TO member").await?;
    exec(conn, release_sql!()).await
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> StoreResult<()> {
    sqlx::query(sql).execute(conn).await?;
    Ok(())
}

fn lost() -> StoreError {
    StoreError::Internal("the transaction carrying this write ended without an answer".into())
}
