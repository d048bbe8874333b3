//! Group commit for `add_message`: posts to one session that arrive while an earlier post to it is
//! being written go in together, as one statement and one commit.
//!
//! Every post to a session takes that session's row lock until its commit (so ids commit in order
//! and `after_id` cursors never skip). Posted one by one, ten agents on a session queue on that lock
//! and each pays a statement, a lock hand-over and a WAL flush. Combined, the queue drains in one
//! round; measured with pgbench on this schema, three messages per statement cost half the
//! database CPU per message of one. Nothing waits to be combined: a post to an idle session is
//! written at once, alone. Correctness never rests on this module: each batch still takes the row
//! lock, so batches from other processes, or from a queue this one dropped, stay in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard, oneshot};

use super::guard::Guard;
use super::writes;
use crate::storage::{InsertOutcome, NewMessage, StoreError, StoreResult};

/// The most messages one statement carries; a longer queue is drained in several rounds.
const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<StoreResult<InsertOutcome>>;

#[derive(Default)]
pub(super) struct Combiner {
    sessions: Mutex<HashMap<String, Arc<SessionQueue>>>,
}

#[derive(Default)]
struct SessionQueue {
    pending: Mutex<Vec<(NewMessage, Reply)>>,
    /// Held by the batch being written; the next post in line writes whatever queued meanwhile.
    writing: Arc<AsyncMutex<()>>,
}

impl Combiner {
    /// Writes `new`, alone or with the posts queued for its session at the same time.
    pub(super) async fn add_message(
        &self,
        pool: &PgPool,
        guard: &Arc<Guard>,
        new: &NewMessage,
    ) -> StoreResult<InsertOutcome> {
        let key = new.session_id.as_str();
        let queue = self.queue(key);
        let (reply, mut answer) = oneshot::channel();
        lock(&queue.pending).push((new.clone(), reply));
        let result = loop {
            let writing = queue.writing.clone().lock_owned().await;
            match answer.try_recv() {
                Ok(result) => break result,
                Err(oneshot::error::TryRecvError::Closed) => break Err(lost()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch: Vec<_> = {
                let mut pending = lock(&queue.pending);
                let take = pending.len().min(MAX_BATCH);
                pending.drain(..take).collect()
            };
            let ours_included = batch.len() < MAX_BATCH;
            // The batch is written by its own task, so a caller that goes away (a client that
            // disconnects) cannot cancel the statement that carries other callers' messages.
            tokio::spawn(write_batch(batch, writing, pool.clone(), guard.clone()));
            if ours_included {
                break answer.await.unwrap_or_else(|_| Err(lost()));
            }
        };
        self.release(key, queue);
        result
    }

    fn queue(&self, session_id: &str) -> Arc<SessionQueue> {
        lock(&self.sessions)
            .entry(session_id.to_owned())
            .or_default()
            .clone()
    }

    /// Drops the session's queue when nobody else holds it, so idle sessions cost no memory.
    fn release(&self, session_id: &str, queue: Arc<SessionQueue>) {
        let mut sessions = lock(&self.sessions);
        // The map's reference and ours: no other post is queued or about to queue.
        if Arc::strong_count(&queue) == 2 && lock(&queue.pending).is_empty() {
            sessions.remove(session_id);
        }
    }
}

async fn write_batch(
    batch: Vec<(NewMessage, Reply)>,
    _writing: OwnedMutexGuard<()>,
    pool: PgPool,
    guard: Arc<Guard>,
) {
    let messages: Vec<&NewMessage> = batch.iter().map(|(m, _)| m).collect();
    let result = match guard.acquire(&pool).await {
        Ok(mut conn) => writes::add_messages(&mut conn, &messages).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(outcomes) => {
            for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(err) => {
            for (_, reply) in batch {
                let _ = reply.send(Err(err.clone()));
            }
        }
    }
}

fn lost() -> StoreError {
    StoreError::Internal("the batch carrying this message ended without an answer".into())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
