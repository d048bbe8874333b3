//! Tools for agent memory: set_memory, get_memory, list_memory, delete_memory.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::McpServer;
use super::memory_params::{
    DeleteMemoryParams, ListMemoryParams, MemoryKeyParams, SetMemoryParams,
};
use super::output::{self, Output, tool_output};
use super::text::{self, LEGEND};
use crate::service::{ListMemory, SetMemory};
use crate::storage::{MemoryEntry, MemoryRecord};
use crate::util::rfc3339;

fn scope_name(session_id: Option<&str>) -> &'static str {
    if session_id.is_some() {
        "session"
    } else {
        "global"
    }
}

/// `get_memory`: one entry with its value.
#[derive(Serialize, JsonSchema)]
pub struct MemoryRead {
    pub key: String,
    pub value: Value,
    pub metadata: Map<String, Value>,
    /// global or session.
    pub scope: &'static str,
    pub session_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
    /// The value's size in bytes (its JSON).
    pub value_size: i64,
}

impl From<&MemoryRecord> for MemoryRead {
    fn from(r: &MemoryRecord) -> Self {
        Self {
            key: r.key.clone(),
            value: r.value.clone(),
            metadata: r.metadata.clone(),
            scope: scope_name(r.session_id.as_deref()),
            session_id: r.session_id.clone(),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
            expires_at: r.expires_at.map(rfc3339),
            value_size: r.value_size,
        }
    }
}

/// A listed entry: everything but the value and metadata.
#[derive(Serialize, JsonSchema)]
pub struct MemoryListed {
    pub key: String,
    pub scope: &'static str,
    pub session_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
    pub value_size: i64,
}

impl From<&MemoryEntry> for MemoryListed {
    fn from(e: &MemoryEntry) -> Self {
        Self {
            key: e.key.clone(),
            scope: scope_name(e.session_id.as_deref()),
            session_id: e.session_id.clone(),
            created_at: rfc3339(e.created_at),
            updated_at: rfc3339(e.updated_at),
            expires_at: e.expires_at.map(rfc3339),
            value_size: e.value_size,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct MemoryList {
    pub entries: Vec<MemoryListed>,
    pub count: usize,
    pub scope_filter: String,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct MemoryStored {
    pub key: String,
    pub session_scoped: bool,
    pub scope: &'static str,
    pub session_id: Option<String>,
    pub stored_at: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub value_size: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct MemoryDeleted {
    pub deleted: bool,
    pub key: String,
    pub scope: &'static str,
    pub session_id: Option<String>,
}

tool_output!(MemoryRead, MemoryList, MemoryStored, MemoryDeleted);

#[tool_router(router = memory_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Store a JSON value under a key in your private memory, global or per session. \
Needs write.",
        output_schema = output::schema::<MemoryStored>()
    )]
    async fn set_memory(
        &self,
        Parameters(p): Parameters<SetMemoryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = SetMemory {
                key: p.key,
                value: p.value,
                session_id: p.session_id,
                expires_in: p.expires_in,
                metadata: p.metadata,
                overwrite: p.overwrite,
                idempotency_key: p.idempotency_key,
            };
            let body = svc
                .set_memory(&who, input, |r| {
                    serde_json::to_value(MemoryStored {
                        key: r.key.clone(),
                        session_scoped: r.session_id.is_some(),
                        scope: scope_name(r.session_id.as_deref()),
                        session_id: r.session_id.clone(),
                        stored_at: rfc3339(r.updated_at),
                        created_at: rfc3339(r.created_at),
                        expires_at: r.expires_at.map(rfc3339),
                        value_size: r.value_size,
                    })
                    .unwrap_or_default()
                })
                .await?;
            Ok(Output::prebuilt::<MemoryStored>(body))
        })
        .await
    }

    #[tool(
        description = "Read a key from your memory.",
        output_schema = output::schema::<MemoryRead>()
    )]
    async fn get_memory(
        &self,
        Parameters(p): Parameters<MemoryKeyParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let r = svc
                .get_memory(&who, &p.key, p.session_id.as_deref())
                .await?;
            let mut text = format!(
                "{} ({}), {} bytes, updated {}",
                r.key,
                r.session_id.as_deref().unwrap_or("global"),
                r.value_size,
                rfc3339(r.updated_at)
            );
            if let Some(at) = r.expires_at {
                text.push_str(&format!(", expires {}", rfc3339(at)));
            }
            if !r.metadata.is_empty() {
                text.push_str(&format!(" {}", Value::Object(r.metadata.clone())));
            }
            // Memory is the caller's own, but what it holds may have come from peers: quoted too.
            text.push_str(&format!(
                "\n{LEGEND}\nvalue (stored by {}):\n",
                who.audit_name()
            ));
            text::quote(&mut text, &r.value.to_string());
            Ok(Output::typed(MemoryRead::from(&r)).with_text(text))
        })
        .await
    }

    #[tool(
        description = "Your memory keys (not values), sorted; page with next_cursor.",
        output_schema = output::schema::<MemoryList>()
    )]
    async fn list_memory(
        &self,
        Parameters(p): Parameters<ListMemoryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = ListMemory {
                session_id: p.session_id,
                prefix: p.prefix,
                limit: p.limit,
                cursor: p.cursor,
            };
            let page = svc.list_memory(&who, input).await?;
            let entries: Vec<_> = page.entries.iter().map(MemoryListed::from).collect();
            Ok(MemoryList {
                count: entries.len(),
                entries,
                scope_filter: page.scope_filter.label().to_owned(),
                next_cursor: page.next_cursor,
            })
        })
        .await
    }

    #[tool(
        description = "Delete a key from your memory.",
        output_schema = output::schema::<MemoryDeleted>()
    )]
    async fn delete_memory(
        &self,
        Parameters(p): Parameters<DeleteMemoryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let key = p.key.trim().to_owned();
            let body = svc
                .delete_memory(
                    &who,
                    &key,
                    p.session_id.as_deref(),
                    p.idempotency_key.as_deref(),
                    |scope| {
                        serde_json::to_value(MemoryDeleted {
                            deleted: true,
                            key: key.clone(),
                            scope: scope.name(),
                            session_id: scope.session_id().map(|s| s.as_str().to_owned()),
                        })
                        .unwrap_or_default()
                    },
                )
                .await?;
            Ok(Output::prebuilt::<MemoryDeleted>(body))
        })
        .await
    }
}
