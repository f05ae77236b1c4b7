//! A real rmcp client for the end-to-end tests: answers sampling, records what the server
//! sends it (progress, list_changed), and a few call helpers.
#![allow(deprecated)] // sampling is deprecated by SEP-2577 but still what servers use

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientInfo, CreateMessageRequestParams,
    CreateMessageResult, ErrorData, Implementation, ProgressNotificationParam, SamplingMessage,
};
use rmcp::service::{NotificationContext, RequestContext, RunningService, ServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, RoleClient};
use serde_json::Value;

/// What the test client saw, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Progress(String),
    Sampling(String),
    ToolListChanged,
    ResourceUpdated(String),
    Log(String),
}

/// A real rmcp client that answers sampling and records progress.
#[derive(Clone, Default)]
pub struct RecordingClient {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl RecordingClient {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self, wanted: &Seen) -> usize {
        self.seen().iter().filter(|s| *s == wanted).count()
    }
}

impl ClientHandler for RecordingClient {
    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        let prompt = serde_json::to_string(&params.messages).unwrap_or_default();
        self.seen.lock().unwrap().push(Seen::Sampling(prompt));
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text("sampled-by-rmcp-test-client"),
            "test-model".into(),
        ))
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let token = serde_json::to_string(&params.progress_token).unwrap_or_default();
        self.seen.lock().unwrap().push(Seen::Progress(token));
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.seen.lock().unwrap().push(Seen::ToolListChanged);
    }

    async fn on_logging_message(
        &self,
        params: rmcp::model::LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.seen
            .lock()
            .unwrap()
            .push(Seen::Log(params.data.to_string()));
    }

    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let seen = Seen::ResourceUpdated(params.uri.to_string());
        self.seen.lock().unwrap().push(seen);
    }

    fn get_info(&self) -> ClientInfo {
        ClientInfo::new(
            ClientCapabilities::builder().enable_sampling().build(),
            Implementation::new("switchboard-e2e", "0"),
        )
    }
}

pub async fn connect(
    url: String,
    client: RecordingClient,
) -> RunningService<RoleClient, RecordingClient> {
    tokio::time::timeout(
        Duration::from_secs(60),
        client.serve(StreamableHttpClientTransport::from_uri(url)),
    )
    .await
    .expect("initialize within 60s")
    .expect("initialize succeeds")
}

pub fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = arguments.as_object().cloned();
    params
}

pub fn text_of(result: &rmcp::model::CallToolResult) -> String {
    serde_json::to_string(&result.content).unwrap()
}
