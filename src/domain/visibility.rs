//! The visibility rule: which reader may read which message. Storage renders the same rule as SQL
//! (`storage::visibility`); the contract tests check the two agree on every combination.

use std::fmt;

use super::error::{DomainError, ErrorCode};
use super::identity::{Identity, Permission};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Everyone with read access.
    Public,
    /// Only its sender (and admins).
    Private,
    /// Agents whose agent_type equals the sender's (and admins).
    AgentOnly,
    /// Admins only; writing one needs `admin`.
    AdminOnly,
}

impl Visibility {
    pub const ALL: [Visibility; 4] = [
        Self::Public,
        Self::Private,
        Self::AgentOnly,
        Self::AdminOnly,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::AgentOnly => "agent_only",
            Self::AdminOnly => "admin_only",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw.trim() {
            "public" => Ok(Self::Public),
            "private" => Ok(Self::Private),
            "agent_only" => Ok(Self::AgentOnly),
            "admin_only" => Ok(Self::AdminOnly),
            DIRECT => Err(DomainError::new(
                ErrorCode::InvalidVisibility,
                "'direct' is what a message with recipients reports, not a visibility to filter by",
            )
            .suggest("read the direct messages addressed to you with get_inbox")),
            other => Err(DomainError::new(
                ErrorCode::InvalidVisibility,
                format!(
                    "unknown visibility '{other}'; use public, private, agent_only or admin_only"
                ),
            )),
        }
    }

    /// The permission needed to write a message with this visibility.
    pub fn write_permission(self) -> Permission {
        match self {
            Self::AdminOnly => Permission::Admin,
            _ => Permission::Write,
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a direct message (one with recipients) reports as its `visibility`. It is stored as
/// `private` (readable by its sender and admins) plus its recipients; reads say `direct` so an
/// agent can tell a message to it from a private note, and the four Python-compatible values keep
/// their meaning for every other message.
pub const DIRECT: &str = "direct";

/// The `visibility` a read reports for a message stored with `visibility` and, when
/// `has_recipients`, recipients.
pub fn shown(visibility: Visibility, has_recipients: bool) -> &'static str {
    if has_recipients {
        DIRECT
    } else {
        visibility.as_str()
    }
}

/// `visibility_filter` of `get_messages`: narrows what the reader may read, never widens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VisibilityFilter(pub Option<Visibility>);

impl VisibilityFilter {
    /// `None` and `""` mean "no filter"; anything else must be a visibility (the Python server
    /// treated unknown values as "no filter at all", which leaked every message).
    pub fn parse(raw: Option<&str>) -> Result<Self, DomainError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(Self(None)),
            Some(v) => Visibility::parse(v).map(|v| Self(Some(v))),
        }
    }
}

/// The reading side of the rule, derived once from the caller's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    Admin,
    Agent {
        agent_id: String,
        agent_type: String,
    },
    PublicOnly,
}

impl Reader {
    pub fn of(identity: &Identity) -> Self {
        match identity {
            Identity::Agent { permissions, .. } if permissions.contains(Permission::Admin) => {
                Self::Admin
            }
            Identity::Agent {
                agent_id,
                agent_type,
                ..
            } => Self::Agent {
                agent_id: agent_id.as_str().to_owned(),
                agent_type: agent_type.as_str().to_owned(),
            },
            Identity::Anonymous => Self::PublicOnly,
        }
    }

    /// The rule itself, for code paths that hold a message in memory (notifications, tests).
    /// `to` lists a direct message's recipients (a direct message is private): they may read it.
    pub fn may_read(
        &self,
        visibility: Visibility,
        sender: &str,
        sender_type: &str,
        to: &[String],
    ) -> bool {
        match (self, visibility) {
            (Self::Admin, _) => true,
            (_, Visibility::Public) => true,
            (Self::Agent { agent_id, .. }, Visibility::Private) => {
                agent_id == sender || to.iter().any(|r| r == agent_id)
            }
            (Self::Agent { agent_type, .. }, Visibility::AgentOnly) => agent_type == sender_type,
            _ => false,
        }
    }
}

#[cfg(test)]
#[path = "visibility_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, ty: &str) -> Reader {
        Reader::Agent {
            agent_id: id.into(),
            agent_type: ty.into(),
        }
    }

    #[test]
    fn matrix() {
        let sender = agent("alice", "claude");
        let same_type = agent("bob", "claude");
        let other_type = agent("carol", "gemini");
        let cases = [
            (Visibility::Public, [true, true, true, true, true]),
            (Visibility::Private, [true, false, false, true, false]),
            (Visibility::AgentOnly, [true, true, false, true, false]),
            (Visibility::AdminOnly, [false, false, false, true, false]),
        ];
        for (vis, expected) in cases {
            let readers = [
                &sender,
                &same_type,
                &other_type,
                &Reader::Admin,
                &Reader::PublicOnly,
            ];
            for (reader, want) in readers.into_iter().zip(expected) {
                assert_eq!(
                    reader.may_read(vis, "alice", "claude", &[]),
                    want,
                    "{vis} read by {reader:?}"
                );
            }
        }
    }

    #[test]
    fn direct_messages_reach_sender_recipients_and_admins_only() {
        let to = ["bob".to_owned()];
        let cases = [
            (agent("alice", "claude"), true),
            (agent("bob", "gemini"), true),
            (agent("carol", "claude"), false),
            (Reader::Admin, true),
            (Reader::PublicOnly, false),
        ];
        for (reader, want) in cases {
            assert_eq!(
                reader.may_read(Visibility::Private, "alice", "claude", &to),
                want,
                "direct message read by {reader:?}"
            );
        }
    }

    #[test]
    fn filter_rejects_unknown_values() {
        assert_eq!(
            VisibilityFilter::parse(None).unwrap(),
            VisibilityFilter(None)
        );
        assert_eq!(
            VisibilityFilter::parse(Some(" ")).unwrap(),
            VisibilityFilter(None)
        );
        assert_eq!(
            VisibilityFilter::parse(Some("private")).unwrap().0,
            Some(Visibility::Private)
        );
        let err = VisibilityFilter::parse(Some("everything")).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidVisibility);
    }
}
