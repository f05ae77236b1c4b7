//! A subscriber to `/api/events`, collecting events for assertions.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

pub struct Events {
    rx: mpsc::UnboundedReceiver<Value>,
    task: tokio::task::JoinHandle<()>,
}

impl Events {
    /// Connects and waits for the stream's `hello`, so no later event is missed.
    pub async fn open(base_url: &str) -> Self {
        let response = reqwest::get(format!("{base_url}/api/events"))
            .await
            .expect("GET /api/events");
        assert_eq!(response.status(), 200);
        let (tx, rx) = mpsc::unbounded_channel();
        let task = super::sse::read_data(response, move |data| {
            if let Ok(value) = serde_json::from_str::<Value>(data) {
                let _ = tx.send(value);
            }
        });
        let mut events = Self { rx, task };
        events
            .wait_for(Duration::from_secs(10), |e| e["type"] == "hello")
            .await;
        events
    }

    /// The first event (from now) matching `pred`, within `limit`.
    pub async fn wait_for(&mut self, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        match self.next_matching(limit, pred).await {
            Some(event) => event,
            None => panic!("no matching event within {limit:?}"),
        }
    }

    /// Like [`Self::wait_for`], but `None` when nothing matched in time.
    pub async fn next_matching(
        &mut self,
        limit: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(event)) if pred(&event) => return Some(event),
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the event stream closed"),
                Err(_) => return None,
            }
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.task.abort();
    }
}
