//! Who is calling: agent ids and types, permissions, and the agent-type permission table.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use super::error::{DomainError, ErrorCode};

/// An agent's self-chosen id, as carried by its token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentId(String);

impl AgentId {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(DomainError::invalid("agent_id must not be empty"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::invalid(format!(
                "agent_id is longer than {} characters",
                Self::MAX_CHARS
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "agent_id must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// For values read back from our own storage, which were validated on the way in.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kind of agent (`claude`, `gemini`, `generic`, …). Compared case-insensitively, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentType(String);

impl AgentType {
    pub const MAX_CHARS: usize = 50;
    /// The sender type of messages people post from the dashboard. Reserved: no agent token is
    /// issued with it, so readers can trust that a `human` message came from a person.
    pub const HUMAN: &'static str = "human";

    pub fn human() -> Self {
        Self(Self::HUMAN.to_owned())
    }

    pub fn is_human(&self) -> bool {
        self.0 == Self::HUMAN
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let normalised = raw.trim().to_lowercase();
        if normalised.is_empty() {
            return Err(DomainError::invalid("agent_type must not be empty"));
        }
        if normalised.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::invalid(format!(
                "agent_type is longer than {} characters",
                Self::MAX_CHARS
            )));
        }
        if !normalised
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(DomainError::invalid(
                "agent_type may contain only letters, digits, '_', '-' and '.' (for example \"claude\")",
            ));
        }
        Ok(Self(normalised))
    }

    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    Read,
    Write,
    Admin,
    Debug,
}

impl Permission {
    pub const ALL: [Permission; 4] = [Self::Read, Self::Write, Self::Admin, Self::Debug];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
            Self::Debug => "debug",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw.trim().to_lowercase().as_str() {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            "admin" => Ok(Self::Admin),
            "debug" => Ok(Self::Debug),
            other => Err(DomainError::new(
                ErrorCode::InvalidInput,
                format!("unknown permission '{other}'; use read, write, admin or debug"),
            )),
        }
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of permissions, small enough to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Permissions(u8);

impl Permissions {
    pub const READ_ONLY: Permissions = Permissions(Permission::Read.bit());

    pub fn of(perms: &[Permission]) -> Self {
        Self(perms.iter().fold(0, |acc, p| acc | p.bit()))
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn with(self, p: Permission) -> Self {
        Self(self.0 | p.bit())
    }

    pub fn without(self, p: Permission) -> Self {
        Self(self.0 & !p.bit())
    }

    pub fn intersect(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::as_str).collect()
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(", "))
    }
}

/// Which permissions each agent type may hold. Defaults follow the Python server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionTable {
    by_type: BTreeMap<String, Permissions>,
    default: Permissions,
}

impl Default for PermissionTable {
    fn default() -> Self {
        use Permission::*;
        let rw = Permissions::of(&[Read, Write]);
        let all = Permissions::of(&[Read, Write, Admin, Debug]);
        let by_type = [
            ("claude", rw),
            ("gemini", rw),
            ("codex", rw),
            ("cursor", rw),
            ("admin", all),
            ("system", all),
            ("test", Permissions::of(&[Read, Write, Debug])),
            ("generic", Permissions::READ_ONLY),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Self {
            by_type,
            default: Permissions::READ_ONLY,
        }
    }
}

impl PermissionTable {
    /// Adds or replaces the permissions of agent types (from the config file).
    pub fn with_overrides(
        mut self,
        overrides: &BTreeMap<String, Vec<String>>,
    ) -> Result<Self, DomainError> {
        for (agent_type, names) in overrides {
            let agent_type = AgentType::parse(agent_type)?;
            let perms = names
                .iter()
                .map(|n| Permission::parse(n))
                .collect::<Result<Vec<_>, _>>()?;
            self.by_type.insert(agent_type.0, Permissions::of(&perms));
        }
        Ok(self)
    }

    pub fn for_type(&self, agent_type: &AgentType) -> Permissions {
        self.by_type
            .get(agent_type.as_str())
            .copied()
            .unwrap_or(self.default)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, Permissions)> {
        self.by_type.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// What a new token gets: the requested permissions the type allows, or the default set when
    /// none remain. `admin` additionally needs the admin key, which the caller checks.
    pub fn grant(&self, agent_type: &AgentType, requested: Permissions) -> Permissions {
        let granted = requested.intersect(self.for_type(agent_type));
        if granted.is_empty() {
            self.default
        } else {
            granted.with(Permission::Read)
        }
    }
}

/// The resolved caller of a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A token-holding agent.
    Agent {
        agent_id: AgentId,
        agent_type: AgentType,
        permissions: Permissions,
        expires_at: DateTime<Utc>,
    },
    /// No token: read-only, public messages only.
    Anonymous,
}

impl Identity {
    pub fn permissions(&self) -> Permissions {
        match self {
            Self::Agent { permissions, .. } => *permissions,
            Self::Anonymous => Permissions::READ_ONLY,
        }
    }

    pub fn require(&self, needed: Permission) -> Result<(), DomainError> {
        let held = self.permissions();
        if held.contains(needed) {
            return Ok(());
        }
        if matches!(self, Self::Anonymous) {
            return Err(DomainError::new(
                ErrorCode::PermissionDenied,
                format!("this call needs the '{needed}' permission, and calls without auth_token may only read public messages"),
            )
            .suggest("call authenticate_agent first and pass its token as auth_token"));
        }
        Err(DomainError::permission_denied(needed, &held))
    }

    pub fn agent_id(&self) -> Option<&AgentId> {
        match self {
            Self::Agent { agent_id, .. } => Some(agent_id),
            Self::Anonymous => None,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.permissions().contains(Permission::Admin)
    }

    /// Name recorded in the audit log.
    pub fn audit_name(&self) -> &str {
        self.agent_id().map_or("anonymous", AgentId::as_str)
    }
}

/// The refusal of a call that needs a permission the caller's token lacks. It lives here, not in
/// `error.rs`, so that the error type needs nothing from identity (no cycle between the two).
impl DomainError {
    pub fn permission_denied(needed: Permission, held: &Permissions) -> Self {
        Self::new(
            ErrorCode::PermissionDenied,
            format!("this call needs the '{needed}' permission; your token has [{held}]"),
        )
        .suggest(match needed {
            Permission::Admin => "authenticate_agent with the admin API key (ADMIN_API_KEY) and requested_permissions including \"admin\"",
            _ => "call authenticate_agent with requested_permissions including this permission and pass the new auth_token",
        })
    }
}

#[cfg(test)]
#[path = "identity_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_intersects_with_type_and_falls_back_to_read() {
        let table = PermissionTable::default();
        let claude = AgentType::parse("Claude").unwrap();
        let asked = Permissions::of(&[Permission::Read, Permission::Write, Permission::Admin]);
        assert_eq!(
            table.grant(&claude, asked),
            Permissions::of(&[Permission::Read, Permission::Write])
        );
        let generic = AgentType::parse("generic").unwrap();
        assert_eq!(
            table.grant(&generic, Permissions::of(&[Permission::Write])),
            Permissions::READ_ONLY
        );
        let unknown = AgentType::parse("mystery").unwrap();
        assert_eq!(table.for_type(&unknown), Permissions::READ_ONLY);
    }

    #[test]
    fn agent_type_is_normalised_and_checked() {
        assert_eq!(AgentType::parse(" Gemini ").unwrap().as_str(), "gemini");
        assert!(AgentType::parse("a b").is_err());
        assert!(AgentType::parse("").is_err());
    }

    #[test]
    fn agent_id_rejects_blank_long_and_control() {
        assert!(AgentId::parse("  ").is_err());
        assert!(AgentId::parse(&"x".repeat(101)).is_err());
        assert!(AgentId::parse("a\u{0}b").is_err());
        assert_eq!(AgentId::parse(" alice ").unwrap().as_str(), "alice");
    }
}
