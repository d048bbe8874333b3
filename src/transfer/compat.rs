//! What a dump of an older format version lacks, and what the import does about each gap: refuse
//! (a version 1 dump that would turn direct messages into private notes), or warn (coordination
//! rows or id counters its source may have had), or refuse a version 4 end line without counters.

use super::format::{Header, IdCounters};

/// The first migration with direct messages, per source backend.
fn direct_messages_since(backend: &str) -> i64 {
    if backend == "sqlite" { 6 } else { 8 }
}

/// Why importing this dump would lose direct-message recipients, if it would: a version 1 dump
/// of a database that had direct messages carries their rows but not who they were addressed
/// to, so each would arrive as a private note of its sender (its recipients lose it; nobody
/// else gains it).
pub fn lost_recipients(header: &Header) -> Option<String> {
    (header.version < 2 && header.schema_version >= direct_messages_since(&header.source_backend))
        .then(|| {
            format!(
                "the dump has format version {}, written by a server that left out direct-message recipients, \
                 receipts and the agent registry: its direct messages would arrive as private notes of their \
                 senders. Export the source again with this version; if the source is gone, import with \
                 --accept-lost-recipients",
                header.version
            )
        })
}

/// The first migration with leases, tasks and shared memory, per source backend.
fn coordination_since(backend: &str) -> i64 {
    if backend == "sqlite" { 8 } else { 11 }
}

/// What a dump older than version 3 leaves behind, if its source may have had it: such a dump has
/// no leases, tasks or shared memory, so those arrive empty (the import goes ahead; every lease of
/// the source would have expired by now or soon, but tasks and shared memory are lost).
pub fn lost_coordination(header: &Header) -> Option<String> {
    (header.version < 3 && header.schema_version >= coordination_since(&header.source_backend))
        .then(|| {
            format!(
                "the dump has format version {}, written by a server that left out leases, tasks and shared \
                 session memory: they arrive empty. Export the source again with this version to carry them",
                header.version
            )
        })
}

/// The first migration with pruning (which deletes messages, closed sessions and their tasks);
/// leases, released by deleting their row, come later on both backends.
fn deletes_since(backend: &str) -> i64 {
    if backend == "sqlite" { 7 } else { 9 }
}

/// Why a dump older than version 4 may let the target hand out a fencing token or id again, if
/// its source could have deleted rows: such a dump has no id counters, so the target's counters
/// continue after the largest key in the dump, which is below what the source granted when the
/// newest lease was released or the newest rows were pruned before the export.
pub fn lost_counters(header: &Header) -> Option<String> {
    (header.version < 4 && header.schema_version >= deletes_since(&header.source_backend))
        .then(|| {
            format!(
                "the dump has format version {}, written by a server that left out the id counters: new fencing \
                 tokens, task ids and message ids continue after the largest in the dump, so a token or id the \
                 source granted to a lease released (or a row pruned) before the export may be granted again. \
                 Export the source again with this version to carry the counters",
                header.version
            )
        })
}

/// Why the end line lacks what its version promises, if it does.
pub fn missing_counters(header: &Header, counters: Option<&IdCounters>) -> Option<String> {
    (header.version >= 4 && counters.is_none()).then(|| {
        format!(
            "the end line has no \"counters\", which a version {} dump carries; the dump is damaged",
            header.version
        )
    })
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::super::format::FORMAT;
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A dump header of this format version from that source.
    fn header(version: u32, source_backend: &str, schema_version: i64) -> Header {
        Header {
            format: FORMAT.into(),
            version,
            exported_at: at("2026-01-01T00:00:00Z"),
            source_backend: source_backend.into(),
            schema_version,
        }
    }

    #[test]
    fn dumps_before_version_4_of_sources_that_deleted_rows_warn_of_repeated_tokens() {
        assert_eq!(lost_counters(&header(3, "sqlite", 6)), None);
        assert_eq!(lost_counters(&header(2, "postgresql", 8)), None);
        let lost = lost_counters(&header(3, "sqlite", 7)).unwrap();
        assert!(
            lost.contains("fencing") && lost.contains("granted again"),
            "{lost}"
        );
        assert!(lost_counters(&header(1, "postgresql", 9)).is_some());
        assert_eq!(lost_counters(&header(4, "postgresql", 16)), None);
    }

    #[test]
    fn version_1_dumps_of_sources_with_direct_messages_are_lossy() {
        assert_eq!(lost_recipients(&header(1, "sqlite", 5)), None);
        assert_eq!(lost_recipients(&header(1, "postgresql", 7)), None);
        let lossy = lost_recipients(&header(1, "sqlite", 6)).unwrap();
        assert!(lossy.contains("--accept-lost-recipients"), "{lossy}");
        assert!(lost_recipients(&header(1, "postgresql", 8)).is_some());
        assert_eq!(lost_recipients(&header(2, "sqlite", 7)), None);
    }

    #[test]
    fn dumps_before_version_3_of_sources_with_coordination_tables_say_so() {
        assert_eq!(lost_coordination(&header(2, "sqlite", 7)), None);
        assert_eq!(lost_coordination(&header(2, "postgresql", 10)), None);
        let lost = lost_coordination(&header(2, "sqlite", 8)).unwrap();
        assert!(lost.contains("leases, tasks and shared"), "{lost}");
        assert!(lost_coordination(&header(1, "postgresql", 11)).is_some());
        assert_eq!(lost_coordination(&header(3, "postgresql", 14)), None);
    }

    #[test]
    fn a_version_4_end_line_must_carry_the_counters() {
        let counters = IdCounters::default();
        let header = |version| header(version, "sqlite", 13);
        assert!(
            missing_counters(&header(4), None)
                .unwrap()
                .contains("damaged")
        );
        assert_eq!(missing_counters(&header(4), Some(&counters)), None);
        assert_eq!(missing_counters(&header(3), None), None);
    }
}
