//! Signing a browser in from another machine: `/login` takes the gateway token once and sets
//! it as an `HttpOnly`, `SameSite=Strict` cookie, which the guard accepts like a bearer token
//! (see `guard.rs`). Only needed when the gateway is bound beyond loopback; on this machine
//! the dashboard needs no sign-in.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::guard::{LOGIN_PATH, TOKEN_COOKIE};
use super::AppState;

/// How long a browser stays signed in.
const COOKIE_MAX_AGE_SECS: u64 = 30 * 24 * 60 * 60;
/// A wrong token is answered this late, so guessing is slow.
const WRONG_TOKEN_DELAY: Duration = Duration::from_millis(500);
/// The page has no script; its one form posts here.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

#[derive(Debug, Deserialize)]
pub struct SignIn {
    token: String,
}

/// `GET /login`: the sign-in form.
pub async fn page() -> Response {
    html(StatusCode::OK, None)
}

/// `POST /login` (a form with `token`): the cookie and the dashboard, or the form again.
pub async fn sign_in(State(state): State<AppState>, Form(form): Form<SignIn>) -> Response {
    if !state.guard.is_token(form.token.trim()) {
        tokio::time::sleep(WRONG_TOKEN_DELAY).await;
        return html(
            StatusCode::UNAUTHORIZED,
            Some("That is not this gateway's token. `switchboard token` prints it on the machine running Switchboard."),
        );
    }
    let token = form.token.trim();
    if !token.bytes().all(is_cookie_octet) {
        // The browser would cut it short and never present it whole.
        return html(
            StatusCode::BAD_REQUEST,
            Some("This token has characters a browser cookie cannot hold (spaces, quotes, commas, semicolons or backslashes): choose another gateway.token, or send it as Authorization: Bearer."),
        );
    }
    let cookie = format!(
        "{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE_SECS}"
    );
    with_cookie(Redirect::to("/").into_response(), &cookie)
}

/// RFC 6265's `cookie-octet`: visible ASCII but `"`, `,`, `;` and `\`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// `POST /logout`: forgets the cookie.
pub async fn sign_out() -> Response {
    let cookie = format!("{TOKEN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    with_cookie(Redirect::to(LOGIN_PATH).into_response(), &cookie)
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    // Only cookie octets go into `cookie` (checked above), all valid in a header.
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn html(status: StatusCode, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>Switchboard: sign in</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:5rem auto;padding:0 1rem}}
input{{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;margin:.25rem 0 1rem}}
button{{font:inherit;padding:.5rem 1rem}}code{{font-family:ui-monospace,monospace}}.error{{color:#dc2626}}</style>
</head><body>
<h1>Switchboard</h1>
<p>This gateway is reached from another machine, so it asks for its token once. On the
machine running Switchboard, <code>switchboard token</code> prints it.</p>
{error}<form method="post" action="{LOGIN_PATH}">
<label for="token">Gateway token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
</form>
</body></html>
"#
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::Request;
    use tower::util::MapRequestLayer;
    use tower::ServiceExt;

    use super::*;
    use crate::config::GatewaySettings;
    use crate::events::EventBus;
    use crate::hub::Hub;
    use crate::store::ConfigStore;

    /// The gateway's real router, bound to every address with a token, as a request from
    /// another machine on the LAN reaches it.
    fn gateway_seen_from_the_lan() -> (tempfile::TempDir, axum::Router) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("servers.json");
        std::fs::write(&path, r#"{"mcpServers": {}}"#).unwrap();
        let events = EventBus::default();
        let hub = Hub::new(events.clone(), None, Default::default());
        let store = ConfigStore::new(path, Arc::clone(&hub), events);
        let settings = GatewaySettings {
            host: "0.0.0.0".into(),
            token: Some("s3cret-token".into()),
            ..GatewaySettings::default()
        };
        let state = AppState::new(hub, store, "0.0.0.0:7427".parse().unwrap(), &settings);
        // What `into_make_service_with_connect_info` gives each request of a connection.
        let peer = ConnectInfo("192.168.1.20:51000".parse::<SocketAddr>().unwrap());
        let router = super::super::router(state).layer(MapRequestLayer::new(
            move |mut request: Request<Body>| {
                request.extensions_mut().insert(peer);
                request
            },
        ));
        (dir, router)
    }

    async fn send(router: &axum::Router, request: Request<Body>) -> Response {
        router.clone().oneshot(request).await.unwrap()
    }

    fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
        let mut request = Request::get(path)
            .header("host", "workstation.lan:7427")
            .header("accept", "text/html,application/xhtml+xml");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.body(Body::empty()).unwrap()
    }

    fn sign_in_with(token: &str) -> Request<Body> {
        Request::post(LOGIN_PATH)
            .header("host", "workstation.lan:7427")
            .header("origin", "http://workstation.lan:7427")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    }

    fn location(response: &Response) -> Option<&str> {
        response.headers().get(header::LOCATION)?.to_str().ok()
    }

    #[tokio::test]
    async fn a_remote_browser_is_sent_to_sign_in_then_let_in_by_its_cookie() {
        let (_dir, router) = gateway_seen_from_the_lan();

        // A page load without the token goes to the sign-in page; an API call gets JSON.
        let response = send(&router, get("/", None)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), Some(LOGIN_PATH));
        let api = Request::get("/api/servers")
            .header("host", "workstation.lan:7427")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&router, api).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            send(&router, get(LOGIN_PATH, None)).await.status(),
            StatusCode::OK
        );

        // A wrong token: the form again, no cookie.
        let response = send(&router, sign_in_with("guess")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().get(header::SET_COOKIE).is_none());

        // The right one: a cookie that opens the API and the event stream's path.
        let response = send(&router, sign_in_with("s3cret-token")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), Some("/"));
        let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let pair = cookie.split(';').next().unwrap().to_owned();
        let response = send(&router, get("/api/servers", Some(&pair))).await;
        assert_eq!(response.status(), StatusCode::OK);

        // A sign-in posted from another site is refused before the token is looked at.
        let mut forged = sign_in_with("s3cret-token");
        forged.headers_mut().insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert_eq!(send(&router, forged).await.status(), StatusCode::FORBIDDEN);

        // Signing out clears the cookie.
        let out = Request::post("/logout")
            .header("host", "workstation.lan:7427")
            .header("cookie", &pair)
            .body(Body::empty())
            .unwrap();
        let response = send(&router, out).await;
        assert_eq!(location(&response), Some(LOGIN_PATH));
        let cleared = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
    }
}
