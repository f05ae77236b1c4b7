//! The guard in front of every HTTP endpoint (MCP, API, dashboard).
//!
//! - `Host` must name this machine (a loopback name or the configured host): a web page that
//!   rebinds its DNS name to 127.0.0.1 still sends its own name, and is refused (the MCP
//!   specification requires this defence).
//! - A present `Origin` must be the gateway's own or the tray app's (Tauri), so no other web
//!   page can drive the API or the servers from a user's browser.
//! - A request from another machine (possible only when the user binds beyond loopback) must
//!   carry the gateway token, compared in constant time: as `Authorization: Bearer …` (MCP
//!   clients, scripts), or as the cookie a browser gets by signing in at `/login` (a browser
//!   cannot add a header to page loads or `EventSource`). Only `/login` itself is open, and a
//!   page load without the token is sent there. Such a client may send its own page's
//!   `Origin` (the dashboard served to it, under the name it used for this machine).
//! - A declared body over the limit is refused with 413 before it is read.
//!
//! Refusals are JSON errors that say what to fix; the token is never logged.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

use super::error::ApiError;

/// Largest request body accepted (MCP messages are small; this leaves room for big arguments).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Origins of the tray app's webview, on each platform.
const TAURI_ORIGINS: &[&str] = &[
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];

/// The cookie that carries the token for a browser on another machine (set by `/login`).
pub const TOKEN_COOKIE: &str = "switchboard_token";
/// The sign-in page: the one path another machine may reach without the token.
pub const LOGIN_PATH: &str = "/login";

/// What the guard accepts. Built once from the bound address and the settings.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Host names (without port) that mean this gateway.
    hosts: Vec<String>,
    /// The gateway's own origins, `http://host:port`.
    origins: Vec<String>,
    token: Option<Arc<str>>,
}

impl Guard {
    /// `configured_host`: `gateway.host` (or `--host`); `port`: the bound port.
    pub fn new(configured_host: &str, port: u16, token: Option<Arc<str>>) -> Self {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        let configured = normalize_host(configured_host);
        if !configured.is_empty() && !hosts.contains(&configured) {
            hosts.push(configured);
        }
        let origins = hosts
            .iter()
            .map(|h| {
                if h.contains(':') {
                    format!("http://[{h}]:{port}")
                } else {
                    format!("http://{h}:{port}")
                }
            })
            .collect();
        Self {
            hosts,
            origins,
            token,
        }
    }

    /// Whether `presented` is the gateway token (never, when none is configured).
    pub fn is_token(&self, presented: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|token| bool::from(presented.as_bytes().ct_eq(token.as_bytes())))
    }

    /// Checks one request; `None` lets it through.
    pub fn check(&self, peer: Option<SocketAddr>, request: &Request) -> Option<ApiError> {
        let headers = request.headers();
        let remote = peer.is_some_and(|p| !p.ip().is_loopback());
        if remote {
            // Only possible when bound beyond loopback, which requires a token.
            if self.token.is_none() {
                return Some(forbidden(
                    "remote clients are not accepted without gateway.token",
                ));
            }
            let signing_in = request.uri().path() == LOGIN_PATH;
            if !signing_in && !presented_tokens(headers).any(|t| self.is_token(t)) {
                return Some(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "this gateway requires its token: send Authorization: Bearer \
                     <gateway.token>, or sign in at /login in a browser",
                ));
            }
        } else {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .or_else(|| request.uri().authority().map(|a| a.to_string()));
            match host {
                Some(host) if self.hosts.contains(&normalize_host(&host)) => {}
                Some(host) => {
                    return Some(forbidden(&format!(
                        "Host {host:?} is not this gateway (DNS rebinding protection); use \
                         http://127.0.0.1 or http://localhost"
                    )))
                }
                None => return Some(forbidden("the request has no Host header")),
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
            // Another machine reaches this one by a name of its own choosing: its page's
            // origin is whatever Host it sent (it proved the token, or is signing in).
            let own_page = remote
                && headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .is_some_and(|host| origin.eq_ignore_ascii_case(&format!("http://{host}")));
            let allowed = own_page
                || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
                || TAURI_ORIGINS.contains(&origin);
            if !allowed {
                return Some(forbidden(&format!(
                    "Origin {origin:?} may not use this gateway: only its own dashboard and the \
                     Switchboard app may"
                )));
            }
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
            return Some(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
            ));
        }
        None
    }
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

/// The tokens a request presents: its bearer token, then its sign-in cookie(s).
fn presented_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value);
    bearer.into_iter().chain(cookies)
}

/// A browser's page load (not an API call or an MCP client): it is better sent to the sign-in
/// page than shown a JSON error.
fn is_page_load(request: &Request) -> bool {
    request.method() == Method::GET
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

/// `Host: [::1]:7427` -> `::1`; `LOCALHOST:80` -> `localhost`.
fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if host.matches(':').count() == 1 {
        host.split(':').next().unwrap_or("")
    } else {
        host // a bare IPv6 address, or no port
    };
    bare.to_ascii_lowercase()
}

/// The axum middleware.
pub async fn middleware(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    match guard.check(peer, &request) {
        Some(refusal) => {
            tracing::debug!(
                status = refusal.status.as_u16(),
                path = %request.uri().path(),
                reason = %refusal.message,
                "request refused"
            );
            if refusal.status == StatusCode::UNAUTHORIZED && is_page_load(&request) {
                return Redirect::to(LOGIN_PATH).into_response();
            }
            refusal.into_response()
        }
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = axum::http::Request::builder().uri("/api/servers");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(Body::empty()).unwrap()
    }

    fn local() -> Option<SocketAddr> {
        Some("127.0.0.1:5555".parse().unwrap())
    }

    fn remote() -> Option<SocketAddr> {
        Some("192.168.1.9:5555".parse().unwrap())
    }

    #[test]
    fn local_names_pass_and_rebinding_names_are_refused() {
        let guard = Guard::new("127.0.0.1", 7427, None);
        for host in [
            "127.0.0.1:7427",
            "localhost:7427",
            "[::1]:7427",
            "LOCALHOST",
        ] {
            assert!(
                guard.check(local(), &request(&[("host", host)])).is_none(),
                "{host}"
            );
        }
        for host in ["evil.example:7427", "127.0.0.1.evil.example", "attacker"] {
            let refusal = guard.check(local(), &request(&[("host", host)])).unwrap();
            assert_eq!(refusal.status, StatusCode::FORBIDDEN, "{host}");
        }
        assert!(
            guard.check(local(), &request(&[])).is_some(),
            "no Host at all"
        );
    }

    #[test]
    fn own_and_tauri_origins_pass_and_others_are_refused() {
        let guard = Guard::new("127.0.0.1", 7427, None);
        let with = |origin| request(&[("host", "127.0.0.1:7427"), ("origin", origin)]);
        for origin in [
            "http://127.0.0.1:7427",
            "http://localhost:7427",
            "tauri://localhost",
            "http://tauri.localhost",
        ] {
            assert!(guard.check(local(), &with(origin)).is_none(), "{origin}");
        }
        for origin in [
            "https://evil.example",
            "http://localhost:3000",
            "null",
            "http://127.0.0.1:7428",
        ] {
            assert_eq!(
                guard.check(local(), &with(origin)).unwrap().status,
                StatusCode::FORBIDDEN,
                "{origin}"
            );
        }
    }

    #[test]
    fn remote_clients_need_the_token() {
        let guard = Guard::new("0.0.0.0", 7427, Some("s3cret".into()));
        let host = ("host", "192.168.1.2:7427");
        assert_eq!(
            guard.check(remote(), &request(&[host])).unwrap().status,
            StatusCode::UNAUTHORIZED
        );
        let wrong = request(&[host, ("authorization", "Bearer nope")]);
        assert_eq!(
            guard.check(remote(), &wrong).unwrap().status,
            StatusCode::UNAUTHORIZED
        );
        let right = request(&[host, ("authorization", "Bearer s3cret")]);
        assert!(guard.check(remote(), &right).is_none());
        // Without a token configured, remote clients are never accepted.
        let open = Guard::new("0.0.0.0", 7427, None);
        assert_eq!(
            open.check(remote(), &request(&[host])).unwrap().status,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn a_browser_on_another_machine_signs_in_with_a_cookie() {
        let guard = Guard::new("0.0.0.0", 7427, Some("s3cret".into()));
        let host = ("host", "workstation.lan:7427");
        let signed_in = request(&[host, ("cookie", "theme=dark; switchboard_token=s3cret")]);
        assert!(guard.check(remote(), &signed_in).is_none());
        let wrong = request(&[host, ("cookie", "switchboard_token=guess")]);
        assert_eq!(
            guard.check(remote(), &wrong).unwrap().status,
            StatusCode::UNAUTHORIZED
        );
        let other_cookie = request(&[host, ("cookie", "token=s3cret")]);
        assert!(guard.check(remote(), &other_cookie).is_some());
        // The sign-in page is the one open path.
        let login = axum::http::Request::builder()
            .uri(LOGIN_PATH)
            .header("host", "workstation.lan:7427")
            .body(Body::empty())
            .unwrap();
        assert!(guard.check(remote(), &login).is_none());
    }

    #[test]
    fn another_machine_may_send_its_own_pages_origin_only() {
        let guard = Guard::new("0.0.0.0", 7427, Some("s3cret".into()));
        let with = |origin| {
            request(&[
                ("host", "workstation.lan:7427"),
                ("authorization", "Bearer s3cret"),
                ("origin", origin),
            ])
        };
        assert!(guard
            .check(remote(), &with("http://workstation.lan:7427"))
            .is_none());
        for origin in ["https://evil.example", "http://workstation.lan:9999"] {
            assert_eq!(
                guard.check(remote(), &with(origin)).unwrap().status,
                StatusCode::FORBIDDEN,
                "{origin}"
            );
        }
        // A local page may not borrow that rule: its Host must be a loopback name anyway.
        let local_request = request(&[("host", "localhost:7427"), ("origin", "http://evil:7427")]);
        assert!(guard.check(local(), &local_request).is_some());
    }

    #[test]
    fn oversized_declared_bodies_are_refused() {
        let guard = Guard::new("127.0.0.1", 7427, None);
        let big = (MAX_BODY_BYTES + 1).to_string();
        let refusal = guard
            .check(
                local(),
                &request(&[("host", "localhost"), ("content-length", &big)]),
            )
            .unwrap();
        assert_eq!(refusal.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
