//! Pruning: messages past their session's retention rule, closed sessions past their grace
//! period, old audit rows. Run in the background on an interval and by `shared-context-server
//! prune`; every delete is a bounded batch (one short transaction), with a yield between batches.

use chrono::Duration;
use tokio_util::sync::CancellationToken;

use super::Service;
use crate::domain::retention::{MessageRetention, RetentionSettings};
use crate::storage::{PruneRule, SessionList, StoreError};

/// What a prune removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    pub messages: u64,
    pub sessions: u64,
    pub audit_rows: u64,
    /// Sessions whose messages were checked against their rule.
    pub sessions_checked: u64,
    /// Delete statements run (each one short transaction); 0 for a dry run.
    pub batches: u64,
}

/// Called after every batch (and once per counted phase of a dry run) with the phase
/// ("messages", "closed sessions", "audit") and the totals so far, for a progress line.
pub type PruneProgress<'a> = &'a (dyn Fn(&'static str, &PruneReport) + Send + Sync);

/// Sessions read per page while walking them all.
const SESSION_PAGE: u32 = 200;

impl Service {
    pub fn retention_settings(&self) -> &RetentionSettings {
        &self.inner.retention
    }

    /// One pass over everything retention covers. `dry_run` counts what would go and deletes
    /// nothing. Stops early (between batches) when `stop` is cancelled.
    pub async fn prune(
        &self,
        dry_run: bool,
        stop: &CancellationToken,
    ) -> Result<PruneReport, StoreError> {
        self.prune_reporting(dry_run, stop, &|_, _| {}).await
    }

    /// [`Service::prune`], calling `progress` after every batch.
    pub async fn prune_reporting(
        &self,
        dry_run: bool,
        stop: &CancellationToken,
        progress: PruneProgress<'_>,
    ) -> Result<PruneReport, StoreError> {
        let settings = *self.retention_settings();
        let batch = (!dry_run).then_some(settings.batch.max(1));
        let now = self.now();
        let mut report = PruneReport {
            dry_run,
            ..PruneReport::default()
        };
        // Messages, session by session (each may override the server's rule).
        let mut before_seq = None;
        loop {
            let page = self
                .store()
                .list_sessions(&SessionList {
                    active_only: false,
                    limit: SESSION_PAGE,
                    before_seq,
                })
                .await?;
            for session in &page {
                let rule = settings.messages.for_session(&session.metadata);
                if rule.keeps_everything() {
                    continue;
                }
                report.sessions_checked += 1;
                let rule = prune_rule(&session.id, &rule, now);
                let tally = Tally::new("messages", progress);
                self.drain(
                    batch,
                    stop,
                    tally,
                    &mut report,
                    |r| &mut r.messages,
                    || self.store().prune_messages(&rule, batch),
                )
                .await?;
                if stop.is_cancelled() {
                    return Ok(report);
                }
            }
            match page.last() {
                Some(last) if page.len() == SESSION_PAGE as usize => before_seq = Some(last.seq),
                _ => break,
            }
        }
        if let Some(days) = settings.closed_session_days {
            let cutoff = now - Duration::days(i64::from(days));
            report.sessions += self
                .prune_closed_sessions(cutoff, batch, stop, &mut report, progress)
                .await?;
        }
        if let Some(days) = settings.audit_days {
            let cutoff = now - Duration::days(i64::from(days));
            let tally = Tally::new("audit", progress);
            self.drain(
                batch,
                stop,
                tally,
                &mut report,
                |r| &mut r.audit_rows,
                || self.store().prune_audit(cutoff, batch),
            )
            .await?;
        }
        Ok(report)
    }

    /// Deletes closed sessions last changed before `cutoff`: their messages in batches, then the
    /// session with its memory and counts. Returns the sessions removed (or, dry, that would be).
    async fn prune_closed_sessions(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
        batch: Option<u32>,
        stop: &CancellationToken,
        report: &mut PruneReport,
        progress: PruneProgress<'_>,
    ) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let ids = self.store().closed_sessions(cutoff, SESSION_PAGE).await?;
            let mut progressed = false;
            for id in &ids {
                let everything = PruneRule {
                    session_id: id,
                    before: None,
                    keep_newest: Some(0),
                };
                let tally = Tally::new("closed sessions", progress);
                self.drain(
                    batch,
                    stop,
                    tally,
                    report,
                    |r| &mut r.messages,
                    || self.store().prune_messages(&everything, batch),
                )
                .await?;
                if batch.is_none() {
                    removed += 1;
                } else if self.store().drop_closed_session(id).await? {
                    removed += 1;
                    progressed = true;
                }
                if stop.is_cancelled() {
                    return Ok(removed);
                }
            }
            if batch.is_none() || !progressed || ids.len() < SESSION_PAGE as usize {
                return Ok(removed);
            }
        }
    }

    /// Runs `delete` until a batch comes back short (or once, counting, when `batch` is `None`),
    /// adding what it removed to the report's `field` and reporting each batch.
    async fn drain<F, Fut>(
        &self,
        batch: Option<u32>,
        stop: &CancellationToken,
        tally: Tally<'_>,
        report: &mut PruneReport,
        field: fn(&mut PruneReport) -> &mut u64,
        delete: F,
    ) -> Result<(), StoreError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<u64, StoreError>>,
    {
        let Some(size) = batch else {
            *field(report) += delete().await?;
            (tally.progress)(tally.phase, report);
            return Ok(());
        };
        loop {
            let n = delete().await?;
            *field(report) += n;
            report.batches += 1;
            (tally.progress)(tally.phase, report);
            if n < u64::from(size) || stop.is_cancelled() {
                return Ok(());
            }
            tokio::task::yield_now().await;
        }
    }

    /// Starts the background pruner (when an interval is set); it ends when `stop` is cancelled.
    pub fn spawn_pruner(&self, stop: CancellationToken) -> Option<tokio::task::JoinHandle<()>> {
        let interval = self.retention_settings().interval?;
        let service = self.clone();
        Some(super::sweep::spawn_every(
            interval,
            stop,
            ("retention", "rows"),
            move |stop| {
                let service = service.clone();
                async move {
                    let r = service.prune(false, &stop).await?;
                    Ok(r.messages + r.sessions + r.audit_rows)
                }
            },
        ))
    }
}

/// The phase a drain reports under.
struct Tally<'a> {
    phase: &'static str,
    progress: PruneProgress<'a>,
}

impl<'a> Tally<'a> {
    fn new(phase: &'static str, progress: PruneProgress<'a>) -> Self {
        Self { phase, progress }
    }
}

/// The storage rule for a session's retention at `now`.
fn prune_rule<'a>(
    session_id: &'a str,
    rule: &MessageRetention,
    now: chrono::DateTime<chrono::Utc>,
) -> PruneRule<'a> {
    PruneRule {
        session_id,
        before: rule
            .max_age_days
            .map(|d| now - Duration::days(i64::from(d))),
        keep_newest: rule.max_messages,
    }
}
