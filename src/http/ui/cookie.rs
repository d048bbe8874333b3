//! Dashboard sign-in sessions: what a cookie stands for (kept in this process only, looked up by
//! the hash of the cookie), their expiry and sign-out, the CSRF token each carries, and the
//! limit on failed sign-ins per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::auth::token_hash;

pub(super) const COOKIE_NAME: &str = "scs_ui";
/// How long a sign-in lasts (an agent token's own expiry still applies on every request).
pub(super) const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Bounded memory: sign-ins beyond this many live sessions are refused.
const MAX_SESSIONS: usize = 10_000;
/// Failed sign-ins allowed per client address per window.
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// What the secret typed into the sign-in form turned out to be.
#[derive(Clone)]
pub(super) enum Credential {
    /// The admin key: everything.
    Admin,
    /// The API key: what a reader without a token sees (public messages).
    Viewer,
    /// An agent token: exactly that agent's view, re-checked on every request (revocation).
    Agent(String),
}

impl Credential {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Viewer => "viewer",
            Self::Agent(_) => "agent",
        }
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

#[derive(Clone, Debug)]
pub(super) struct UiSession {
    pub credential: Credential,
    pub csrf: String,
    pub expires: Instant,
    /// Fired on sign-out, so open event streams end with the session.
    pub ended: CancellationToken,
}

#[derive(Default)]
pub(crate) struct UiSessions {
    live: Mutex<HashMap<String, UiSession>>,
    failures: Mutex<HashMap<Option<IpAddr>, (u32, Instant)>>,
}

fn random_hex() -> String {
    crate::util::hex(&rand::random::<[u8; 32]>())
}

impl UiSessions {
    /// A new session; returns the cookie value, or `None` when too many sessions are live.
    pub(super) fn start(&self, credential: Credential) -> Option<(String, UiSession)> {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.len() >= MAX_SESSIONS {
            let now = Instant::now();
            live.retain(|_, s| s.expires > now);
            if live.len() >= MAX_SESSIONS {
                return None;
            }
        }
        let cookie = random_hex();
        let session = UiSession {
            credential,
            csrf: random_hex(),
            expires: Instant::now() + SESSION_TTL,
            ended: CancellationToken::new(),
        };
        live.insert(token_hash(&cookie), session.clone());
        Some((cookie, session))
    }

    /// The live session a cookie value stands for.
    pub(super) fn find(&self, cookie: &str) -> Option<UiSession> {
        let key = token_hash(cookie);
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        match live.get(&key) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                if let Some(s) = live.remove(&key) {
                    s.ended.cancel();
                }
                None
            }
            None => None,
        }
    }

    pub(super) fn end(&self, cookie: &str) {
        let removed = self
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&token_hash(cookie));
        if let Some(s) = removed {
            s.ended.cancel();
        }
    }

    /// How long `client` must wait before trying again, if it failed too often lately.
    pub(super) fn locked_out(&self, client: Option<IpAddr>) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match failures.get(&client) {
            Some((n, since)) if *n >= MAX_FAILURES && since.elapsed() < FAILURE_WINDOW => {
                Some(FAILURE_WINDOW - since.elapsed())
            }
            _ => None,
        }
    }

    pub(super) fn record_failure(&self, client: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_SESSIONS {
            failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        }
        let entry = failures.entry(client).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

/// The `Set-Cookie` value for a session (`Secure` when the browser reached us over TLS).
pub(super) fn set_cookie(value: &str, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the cookie.
pub(super) fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE_NAME}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Our cookie's value in a `Cookie` header.
pub(super) fn read_cookie(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_and_failures_lock_out() {
        let sessions = UiSessions::default();
        let (cookie, s) = sessions.start(Credential::Viewer).unwrap();
        assert!(sessions.find(&cookie).is_some());
        sessions.end(&cookie);
        assert!(sessions.find(&cookie).is_none());
        assert!(s.ended.is_cancelled());
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..MAX_FAILURES {
            assert!(sessions.locked_out(ip).is_none());
            sessions.record_failure(ip);
        }
        assert!(sessions.locked_out(ip).is_some());
        assert!(
            sessions
                .locked_out(Some(IpAddr::from([10, 0, 0, 2])))
                .is_none()
        );
    }

    #[test]
    fn cookie_parsing_and_attributes() {
        assert_eq!(read_cookie("a=b; scs_ui=xyz; c=d"), Some("xyz"));
        assert_eq!(read_cookie("scs_ui="), None);
        let set = set_cookie("v", true);
        for attr in [
            "HttpOnly",
            "SameSite=Strict",
            "Max-Age=",
            "Secure",
            "Path=/ui",
        ] {
            assert!(set.contains(attr), "{set}");
        }
        assert!(!set_cookie("v", false).contains("Secure"));
    }
}
