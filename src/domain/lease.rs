//! Leases as rules: what a request may claim (resources, mode, TTL), which held leases it
//! conflicts with, and the lease id. No I/O; storage runs [`conflicts`] inside the transaction
//! that grants, so the decision and the grant see the same rows.
//!
//! Scope: a lease without `session_id` is global; one with a session lives in that session.
//! A request conflicts with the live leases of its own scope and with every global lease; a global
//! request conflicts with every live lease. So a session isolates its leases from other
//! sessions' (two projects on one server), while a global lease protects against everyone.
//! An agent's own leases never conflict with its new request (it already holds them).

use chrono::{DateTime, Utc};

use super::error::{DomainError, ErrorCode};
use super::glob::Glob;

/// At most this many resources per lease.
pub const MAX_RESOURCES: usize = 50;
/// The TTL when the request gives none (capped by the configured maximum).
pub const DEFAULT_TTL_SECONDS: u32 = 300;
/// The default of `MAX_LEASE_TTL_SECONDS`.
pub const DEFAULT_MAX_TTL_SECONDS: u32 = 3600;
/// The longest a reason may be, in characters.
pub const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaseMode {
    Exclusive,
    Shared,
}

impl LeaseMode {
    pub fn parse(raw: Option<&str>) -> Result<Self, DomainError> {
        match raw.map(str::trim) {
            None | Some("exclusive") => Ok(Self::Exclusive),
            Some("shared") => Ok(Self::Shared),
            Some(other) => Err(
                DomainError::invalid(format!("mode '{other}' is not a lease mode")).suggest(
                    "use \"exclusive\" (the default; one holder) or \"shared\" (many readers)",
                ),
            ),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Exclusive => "exclusive",
            Self::Shared => "shared",
        }
    }

    /// Shared leases conflict only with exclusive ones.
    pub fn conflicts_with(self, other: Self) -> bool {
        self == Self::Exclusive || other == Self::Exclusive
    }

    pub fn from_stored(raw: &str) -> Self {
        if raw == "shared" {
            Self::Shared
        } else {
            Self::Exclusive
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Grant nothing and report the conflicts (`LEASE_CONFLICT`).
    Deny,
    /// Grant anyway and list the conflicts in the result.
    Warn,
}

impl OnConflict {
    pub fn parse(raw: Option<&str>) -> Result<Self, DomainError> {
        match raw.map(str::trim) {
            None | Some("deny") => Ok(Self::Deny),
            Some("warn") => Ok(Self::Warn),
            Some(other) => Err(DomainError::invalid(format!(
                "on_conflict '{other}' is not one of deny, warn"
            ))
            .suggest("use \"deny\" (the default: grant nothing on a conflict) or \"warn\"")),
        }
    }
}

/// `ttl_seconds`: 1 to `max` (`MAX_LEASE_TTL_SECONDS`), default [`DEFAULT_TTL_SECONDS`].
pub fn parse_ttl(raw: Option<i64>, max: u32) -> Result<u32, DomainError> {
    let Some(seconds) = raw else {
        return Ok(DEFAULT_TTL_SECONDS.min(max));
    };
    u32::try_from(seconds)
        .ok()
        .filter(|s| (1..=max).contains(s))
        .ok_or_else(|| {
            DomainError::new(
                ErrorCode::InvalidTtlValue,
                format!("ttl_seconds must be 1 to {max} (MAX_LEASE_TTL_SECONDS); got {seconds}"),
            )
            .suggest("renew before it runs out: acquire_lease with your lease_id")
        })
}

/// 1-50 resources, each a valid glob or name; duplicates dropped, order kept.
pub fn parse_resources(raw: &[String]) -> Result<Vec<Glob>, DomainError> {
    if raw.is_empty() || raw.len() > MAX_RESOURCES {
        return Err(DomainError::invalid(format!(
            "resources must list 1 to {MAX_RESOURCES} paths or names; got {}",
            raw.len()
        ))
        .suggest("claim a directory with one glob (src/db/**) rather than each file"));
    }
    let mut out: Vec<Glob> = Vec::with_capacity(raw.len());
    for r in raw {
        let glob = Glob::parse(r)?;
        if !out.iter().any(|g| g.as_str() == glob.as_str()) {
            out.push(glob);
        }
    }
    Ok(out)
}

/// An optional reason, trimmed; at most [`MAX_REASON_CHARS`].
pub fn parse_reason(raw: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(reason) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if reason.chars().count() > MAX_REASON_CHARS || reason.contains('\0') {
        return Err(DomainError::invalid(format!(
            "reason must be at most {MAX_REASON_CHARS} characters of text"
        ))
        .suggest("say in a sentence what you are changing"));
    }
    Ok(Some(reason.to_owned()))
}

/// A lease id: `lease_` and 16 lowercase hex digits.
pub fn parse_lease_id(raw: &str) -> Result<String, DomainError> {
    let raw = raw.trim();
    let valid = raw.strip_prefix("lease_").is_some_and(|hex| {
        hex.len() == 16
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(DomainError::invalid(format!(
            "'{}' is not a lease id; ids look like lease_0123456789abcdef",
            raw.chars().take(40).collect::<String>()
        ))
        .suggest("pass the lease_id that acquire_lease returned"))
    }
}

pub fn generate_lease_id() -> String {
    format!("lease_{}", crate::util::hex(&rand::random::<[u8; 8]>()))
}

/// A live lease as the conflict check sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldLease {
    pub lease_id: String,
    pub holder: String,
    pub mode: LeaseMode,
    pub resources: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

/// One overlap between a requested resource and a held lease.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Conflict {
    /// The requested resource.
    pub resource: String,
    /// The held lease's resource it overlaps.
    pub held_resource: String,
    pub held_by: String,
    pub lease_id: String,
    pub expires_at: DateTime<Utc>,
}

/// The conflicts of a request by `holder` for `wanted` in `mode` with `held` (live leases of the
/// request's scope, see the module docs): each requested resource against each overlapping
/// resource of another holder's lease whose mode conflicts. `except` (a renewal) is skipped.
pub fn conflicts(
    holder: &str,
    wanted: &[Glob],
    mode: LeaseMode,
    held: &[HeldLease],
    except: Option<&str>,
) -> Vec<Conflict> {
    let mut out = Vec::new();
    for lease in held {
        if lease.holder == holder
            || except == Some(lease.lease_id.as_str())
            || !mode.conflicts_with(lease.mode)
        {
            continue;
        }
        for theirs in &lease.resources {
            // Stored resources were validated when granted; one that no longer parses (an
            // import from a looser build) is compared as the literal it is.
            let theirs_glob = Glob::parse(theirs).ok();
            for mine in wanted {
                let hit = match &theirs_glob {
                    Some(g) => g.overlaps(mine),
                    None => mine.as_str() == theirs,
                };
                if hit {
                    out.push(Conflict {
                        resource: mine.as_str().to_owned(),
                        held_resource: theirs.clone(),
                        held_by: lease.holder.clone(),
                        lease_id: lease.lease_id.clone(),
                        expires_at: lease.expires_at,
                    });
                }
            }
        }
    }
    out
}

/// Whether any of `wanted` overlaps any of `resources` (for `check_leases`).
pub fn overlaps_any(wanted: &[Glob], resources: &[String]) -> bool {
    resources.iter().any(|r| match Glob::parse(r) {
        Ok(g) => wanted.iter().any(|w| w.overlaps(&g)),
        Err(_) => wanted.iter().any(|w| w.as_str() == r),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(id: &str, holder: &str, mode: LeaseMode, resources: &[&str]) -> HeldLease {
        HeldLease {
            lease_id: id.into(),
            holder: holder.into(),
            mode,
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
            expires_at: DateTime::<Utc>::MIN_UTC,
        }
    }

    fn want(r: &[&str]) -> Vec<Glob> {
        parse_resources(&r.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn shared_conflicts_only_with_exclusive() {
        use LeaseMode::*;
        let leases = [held("l1", "bob", Shared, &["docs/**"])];
        assert!(conflicts("amy", &want(&["docs/a.md"]), Shared, &leases, None).is_empty());
        let c = conflicts("amy", &want(&["docs/a.md"]), Exclusive, &leases, None);
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].resource.as_str(), c[0].held_by.as_str()),
            ("docs/a.md", "bob")
        );
    }

    #[test]
    fn own_and_renewed_leases_do_not_conflict() {
        let leases = [held("l1", "amy", LeaseMode::Exclusive, &["src/**"])];
        assert!(
            conflicts(
                "amy",
                &want(&["src/a.rs"]),
                LeaseMode::Exclusive,
                &leases,
                None
            )
            .is_empty()
        );
        assert!(
            conflicts(
                "bob",
                &want(&["src/a.rs"]),
                LeaseMode::Exclusive,
                &leases,
                Some("l1")
            )
            .is_empty()
        );
    }

    #[test]
    fn inputs() {
        assert_eq!(parse_ttl(None, 3600).unwrap(), 300);
        assert_eq!(parse_ttl(None, 60).unwrap(), 60);
        assert_eq!(parse_ttl(Some(3600), 3600).unwrap(), 3600);
        for bad in [0, -1, 3601, i64::MAX] {
            assert_eq!(
                parse_ttl(Some(bad), 3600).unwrap_err().code,
                ErrorCode::InvalidTtlValue
            );
        }
        assert!(parse_resources(&[]).is_err());
        assert!(parse_resources(&vec!["a".to_owned(); 51]).is_err());
        assert_eq!(want(&["a", "a", "b"]).len(), 2);
        assert!(LeaseMode::parse(Some("EXCLUSIVE")).is_err());
        assert!(OnConflict::parse(Some("ignore")).is_err());
        assert!(parse_lease_id(&generate_lease_id()).is_ok());
        assert!(parse_lease_id("lease_xyz").is_err());
        assert_eq!(parse_reason(Some("  ")).unwrap(), None);
        assert!(parse_reason(Some(&"x".repeat(501))).is_err());
    }
}
