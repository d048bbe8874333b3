//! Background removal of expired rows (memory entries, idempotency keys): batched deletes that
//! yield between batches, run on an interval until shutdown.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::storage::StoreError;

/// Calls `delete(clock.now(), batch)` until it removes fewer than `batch` rows or `stop` is cancelled,
/// yielding between batches so a large backlog never holds a worker. Returns the rows removed.
pub(super) async fn in_batches<F, Fut>(
    clock: &dyn super::Clock,
    batch: u32,
    stop: &CancellationToken,
    delete: F,
) -> Result<u64, StoreError>
where
    F: Fn(DateTime<Utc>, u32) -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    loop {
        let deleted = delete(clock.now(), batch).await?;
        total += deleted;
        if deleted < u64::from(batch) || stop.is_cancelled() {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Runs `sweep` every `interval` until `stop` is cancelled, logging as the `name` sweeper what it
/// removed (`rows`, for example "entries").
pub(super) fn spawn_every<F, Fut>(
    interval: Duration,
    stop: CancellationToken,
    (name, rows): (&'static str, &'static str),
    sweep: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = Result<u64, StoreError>> + Send,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = ticker.tick() => {}
            }
            match sweep(stop.clone()).await {
                Ok(0) => tracing::trace!("{name} sweeper: nothing expired"),
                Ok(removed) => tracing::debug!(removed, "{name} sweeper removed expired {rows}"),
                Err(err) => {
                    tracing::warn!(error = %err, "{name} sweep failed; retrying at the next interval")
                }
            }
        }
    })
}
