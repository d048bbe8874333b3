//! Credentials: API keys, opaque `sct_` agent tokens (stored as SHA-256 hashes), and the bounded
//! in-process cache that keeps token checks off the database in the steady state.

mod cache;

use sha2::{Digest, Sha256};

pub use cache::TokenCache;

/// Prefix of every agent token.
pub const TOKEN_PREFIX: &str = "sct_";
const TOKEN_HEX_LEN: usize = 64;

/// A fresh token: `sct_` + 256 random bits as hex.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{TOKEN_PREFIX}{}", crate::util::hex(&bytes))
}

/// Whether `raw` has the shape of one of our tokens (checked before any lookup).
pub fn is_token_shaped(raw: &str) -> bool {
    raw.strip_prefix(TOKEN_PREFIX)
        .is_some_and(|hex| hex.len() == TOKEN_HEX_LEN && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What we store and look up instead of the token itself.
pub fn token_hash(token: &str) -> String {
    crate::util::hex(&Sha256::digest(token.as_bytes()))
}

/// Compares secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Which configured key a presented API key matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Agent,
    Admin,
}

/// The server's API keys. The admin key also works wherever the agent key does.
#[derive(Clone)]
pub struct ApiKeys {
    pub agent: String,
    pub admin: Option<String>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeys { agent: <redacted>, admin: <redacted> }")
    }
}

impl ApiKeys {
    pub fn check(&self, presented: &str) -> Option<KeyKind> {
        if self
            .admin
            .as_deref()
            .is_some_and(|admin| constant_time_eq(presented, admin))
        {
            Some(KeyKind::Admin)
        } else if constant_time_eq(presented, &self.agent) {
            Some(KeyKind::Agent)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_shaped_unique_and_hashed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(is_token_shaped(&a));
        assert!(!is_token_shaped("sct_123"));
        assert!(!is_token_shaped(&a.replace("sct_", "xyz_")));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn keys() {
        let keys = ApiKeys {
            agent: "agent-key".into(),
            admin: Some("admin-key".into()),
        };
        assert_eq!(keys.check("agent-key"), Some(KeyKind::Agent));
        assert_eq!(keys.check("admin-key"), Some(KeyKind::Admin));
        assert_eq!(keys.check("agent-ke"), None);
        assert!(!format!("{keys:?}").contains("agent-key"));
    }
}
