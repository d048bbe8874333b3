//! `resources/subscribe` on `session://{session_id}`: a subscribed MCP session (stdio or stateful
//! HTTP) receives `notifications/resources/updated` when a message it may read arrives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::ErrorData as McpError;
use rmcp::RoleServer;
use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::RequestContext;
use tokio_util::sync::CancellationToken;

use super::McpServer;
use crate::domain::{Permission, Reader};

/// This MCP session's subscriptions: URI → the token that stops its forwarding task.
#[derive(Clone, Default)]
pub struct Subscriptions(Arc<Mutex<HashMap<String, CancellationToken>>>);

impl Drop for Subscriptions {
    fn drop(&mut self) {
        // The last handle of an MCP session going away stops its forwarding tasks.
        if Arc::strong_count(&self.0) == 1 {
            for token in self.0.lock().unwrap_or_else(|p| p.into_inner()).values() {
                token.cancel();
            }
        }
    }
}

impl McpServer {
    pub(super) async fn subscribe_resource(
        &self,
        uri: &str,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let session_id = uri
            .strip_prefix("session://")
            .ok_or_else(|| {
                McpError::invalid_params(
                    format!("only session://{{session_id}} can be subscribed to, not {uri}"),
                    None,
                )
            })?
            .to_owned();
        let caller = Self::caller(ctx, None, None);
        let to_mcp = |e: crate::error::DomainError| {
            McpError::invalid_params(format!("{}: {}", e.code, e.message), None)
        };
        let who = self.service.resolve(&caller).await.map_err(to_mcp)?;
        who.require(Permission::Read).map_err(to_mcp)?;
        // Validates the id and that the session exists.
        self.service
            .get_session(&who, &session_id)
            .await
            .map_err(to_mcp)?;
        let stop = CancellationToken::new();
        if let Some(previous) = self
            .subscriptions
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(uri.to_owned(), stop.clone())
        {
            previous.cancel();
        }
        let reader = Reader::of(&who);
        let peer = ctx.peer.clone();
        let mut events = self.service.notifier().subscribe();
        let uri = uri.to_owned();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    event = events.next() => match event {
                        None => return,
                        Some(e) if e.wakes(&session_id, &reader) => {
                            if peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(uri.clone())).await.is_err() {
                                return; // the client is gone
                            }
                        }
                        Some(_) => {}
                    },
                }
            }
        });
        Ok(())
    }

    pub(super) fn unsubscribe_resource(&self, uri: &str) {
        if let Some(token) = self
            .subscriptions
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uri)
        {
            token.cancel();
        }
    }
}
