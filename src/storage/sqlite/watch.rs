//! Cross-process change feed on SQLite: `PRAGMA data_version` on a dedicated connection changes
//! when any other connection (another process included) commits; then the new message rows are
//! read by id and published.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions as _, Connection as _};
use tokio_util::sync::CancellationToken;

use crate::domain::Visibility;
use crate::realtime::{Event, Notifier};

const POLL: Duration = Duration::from_millis(50);
const BATCH: i64 = 1000;

pub(super) async fn watch(
    options: SqliteConnectOptions,
    notifier: Notifier,
    stop: CancellationToken,
) {
    let mut conn: Option<SqliteConnection> = None;
    let mut version: Option<i64> = None;
    let mut last_id: Option<i64> = None;
    loop {
        if let Err(err) = step(&mut conn, &options, &mut version, &mut last_id, &notifier).await {
            tracing::debug!(%err, "change check failed; reopening");
            conn = None;
        }
        tokio::select! {
            () = stop.cancelled() => {
                if let Some(c) = conn.take() { let _ = c.close().await; }
                return;
            }
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn step(
    conn: &mut Option<SqliteConnection>,
    options: &SqliteConnectOptions,
    version: &mut Option<i64>,
    last_id: &mut Option<i64>,
    notifier: &Notifier,
) -> Result<(), sqlx::Error> {
    if conn.is_none() {
        *conn = Some(options.connect().await?);
    }
    let c = conn.as_mut().expect("connected above");
    let (now,): (i64,) = sqlx::query_as("PRAGMA data_version")
        .fetch_one(&mut *c)
        .await?;
    if *version == Some(now) {
        return Ok(());
    }
    *version = Some(now);
    let Some(from) = *last_id else {
        let (max,): (Option<i64>,) = sqlx::query_as("SELECT max(id) FROM messages")
            .fetch_one(&mut *c)
            .await?;
        *last_id = Some(max.unwrap_or(0));
        return Ok(());
    };
    let mut from = from;
    loop {
        // Recipients joined by the unit separator, which agent ids cannot contain.
        let rows: Vec<(i64, String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT m.id, m.session_id, m.visibility, m.sender, m.sender_type, \
             (SELECT group_concat(r.agent_id, char(31)) FROM message_recipients r WHERE r.message_id = m.id) \
             FROM messages m WHERE m.id > $1 ORDER BY m.id LIMIT +$2",
        )
        .bind(from)
        .bind(BATCH)
        .fetch_all(&mut *c)
        .await?;
        let n = rows.len() as i64;
        for (id, session_id, visibility, sender, sender_type, to) in rows {
            from = id;
            if let Ok(visibility) = Visibility::parse(&visibility) {
                notifier.publish(Event::Message {
                    session_id,
                    id,
                    visibility,
                    sender,
                    sender_type,
                    to: to
                        .map(|t| t.split('\u{1f}').map(str::to_owned).collect())
                        .unwrap_or_default(),
                });
            }
        }
        if n < BATCH {
            break;
        }
    }
    *last_id = Some(from);
    Ok(())
}
