//! The HTTP client of rmcp's Streamable HTTP transport, with one correction: a server that has
//! forgotten a session may answer `400 {"error": {"message": "Bad Request: No valid session ID
//! provided"}, "id": null}` (the TypeScript SDK's example server, which many real servers and
//! server-everything copy) instead of the 404 the specification prescribes. rmcp reopens a
//! session only on 404; it drops an error without an id, so the request would wait for its
//! timeout. Such an answer to a request sent with a session is read as the expiry it is.
//!
//! It also tells its owner when the server refuses a request for want of authorization
//! (403 `insufficient_scope`: a step-up; or a 401 that a token refresh could not cure), so
//! the connection can end and its user be asked to sign in again.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
};
use sse_stream::Sse;

/// Called with the `WWW-Authenticate` challenge of a refused request.
pub type OnRefused = Arc<dyn Fn(String) + Send + Sync>;

/// An HTTP client of rmcp's (`C`: reqwest's, or rmcp's OAuth `AuthClient` over it) that reads
/// "no valid session" answers as 404s and reports authorization refusals.
#[derive(Clone)]
pub struct SessionAwareClient<C = reqwest::Client> {
    pub inner: C,
    pub on_refused: Option<OnRefused>,
}

impl<C> SessionAwareClient<C> {
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            on_refused: None,
        }
    }

    /// Tells `on_refused` of each refusal.
    pub fn on_refused(mut self, on_refused: OnRefused) -> Self {
        self.on_refused = Some(on_refused);
        self
    }

    fn noticed<T>(
        &self,
        result: Result<T, StreamableHttpError<reqwest::Error>>,
    ) -> Result<T, StreamableHttpError<reqwest::Error>> {
        if let (Err(error), Some(on_refused)) = (&result, &self.on_refused) {
            match error {
                StreamableHttpError::InsufficientScope(e) => {
                    on_refused(e.www_authenticate_header.clone())
                }
                StreamableHttpError::AuthRequired(e) => {
                    on_refused(e.www_authenticate_header.clone())
                }
                _ => {}
            }
        }
        result
    }
}

type PostResult = Result<StreamableHttpPostResponse, StreamableHttpError<reqwest::Error>>;

/// An answer to a request sent with `session_id` that means the session is unknown.
fn expired(session_id: &Option<Arc<str>>, result: PostResult) -> PostResult {
    match result {
        Ok(StreamableHttpPostResponse::Json(ServerJsonRpcMessage::Error(error), _))
            if session_id.is_some()
                && error.id.is_none()
                && error.error.message.to_ascii_lowercase().contains("session") =>
        {
            Err(StreamableHttpError::SessionExpired)
        }
        other => other,
    }
}

impl<C> StreamableHttpClient for SessionAwareClient<C>
where
    C: StreamableHttpClient<Error = reqwest::Error> + Sync,
{
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> PostResult {
        let result = self
            .inner
            .post_message(
                uri,
                message,
                session_id.clone(),
                auth_header,
                custom_headers,
            )
            .await;
        expired(&session_id, result)
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> PostResult {
        let result = self
            .inner
            .post_message_with_max_sse_event_size(
                uri,
                message,
                session_id.clone(),
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await;
        self.noticed(expired(&session_id, result))
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        self.inner
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        let result = self
            .inner
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await;
        self.noticed(result)
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        let result = self
            .inner
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await;
        self.noticed(result)
    }
}
