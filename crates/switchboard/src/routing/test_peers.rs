//! Real rmcp server sessions for unit tests, over in-memory pipes: a peer whose client reads
//! everything it is sent, and one whose client stops reading after `initialize`.

use rmcp::service::{Peer, ServiceExt};
use rmcp::RoleServer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A server side that answers `initialize` and nothing else.
struct Plain;
impl rmcp::ServerHandler for Plain {}

/// Opens a session as client `name`; `reads` says whether the client goes on reading.
async fn session(name: &str, reads: bool, pipe: usize) -> Peer<RoleServer> {
    let (client, server) = tokio::io::duplex(pipe);
    let (server_read, server_write) = tokio::io::split(server);
    let serving = tokio::spawn(Plain.serve((server_read, server_write)));
    let (client_read, mut client_write) = tokio::io::split(client);
    let initialize = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{{}},\"clientInfo\":{{\"name\":\"{name}\",\"version\":\"1\"}}}}}}\n"
    );
    client_write.write_all(initialize.as_bytes()).await.unwrap();
    let mut reader = BufReader::new(client_read);
    let mut answer = String::new();
    reader.read_line(&mut answer).await.unwrap();
    client_write
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
        .await
        .unwrap();
    let running = serving.await.unwrap().unwrap();
    let peer = running.peer().clone();
    tokio::spawn(async move {
        let _keep = (client_write, running);
        if reads {
            let _ = tokio::io::copy(&mut reader, &mut tokio::io::sink()).await;
        } else {
            let _reader = reader;
            std::future::pending::<()>().await;
        }
    });
    peer
}

/// A session whose client reads what it is sent.
pub async fn reading(name: &str) -> Peer<RoleServer> {
    session(name, true, 1 << 16).await
}

/// A session whose client never reads again after `initialize`: once the 64 bytes of its
/// pipe are full, every send to it waits.
pub async fn stuck(name: &str) -> Peer<RoleServer> {
    session(name, false, 64).await
}

/// The client name a peer's session initialised with.
pub fn client_name(peer: &Peer<RoleServer>) -> String {
    peer.peer_info()
        .map(|info| info.client_info.name.clone())
        .unwrap_or_default()
}
