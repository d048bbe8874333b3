//! Retention settings from RETENTION_* and the config file's retention_* keys.

use std::time::Duration;

use anyhow::bail;

use super::FileConfig;
use super::env::env_parse;

/// RETENTION_* (or the config file's retention_* keys): all off by default, so nothing is pruned
/// unless asked for.
pub(super) fn settings(
    file: &FileConfig,
) -> anyhow::Result<crate::domain::retention::RetentionSettings> {
    use crate::domain::retention::{MessageRetention, RetentionSettings};
    let positive = |name: &str, v: Option<u64>, max: u64| -> anyhow::Result<Option<u64>> {
        match v {
            Some(n) if n == 0 || n > max => {
                bail!(
                    "{name} must be between 1 and {max} (leave it unset to keep forever); got {n}"
                )
            }
            other => Ok(other),
        }
    };
    let days = |name: &str, file_value: Option<u32>| -> anyhow::Result<Option<u32>> {
        let v = env_parse::<u64>(name)?.or(file_value.map(u64::from));
        Ok(positive(name, v, 36_500)?.map(|d| d as u32))
    };
    let defaults = RetentionSettings::default();
    let interval = env_parse::<u64>("RETENTION_INTERVAL_SECONDS")?
        .or(file.retention_interval_seconds)
        .unwrap_or(defaults.interval.map_or(0, |d| d.as_secs()));
    if interval > 86_400 {
        bail!(
            "RETENTION_INTERVAL_SECONDS must be between 1 and 86400, or 0 to prune only with `prune`; got {interval}"
        );
    }
    let batch = env_parse::<u64>("RETENTION_BATCH")?
        .or(file.retention_batch.map(u64::from))
        .unwrap_or(u64::from(defaults.batch));
    let batch = positive("RETENTION_BATCH", Some(batch), 10_000)?.unwrap_or(1) as u32;
    Ok(RetentionSettings {
        messages: MessageRetention {
            max_age_days: days(
                "RETENTION_MESSAGE_MAX_AGE_DAYS",
                file.retention_message_max_age_days,
            )?,
            max_messages: positive(
                "RETENTION_MESSAGE_MAX_COUNT",
                env_parse::<u64>("RETENTION_MESSAGE_MAX_COUNT")?
                    .or(file.retention_message_max_count),
                u64::MAX,
            )?,
        },
        closed_session_days: days(
            "RETENTION_CLOSED_SESSION_DAYS",
            file.retention_closed_session_days,
        )?,
        audit_days: days("RETENTION_AUDIT_DAYS", file.retention_audit_days)?,
        interval: (interval > 0).then(|| Duration::from_secs(interval)),
        batch,
    })
}
