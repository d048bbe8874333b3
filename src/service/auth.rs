//! Identity use-cases: resolve a caller, issue, refresh and revoke tokens.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::Service;
use crate::auth::{KeyKind, is_token_shaped, new_token, token_hash};
use crate::domain::{
    AgentId, AgentType, DomainError, ErrorCode, Identity, Permission, Permissions,
};
use crate::storage::{AuditEvent, TokenRecord, TokenRotation};

/// Where a call came from. Over stdio the user who launched us is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Stdio,
    Http,
}

/// The credentials presented with one call, before they are checked.
#[derive(Debug, Clone)]
pub struct Caller {
    pub origin: Origin,
    /// `auth_token` argument, else the `Authorization: Bearer` header.
    pub token: Option<String>,
    /// `api_key` argument, else the `X-API-Key` header.
    pub api_key: Option<String>,
}

impl Caller {
    pub fn stdio() -> Self {
        Self {
            origin: Origin::Stdio,
            token: None,
            api_key: None,
        }
    }

    pub fn with_token(mut self, token: Option<String>) -> Self {
        if let Some(t) = token.filter(|t| !t.trim().is_empty()) {
            self.token = Some(t.trim().to_owned());
        }
        self
    }

    pub fn with_api_key(mut self, key: Option<String>) -> Self {
        if let Some(k) = key.filter(|k| !k.trim().is_empty()) {
            self.api_key = Some(k.trim().to_owned());
        }
        self
    }
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub agent_id: AgentId,
    pub agent_type: AgentType,
    pub permissions: Permissions,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn token_failed(reason: &str) -> DomainError {
    DomainError::new(
        ErrorCode::TokenAuthenticationFailed,
        format!("auth_token {reason}"),
    )
    .suggest("call authenticate_agent to get a new token, then pass it as auth_token")
}

fn bad_token_format() -> DomainError {
    DomainError::new(ErrorCode::InvalidTokenFormat, "auth_token is not a token issued by this server (expected sct_ followed by 64 hex characters)")
        .suggest("pass the token field returned by authenticate_agent, unchanged")
}

impl Service {
    /// The identity behind a call: the token's agent, or anonymous when no token was given.
    pub async fn resolve(&self, caller: &Caller) -> Result<Identity, DomainError> {
        let identity = match &caller.token {
            None => Identity::Anonymous,
            Some(token) => self.identity_for_token(token).await?,
        };
        if let Some(agent) = identity.agent_id() {
            self.rate_limiter().check(agent.as_str())?;
        }
        self.note_seen(&identity);
        Ok(identity)
    }

    /// Checks a token: shape, cache, then the database (unknown, revoked or expired fail).
    pub async fn identity_for_token(&self, token: &str) -> Result<Identity, DomainError> {
        if !is_token_shaped(token) {
            return Err(bad_token_format());
        }
        let hash = token_hash(token);
        if let Some(identity) = self.token_cache().get(&hash, self.now()) {
            return Ok(identity);
        }
        let record = self
            .store()
            .find_token(&hash)
            .await?
            .ok_or_else(|| token_failed("is unknown"))?;
        if record.revoked_at.is_some() {
            return Err(token_failed("was revoked"));
        }
        if record.expires_at <= self.now() {
            return Err(token_failed("has expired"));
        }
        let permissions = Permissions::of(
            &record
                .permissions
                .iter()
                .filter_map(|p| Permission::parse(p).ok())
                .collect::<Vec<_>>(),
        );
        let identity = Identity::Agent {
            agent_id: AgentId::from_trusted(record.agent_id),
            agent_type: AgentType::from_trusted(record.agent_type),
            permissions,
            expires_at: record.expires_at,
        };
        self.token_cache().put(hash, identity.clone());
        Ok(identity)
    }

    /// `authenticate_agent`: checks the API key (not needed over stdio, except for admin) and
    /// issues a token with the permissions the agent type allows.
    pub async fn authenticate(
        &self,
        caller: &Caller,
        agent_id: &str,
        agent_type: &str,
        requested: Option<&[String]>,
    ) -> Result<IssuedToken, DomainError> {
        let agent_id = AgentId::parse(agent_id)?;
        self.rate_limiter().check(agent_id.as_str())?;
        let agent_type = AgentType::parse(agent_type)?;
        if agent_type.is_human() {
            return Err(DomainError::new(
                ErrorCode::InvalidInput,
                "agent_type 'human' is reserved for people posting from the web dashboard",
            )
            .suggest(
                "authenticate with the agent's own type, for example \"claude\" or \"generic\"",
            ));
        }
        let requested = match requested {
            None => Permissions::of(&[Permission::Read, Permission::Write]),
            Some(names) => Permissions::of(
                &names
                    .iter()
                    .map(|n| Permission::parse(n))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let key = caller.api_key.as_deref().and_then(|k| self.keys().check(k));
        if caller.origin == Origin::Http && key.is_none() {
            let reason = if caller.api_key.is_some() {
                "the API key is wrong"
            } else {
                "no API key was given"
            };
            self.audit_quietly(AuditEvent::new(
                "auth_failed",
                agent_id.as_str(),
                json!({"reason": reason}),
            ))
            .await;
            return Err(DomainError::new(
                ErrorCode::AuthFailed,
                format!("authentication failed: {reason}"),
            )
            .suggest("send the server's API key in the X-API-Key header or the api_key argument"));
        }
        if requested.contains(Permission::Admin) && key != Some(KeyKind::Admin) {
            self.audit_quietly(AuditEvent::new(
                "auth_failed",
                agent_id.as_str(),
                json!({"reason": "admin without admin key"}),
            ))
            .await;
            return Err(DomainError::new(
                ErrorCode::PermissionDenied,
                "the admin permission needs the admin API key (ADMIN_API_KEY); agent_type alone never grants it",
            )
            .suggest("ask without \"admin\" in requested_permissions, or present the admin key as api_key"));
        }
        if requested.contains(Permission::Admin)
            && !self
                .permissions()
                .for_type(&agent_type)
                .contains(Permission::Admin)
        {
            return Err(DomainError::new(
                ErrorCode::PermissionDenied,
                format!("agent_type '{agent_type}' cannot hold the admin permission"),
            )
            .suggest("authenticate with agent_type \"admin\" or \"system\" (and the admin key) for admin work"));
        }
        let mut permissions = self.permissions().grant(&agent_type, requested);
        if key != Some(KeyKind::Admin) {
            permissions = permissions.without(Permission::Admin);
        }
        let issued = self.issue(agent_id, agent_type, permissions);
        self.store().insert_token(&record_of(&issued)).await?;
        // Registered at once (not coalesced): it may be addressed as soon as it has a token.
        self.store()
            .record_agents_seen(&[crate::storage::SeenAgent {
                agent_id: issued.agent_id.as_str().to_owned(),
                agent_type: issued.agent_type.as_str().to_owned(),
                at: issued.issued_at,
            }])
            .await?;
        self.audit_quietly(AuditEvent::new(
            "token_issued",
            issued.agent_id.as_str(),
            json!({"agent_type": issued.agent_type.as_str(), "permissions": issued.permissions.names()}),
        ))
        .await;
        Ok(issued)
    }

    /// `refresh_token`: a live token buys a fresh one and is revoked; an expired or revoked one
    /// cannot be refreshed (the agent authenticates again).
    pub async fn refresh(&self, current: &str) -> Result<IssuedToken, DomainError> {
        let refresh_failed = |why: &str| {
            DomainError::new(
                ErrorCode::TokenRefreshFailed,
                format!("cannot refresh: the token {why}"),
            )
            .suggest("call authenticate_agent with the API key to get a new token")
        };
        if !is_token_shaped(current) {
            return Err(bad_token_format());
        }
        let old_hash = token_hash(current);
        let Some(record) = self.store().find_token(&old_hash).await? else {
            return Err(refresh_failed("is unknown"));
        };
        if record.revoked_at.is_some() {
            return Err(refresh_failed("was revoked or already refreshed"));
        }
        if record.expires_at <= self.now() {
            return Err(refresh_failed("has expired"));
        }
        let permissions = Permissions::of(
            &record
                .permissions
                .iter()
                .filter_map(|p| Permission::parse(p).ok())
                .collect::<Vec<_>>(),
        );
        let issued = self.issue(
            AgentId::from_trusted(record.agent_id),
            AgentType::from_trusted(record.agent_type),
            permissions,
        );
        if !self
            .store()
            .rotate_token(&TokenRotation {
                old_hash: &old_hash,
                new: &record_of(&issued),
                at: issued.issued_at,
            })
            .await?
        {
            return Err(refresh_failed("was revoked or refreshed concurrently"));
        }
        self.forget_token(&old_hash).await;
        self.audit_quietly(AuditEvent::new(
            "token_refreshed",
            issued.agent_id.as_str(),
            json!({}),
        ))
        .await;
        Ok(issued)
    }

    /// `revoke_token`: revokes `token`, or the caller's own token when none is given.
    pub async fn revoke(&self, caller: &Caller, token: Option<&str>) -> Result<(), DomainError> {
        let target = token.or(caller.token.as_deref()).ok_or_else(|| {
            DomainError::invalid("no token to revoke: pass token, or call with your auth_token")
        })?;
        if !is_token_shaped(target) {
            return Err(bad_token_format());
        }
        let hash = token_hash(target);
        let record = self.store().find_token(&hash).await?;
        // Revoking someone else's token needs admin; your own token you may always give up.
        if caller.token.as_deref() != Some(target) {
            let identity = self.resolve(caller).await?;
            let own = record.as_ref().is_some_and(|r| {
                identity
                    .agent_id()
                    .is_some_and(|a| a.as_str() == r.agent_id)
            });
            if !own {
                identity.require(Permission::Admin)?;
            }
        }
        let revoked = self.store().revoke_token(&hash, self.now()).await?;
        self.forget_token(&hash).await;
        let Some(record) = record.filter(|_| revoked) else {
            return Err(token_failed("is unknown or already revoked"));
        };
        self.audit_quietly(AuditEvent::new(
            "token_revoked",
            record.agent_id,
            json!({"agent_type": record.agent_type}),
        ))
        .await;
        Ok(())
    }

    /// Drops a revoked token from this process's cache and tells the other processes.
    async fn forget_token(&self, hash: &str) {
        self.token_cache().evict(hash);
        if let Err(err) = self.store().announce_revocation(hash).await {
            tracing::warn!(%err, "could not announce a revocation; other processes drop the token within the cache TTL");
        }
    }

    fn issue(
        &self,
        agent_id: AgentId,
        agent_type: AgentType,
        permissions: Permissions,
    ) -> IssuedToken {
        let issued_at = self.now();
        IssuedToken {
            token: new_token(),
            agent_id,
            agent_type,
            permissions,
            issued_at,
            expires_at: issued_at + self.inner.token_ttl,
        }
    }

    /// Audit rows must not turn a successful call into a failure; a failed write is logged.
    pub(crate) async fn audit_quietly(&self, event: AuditEvent) {
        if let Err(err) = self.store().audit(&event).await {
            tracing::warn!(event = event.event, error = %err, "audit write failed");
        }
    }
}

fn record_of(issued: &IssuedToken) -> TokenRecord {
    TokenRecord {
        token_hash: token_hash(&issued.token),
        agent_id: issued.agent_id.as_str().to_owned(),
        agent_type: issued.agent_type.as_str().to_owned(),
        permissions: issued
            .permissions
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        issued_at: issued.issued_at,
        expires_at: issued.expires_at,
        revoked_at: None,
    }
}
