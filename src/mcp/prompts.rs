//! MCP prompts: `setup-collaboration` and `debug-session` (which shows only what the caller may read).

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{GetPromptResult, PromptMessage, Role};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, prompt, prompt_router};
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

use super::McpServer;
use crate::domain::Visibility;
use crate::service::GetMessages;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SetupCollaborationArgs {
    /// What the agents will work on together.
    pub purpose: String,
    /// Agent types taking part, comma-separated or a JSON list (default "claude,gemini").
    pub agent_types: Option<String>,
    /// Optional project name to put in the session metadata.
    pub project_name: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DebugSessionArgs {
    /// The session to analyse.
    pub session_id: String,
    /// Your token (over HTTP the bearer header works too); the analysis covers only what you may read.
    pub auth_token: Option<String>,
}

fn parse_types(raw: Option<&str>) -> Vec<String> {
    let raw = raw
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("claude,gemini");
    let list: Vec<String> = serde_json::from_str::<Vec<String>>(raw)
        .unwrap_or_else(|_| raw.split(',').map(|s| s.trim().to_owned()).collect());
    list.into_iter()
        .filter(|t| !t.is_empty())
        .take(10)
        .collect()
}

#[prompt_router(vis = "pub(super)")]
impl McpServer {
    #[prompt(
        name = "setup-collaboration",
        description = "Step-by-step plan to set up a shared session for several agents"
    )]
    async fn setup_collaboration(
        &self,
        Parameters(a): Parameters<SetupCollaborationArgs>,
    ) -> Result<GetPromptResult, McpError> {
        let types = parse_types(a.agent_types.as_deref());
        let project = a.project_name.as_deref().unwrap_or("project");
        let mut text = format!(
            "Set up a shared-context session for: {purpose}\n\n1. Each agent authenticates once:\n",
            purpose = a.purpose.trim()
        );
        for (i, ty) in types.iter().enumerate() {
            text.push_str(&format!(
                "   - authenticate_agent(agent_id=\"{ty}-{n}\", agent_type=\"{ty}\")\n",
                n = i + 1
            ));
        }
        text.push_str(&format!(
            "2. One agent creates the session and shares the returned session_id:\n   - create_session(purpose=\"{}\", \
             metadata={{\"project\": \"{project}\"}})\n3. Agents post with add_message: public for findings everyone needs, \
             agent_only for notes to agents of the same type, private for notes to self.\n4. Agents follow along with \
             get_messages(session_id, after_id=<next_after_id>) and reply with parent_message_id.\n5. Claim before you \
             edit: acquire_lease(resources=[\"path/**\"], session_id) and release_lease when done; check_leases(resources) \
             before a refactor. On LEASE_CONFLICT, work elsewhere or ask the holder.\n6. Hand off with a task: \
             create_task(session_id, title, depends_on, assignee); workers claim_task(session_id) and \
             update_task(task_id, state=\"completed\", result). Record decisions in shared memory: \
             set_memory(session_id, key, value, shared=true, expected_version).\n7. The creator calls \
             close_session when the work is done.\n",
            a.purpose.trim().replace('"', "'")
        ));
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description("Collaboration set-up plan"),
        )
    }

    #[prompt(
        name = "debug-session",
        description = "Analyse a session: message counts per visibility and sender, and the latest messages you may read"
    )]
    async fn debug_session(
        &self,
        Parameters(a): Parameters<DebugSessionArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResult, McpError> {
        let caller = Self::caller(&ctx, a.auth_token.clone(), None);
        let to_err = |e: crate::error::DomainError| {
            McpError::invalid_params(format!("{}: {}", e.code, e.message), None)
        };
        let who = self.service.resolve(&caller).await.map_err(to_err)?;
        let view = self
            .service
            .get_session(&who, &a.session_id)
            .await
            .map_err(to_err)?;
        let mut by_visibility = BTreeMap::new();
        for vis in Visibility::ALL {
            let page = self
                .service
                .get_messages(
                    &who,
                    GetMessages {
                        session_id: a.session_id.clone(),
                        limit: Some(1),
                        offset: None,
                        visibility_filter: Some(vis.as_str().to_owned()),
                        after_id: None,
                    },
                )
                .await
                .map_err(to_err)?;
            by_visibility.insert(vis.as_str(), page.total_count.unwrap_or(0));
        }
        let mut by_sender: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &view.messages {
            *by_sender.entry(m.sender.as_str()).or_default() += 1;
        }
        let mut text = format!(
            "Session {} ({}), {}, created by {}.\nMessages you may read: {}.\nBy visibility: {}\nBy sender (newest {}): {}\n\nLatest messages:\n",
            view.session.id,
            view.session.purpose,
            if view.session.is_active {
                "open"
            } else {
                "closed"
            },
            view.session.created_by,
            view.visible_message_count,
            by_visibility
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            view.messages.len(),
            by_sender
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        for m in view.messages.iter().rev().take(10) {
            let preview: String = m.content.chars().take(160).collect();
            text.push_str(&format!(
                "- #{} {} [{}] {}\n",
                m.id,
                m.sender,
                crate::domain::visibility::shown(m.visibility, !m.to.is_empty()),
                preview
            ));
        }
        text.push_str("\nLook for: agents waiting on each other, questions without replies (parent_message_id), and errors reported in metadata.");
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description(format!("Analysis of session {}", a.session_id)),
        )
    }
}
