//! Shared session memory (the blackboard): versions and compare-and-set. Keys and values follow
//! the private memory's rules (`memory.rs`); this adds what a shared entry has on top.

use serde_json::Value;

use super::{DomainError, ErrorCode};

/// `expected_version`: absent (write whatever is there), 0 (only if absent), or the version the
/// caller read.
pub fn expected_version(raw: Option<i64>) -> Result<Option<i64>, DomainError> {
    match raw {
        Some(v) if v < 0 => Err(DomainError::invalid(format!(
            "expected_version must be 0 (only if absent) or a version you read; got {v}"
        ))),
        other => Ok(other),
    }
}

/// `VERSION_CONFLICT`, with what is stored now (version 0 and a null value when absent), so the
/// caller can merge and retry without another read.
pub fn version_conflict(
    key: &str,
    expected: i64,
    current_version: i64,
    current_value: Value,
) -> DomainError {
    let now = if current_version == 0 {
        "it does not exist".to_owned()
    } else {
        format!("it is at version {current_version}")
    };
    DomainError::new(
        ErrorCode::VersionConflict,
        format!("shared key '{key}' was expected at version {expected}, but {now}"),
    )
    .detail("current_version", current_version)
    .detail("current_value", current_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_version_is_absent_zero_or_positive() {
        assert_eq!(expected_version(None).unwrap(), None);
        assert_eq!(expected_version(Some(0)).unwrap(), Some(0));
        assert_eq!(expected_version(Some(4)).unwrap(), Some(4));
        assert!(expected_version(Some(-1)).is_err());
    }

    #[test]
    fn a_conflict_carries_the_current_entry() {
        let err = version_conflict("plan", 2, 3, serde_json::json!({"n": 1}));
        assert_eq!(err.code, ErrorCode::VersionConflict);
        assert_eq!(err.details["current_version"], 3);
        assert_eq!(err.details["current_value"]["n"], 1);
    }
}
