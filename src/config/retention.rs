//! Retention settings from RETENTION_* and the config file's retention_* keys.

use std::time::Duration;

use anyhow::bail;

use super::Sources;

/// RETENTION_* (or the config file's retention_* keys): all off by default, so nothing is pruned
/// unless asked for.
pub(super) fn settings(
    src: &Sources,
) -> anyhow::Result<crate::domain::retention::RetentionSettings> {
    use crate::domain::retention::{MessageRetention, RetentionSettings};
    let bounded = |key: &str, max: u64| -> anyhow::Result<Option<u64>> {
        match src.get::<u64>(key)? {
            Some(n) if n == 0 || n > max => {
                let name = super::settings::setting(key).env_name();
                bail!(
                    "{name} must be between 1 and {max} (leave it unset to keep forever); got {n}"
                )
            }
            other => Ok(other),
        }
    };
    let days =
        |key: &str| -> anyhow::Result<Option<u32>> { Ok(bounded(key, 36_500)?.map(|d| d as u32)) };
    let interval: u64 = src.value("retention_interval_seconds")?;
    if interval > 86_400 {
        bail!(
            "RETENTION_INTERVAL_SECONDS must be between 1 and 86400, or 0 to prune only with `prune`; got {interval}"
        );
    }
    let batch = bounded("retention_batch", 10_000)?.unwrap_or(1) as u32;
    Ok(RetentionSettings {
        messages: MessageRetention {
            max_age_days: days("retention_message_max_age_days")?,
            max_messages: bounded("retention_message_max_count", u64::MAX)?,
        },
        closed_session_days: days("retention_closed_session_days")?,
        audit_days: days("retention_audit_days")?,
        interval: (interval > 0).then(|| Duration::from_secs(interval)),
        batch,
    })
}
