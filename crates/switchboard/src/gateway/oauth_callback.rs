//! `GET /oauth/callback`: where the authorization server sends the browser back after a
//! sign-in (`?code=…&state=…`, or `?error=…`). The code is exchanged for tokens, which go to
//! the keychain, and the server is connected again with them; the page says what happened.

use axum::extract::{OriginalUri, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use std::collections::HashMap;

use super::AppState;

pub async fn callback(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(sign_ins) = state.sign_ins.clone() else {
        return page(
            StatusCode::NOT_FOUND,
            "Nothing to sign in to",
            "This gateway signs in to no server.",
        );
    };
    if let Some(error) = query.get("error") {
        let description = query
            .get("error_description")
            .map(String::as_str)
            .unwrap_or("");
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            &format!("The authorization server answered {error}. {description}"),
        );
    }
    let Some(csrf) = query.get("state") else {
        return page(
            StatusCode::BAD_REQUEST,
            "Not a sign-in",
            "The address has no state.",
        );
    };
    // The redirect as the authorization server built it (rmcp reads code, state and iss).
    let callback_url = format!("{}{}", state.base_url, uri);
    match sign_ins.complete(&callback_url, csrf).await {
        Ok(server) => {
            if let Some(slot) = state.hub.slot(&server) {
                slot.log()
                    .push("[switchboard] signed in: connecting with the new token");
            }
            state.hub.restart(&server).await;
            page(
                StatusCode::OK,
                &format!("Signed in to {server}"),
                "Switchboard has the token and is connecting. You can close this tab.",
            )
        }
        Err(e) => page(StatusCode::BAD_REQUEST, "Sign-in failed", &e.to_string()),
    }
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let html = format!(
        "<!doctype html><meta charset=utf-8><title>{t} · Switchboard</title>\
         <body style=\"font-family:system-ui;margin:4rem auto;max-width:36rem\">\
         <h1>{t}</h1><p>{x}</p></body>",
        t = escape(title),
        x = escape(text)
    );
    (status, Html(html)).into_response()
}
