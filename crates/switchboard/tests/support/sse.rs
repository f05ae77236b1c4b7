//! Reading an SSE response as it comes, for the tests' own stream readers (`/api/events`,
//! legacy sessions, streamed answers).

use futures::StreamExt;

/// Hands the `data:` of each event in `response`'s body to `each` (trimmed), in order, from a
/// task of its own; the task ends with the body.
pub fn read_data(
    response: reqwest::Response,
    mut each: impl FnMut(&str) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                for data in block.lines().filter_map(|l| l.strip_prefix("data:")) {
                    each(data.trim());
                }
            }
        }
    })
}
