//! Calls of 2026-era callers waiting for their input (multi round-trip requests, SEP-2322).
//!
//! A 2025-era server asks "the client" things mid-call (sampling, elicitation, roots) as
//! requests; a 2026-era caller cannot be sent requests. So the call is answered
//! `input_required` with those requests while the server's call goes on, parked here, and
//! the caller's retry (a new HTTP request, to a new handler) carries the answers and the
//! `requestState` that finds it again. The state is sealed (HMAC, a per-process key), bound to
//! what was called, single-use, and expires: a tampered, replayed or stale one is refused.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rmcp::model::{ErrorData, RequestStateCodec, SealOptions, ServerResult};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::sessions::Ask;

/// How long a parked call waits for its caller's retry before it is cancelled.
pub const PARKED_FOR: Duration = Duration::from_secs(600);
/// Parked calls one server keeps at most; the oldest is cancelled to make room.
pub const MAX_PARKED: usize = 256;

/// A call that runs on without the request that started it.
pub struct Call {
    /// The call to the server (it owns the call's in-flight entry).
    pub task: JoinHandle<Result<ServerResult, ErrorData>>,
    /// What the server asks of the client while the call runs.
    pub asks: mpsc::UnboundedReceiver<Ask>,
    /// Asks sent to the caller and not answered yet, by the key the caller answers with.
    pub waiting: BTreeMap<String, Ask>,
    /// Keys given so far (each ask gets a new one).
    pub asked: u32,
    /// Cancels the call to the server (with `notifications/cancelled`).
    pub cancel: CancellationToken,
}

impl Drop for Call {
    /// A call nobody will finish is cancelled upstream.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Why a `requestState` was refused. One answer for all: the caller must not learn which.
#[derive(Debug, thiserror::Error)]
#[error("requestState is not valid here: it was altered, already used, has expired, or belongs to another request; call again without it")]
pub struct StateRefused;

/// See the module documentation. One per server (in its session registry).
pub struct ParkedCalls {
    codec: RequestStateCodec,
    calls: Mutex<HashMap<u64, (Call, Instant)>>,
    next: AtomicU64,
}

impl Default for ParkedCalls {
    fn default() -> Self {
        // A fresh key per process: parked calls live in memory, so their states die with it.
        let key: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
            .iter()
            .flat_map(|u| u.into_bytes())
            .collect();
        Self {
            codec: RequestStateCodec::new_unchecked(key),
            calls: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
        }
    }
}

impl ParkedCalls {
    /// Parks `call` until its caller comes back; returns the `requestState` that finds it,
    /// valid only with the same `binding` (what was called, where).
    pub fn park(&self, call: Call, binding: &str) -> String {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        expire(&mut calls, now);
        if calls.len() >= MAX_PARKED {
            let oldest = calls
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                calls.remove(&oldest);
            }
        }
        calls.insert(id, (call, now));
        drop(calls);
        let options = SealOptions::new()
            .associated_data(binding.as_bytes())
            .ttl(PARKED_FOR);
        self.codec.seal_with(&id.to_be_bytes(), &options)
    }

    /// The call `state` names, taken out (a state works once).
    pub fn take(&self, state: &str, binding: &str) -> Result<Call, StateRefused> {
        let opened = self
            .codec
            .open_with(state, binding.as_bytes())
            .map_err(|_| StateRefused)?;
        let id = u64::from_be_bytes(opened.try_into().map_err(|_| StateRefused)?);
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        expire(&mut calls, Instant::now());
        calls.remove(&id).map(|(call, _)| call).ok_or(StateRefused)
    }

    pub fn len(&self) -> usize {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Drops (and so cancels) the calls whose callers did not come back in time.
fn expire(calls: &mut HashMap<u64, (Call, Instant)>, now: Instant) {
    calls.retain(|_, (_, at)| now.duration_since(*at) < PARKED_FOR);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> (Call, CancellationToken) {
        let cancel = CancellationToken::new();
        let (_tx, asks) = mpsc::unbounded_channel();
        let call = Call {
            task: tokio::spawn(async { Ok(ServerResult::empty(())) }),
            asks,
            waiting: BTreeMap::new(),
            asked: 0,
            cancel: cancel.clone(),
        };
        (call, cancel)
    }

    #[tokio::test]
    async fn a_state_finds_its_call_once_and_only_for_the_same_binding() {
        let parked = ParkedCalls::default();
        let (first, _) = call();
        let state = parked.park(first, "tools/call a x");
        assert!(
            parked.take(&state, "tools/call a y").is_err(),
            "another tool"
        );
        assert!(parked.take(&state, "tools/call a x").is_ok());
        assert!(
            parked.take(&state, "tools/call a x").is_err(),
            "used already"
        );

        let (second, _) = call();
        let state = parked.park(second, "tools/call a x");
        let mut tampered = state.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(parked.take(&tampered, "tools/call a x").is_err());
        assert!(
            ParkedCalls::default()
                .take(&state, "tools/call a x")
                .is_err(),
            "another process's key"
        );
        assert_eq!(parked.len(), 1, "a refused state leaves its call parked");
    }

    #[tokio::test]
    async fn past_the_limit_the_oldest_parked_call_is_cancelled_to_make_room() {
        let parked = ParkedCalls::default();
        let (oldest, cancel) = call();
        let state = parked.park(oldest, "c");
        for _ in 1..MAX_PARKED {
            parked.park(call().0, "c");
        }
        assert!(!cancel.is_cancelled());
        parked.park(call().0, "c");
        assert!(cancel.is_cancelled());
        assert_eq!(parked.len(), MAX_PARKED);
        assert!(parked.take(&state, "c").is_err());
    }

    #[tokio::test]
    async fn a_call_nobody_finishes_is_cancelled_upstream() {
        let parked = ParkedCalls::default();
        let (abandoned, cancel) = call();
        let state = parked.park(abandoned, "b");
        assert!(!cancel.is_cancelled());
        drop(parked.take(&state, "b"));
        assert!(cancel.is_cancelled());
    }
}
