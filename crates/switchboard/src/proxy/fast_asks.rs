//! What a server asks of a client during its fast calls (sampling, elicitation, roots).
//!
//! A fast call ([`FastCall`](super::FastCall)) from a client that takes requests is registered
//! in its server's [`SessionRegistry`](crate::routing::SessionRegistry) as a call that asks
//! through a channel of its own, as a 2026-era caller's call is: the upstream client's `pick`
//! then hands the server's request to the call, which writes it on its own stream (the POST's
//! SSE answer, or a legacy session's stream) under an id of Switchboard's (`"sbf~N"`). The
//! client POSTs its answer to the session like any other message; the gateway gives every
//! such POST to [`FastAsks::answer`] first, and what is not an answer to one of these ids goes
//! on to rmcp (answers to rmcp's own requests included).
//!
//! One per session; the ids count up per session, so they never meet rmcp's (numbers).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use rmcp::model::{
    ClientJsonRpcMessage, ClientResult, ErrorData, JsonRpcMessage, NumberOrString,
    ServerJsonRpcMessage,
};
use tokio::sync::oneshot;

use crate::routing::Ask;

/// The prefix of the ids a session's client is asked under (rmcp's are numbers).
const ID_PREFIX: &str = "sbf~";

type Reply = oneshot::Sender<Result<ClientResult, ErrorData>>;

/// The requests asked of one session's client and not yet answered (see the module
/// documentation).
#[derive(Default)]
pub struct FastAsks {
    next: AtomicU64,
    waiting: Mutex<HashMap<String, Reply>>,
}

impl FastAsks {
    /// The JSON-RPC text that asks the client `ask`'s request, under a new id; its answer will
    /// go to the ask's reply. Asks whose asker stopped waiting (timed out) are forgotten here.
    pub fn request(&self, ask: Ask) -> Vec<u8> {
        let id = format!(
            "{ID_PREFIX}{}",
            self.next.fetch_add(1, Ordering::Relaxed) + 1
        );
        let message =
            ServerJsonRpcMessage::request(ask.request, NumberOrString::String(id.as_str().into()));
        let text = serde_json::to_vec(&message).unwrap_or_default();
        let mut waiting = self.lock();
        waiting.retain(|_, reply| !reply.is_closed());
        waiting.insert(id, ask.reply);
        text
    }

    /// When `body` is the client's answer to one of the requests asked here: hands it to its
    /// asker and says true. Anything else (a request, a notification, an answer to one of
    /// rmcp's requests, something unreadable) is not this session's: false.
    pub fn answer(&self, body: &[u8]) -> bool {
        if self.lock().is_empty() {
            return false;
        }
        let (id, outcome) = match serde_json::from_slice::<ClientJsonRpcMessage>(body) {
            Ok(JsonRpcMessage::Response(response)) => (response.id, Ok(response.result)),
            Ok(JsonRpcMessage::Error(error)) => match error.id {
                Some(id) => (id, Err(error.error)),
                None => return false,
            },
            _ => return false,
        };
        let NumberOrString::String(id) = id else {
            return false;
        };
        match self.lock().remove(&*id) {
            Some(reply) => {
                let _ = reply.send(outcome); // the asker may have given up meanwhile
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Reply>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::{PingRequest, ServerRequest};
    use serde_json::{json, Value};

    use super::*;

    fn ask() -> (Ask, oneshot::Receiver<Result<ClientResult, ErrorData>>) {
        let (reply, answer) = oneshot::channel();
        let request = ServerRequest::PingRequest(PingRequest::default());
        (Ask { request, reply }, answer)
    }

    #[tokio::test]
    async fn the_clients_answer_reaches_the_asker_under_the_id_it_was_asked() {
        let asks = FastAsks::default();
        let (first, answer) = ask();
        let text: Value = serde_json::from_slice(&asks.request(first)).unwrap();
        assert_eq!(text["method"], "ping");
        assert_eq!(text["id"], "sbf~1");
        let reply = json!({ "jsonrpc": "2.0", "id": "sbf~1", "result": {} });
        assert!(asks.answer(reply.to_string().as_bytes()));
        assert!(matches!(
            answer.await.unwrap(),
            Ok(ClientResult::EmptyResult(_))
        ));
        assert!(
            !asks.answer(reply.to_string().as_bytes()),
            "answered once only"
        );
    }

    #[tokio::test]
    async fn an_error_reaches_the_asker_and_other_messages_are_not_taken() {
        let asks = FastAsks::default();
        let (first, answer) = ask();
        asks.request(first);
        for other in [
            json!({ "jsonrpc": "2.0", "id": 1, "result": {} }),
            json!({ "jsonrpc": "2.0", "id": "sbf~9", "result": {} }),
            json!({ "jsonrpc": "2.0", "id": "sbf~1", "method": "ping" }),
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
        ] {
            assert!(!asks.answer(other.to_string().as_bytes()), "{other}");
        }
        assert!(!asks.answer(b"not json"));
        let refused = json!({ "jsonrpc": "2.0", "id": "sbf~1", "error": { "code": -1, "message": "declined" } });
        assert!(asks.answer(refused.to_string().as_bytes()));
        assert_eq!(answer.await.unwrap().unwrap_err().message, "declined");
    }

    #[tokio::test]
    async fn an_ask_whose_asker_gave_up_is_forgotten() {
        let asks = FastAsks::default();
        let (first, answer) = ask();
        asks.request(first);
        drop(answer);
        let (second, _answer) = ask();
        asks.request(second);
        assert_eq!(asks.lock().len(), 1);
    }
}
