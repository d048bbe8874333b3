//! Tool profiles: which groups of tools a client sees (`SCS_TOOLS`, `--tools`, or per HTTP client
//! the `X-SCS-Tools` header). A tool outside the profile is not listed, and calling it is an
//! error that says how to enable it. Every listed tool costs the agent context tokens on every
//! turn (docs/BENCHMARKS.md has the figures per profile).

use std::fmt;

use super::catalog::{self, Group, ToolInfo};
use crate::domain::{DomainError, ErrorCode};

/// The groups a typical coding agent needs: share and read findings, search them, and address
/// other agents. Memory (notes kept across sessions) is one `,memory` away; it costs ~530 tokens.
const DEFAULT_GROUPS: [Group; 3] = [Group::Core, Group::Search, Group::Messaging];

/// The HTTP header a client sends to choose its own profile.
pub const PROFILE_HEADER: &str = "x-scs-tools";

/// A set of groups, plus optionally the Python server's 14 tools (`compat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolProfile {
    groups: u8,
    compat: bool,
}

impl Default for ToolProfile {
    fn default() -> Self {
        Self {
            groups: DEFAULT_GROUPS.iter().fold(0, |acc, g| acc | g.bit()),
            compat: false,
        }
    }
}

impl ToolProfile {
    pub fn all() -> Self {
        Self {
            groups: Group::ALL.iter().fold(0, |acc, g| acc | g.bit()),
            compat: false,
        }
    }

    /// Exactly the Python server's tools.
    pub fn compat() -> Self {
        Self {
            groups: 0,
            compat: true,
        }
    }

    /// A comma list of group names, `all`, `default` or `compat` (combinable: `compat,admin`).
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let mut profile = Self {
            groups: 0,
            compat: false,
        };
        let mut any = false;
        for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            any = true;
            match name.to_ascii_lowercase().as_str() {
                "all" => profile.groups |= Self::all().groups,
                "default" => profile.groups |= Self::default().groups,
                "compat" => profile.compat = true,
                other => match Group::parse(other) {
                    Some(group) => profile.groups |= group.bit(),
                    None => {
                        return Err(DomainError::invalid(format!(
                            "unknown tool group '{other}' in '{raw}'"
                        ))
                        .suggest(format!("use a comma list of: {}", Self::choices())));
                    }
                },
            }
        }
        if !any {
            return Err(DomainError::invalid("the tool profile is empty")
                .suggest(format!("use a comma list of: {}", Self::choices())));
        }
        Ok(profile)
    }

    fn choices() -> String {
        let groups: Vec<&str> = Group::ALL.iter().map(|g| g.name()).collect();
        format!("{}, or all, default, compat", groups.join(", "))
    }

    pub fn includes(&self, tool: &ToolInfo) -> bool {
        self.groups & tool.group.bit() != 0 || (self.compat && tool.upstream)
    }

    /// Whether a tool by this name is listed; tools missing from the catalogue never are.
    pub fn lists(&self, name: &str) -> bool {
        catalog::info(name).is_some_and(|t| self.includes(t))
    }

    /// The error for calling a tool that exists but is outside this profile.
    pub fn not_enabled(&self, tool: &ToolInfo) -> DomainError {
        DomainError::new(
            ErrorCode::ToolNotEnabled,
            format!(
                "tool '{}' is not enabled on this connection (tools: {self}); it is in the '{}' group",
                tool.name,
                tool.group.name()
            ),
        )
        .suggest(format!(
            "ask the operator to start the server with SCS_TOOLS={self},{0} (or --tools {self},{0}), or over HTTP send the header X-SCS-Tools: {self},{0}",
            tool.group.name()
        ))
    }
}

impl fmt::Display for ToolProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::all() {
            return f.write_str("all");
        }
        let mut names: Vec<&str> = Vec::new();
        if self.compat {
            names.push("compat");
        }
        names.extend(
            Group::ALL
                .iter()
                .filter(|g| self.groups & g.bit() != 0)
                .map(|g| g.name()),
        );
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_names() {
        assert_eq!(ToolProfile::parse("all").unwrap(), ToolProfile::all());
        assert_eq!(
            ToolProfile::parse(" default ").unwrap(),
            ToolProfile::default()
        );
        let p = ToolProfile::parse("core, memory").unwrap();
        assert_eq!(p.to_string(), "core,memory");
        assert!(p.lists("set_memory") && p.lists("add_message") && !p.lists("search_context"));
        assert!(!ToolProfile::default().lists("set_memory"));
        assert_eq!(ToolProfile::parse(&p.to_string()).unwrap(), p);
        let e = ToolProfile::parse("core,bogus").unwrap_err();
        assert!(e.message.contains("bogus") && e.suggestions[0].contains("memory"));
        assert!(ToolProfile::parse(" , ").is_err());
    }

    #[test]
    fn compat_is_the_upstream_tools_only() {
        let compat = ToolProfile::compat();
        let listed: Vec<_> = catalog::CATALOG
            .iter()
            .filter(|t| compat.includes(t))
            .collect();
        assert_eq!(listed.len(), 14);
        assert!(!compat.lists("list_sessions") && compat.lists("get_usage_guidance"));
        assert_eq!(
            ToolProfile::parse("compat,admin").unwrap().to_string(),
            "compat,admin"
        );
    }

    #[test]
    fn refusal_names_the_group_and_the_fix() {
        let p = ToolProfile::parse("core").unwrap();
        let e = p.not_enabled(catalog::info("set_memory").unwrap());
        assert_eq!(e.code, ErrorCode::ToolNotEnabled);
        assert!(e.message.contains("'memory'"));
        assert!(e.suggestions[0].contains("SCS_TOOLS=core,memory"));
    }
}
