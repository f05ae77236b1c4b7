//! The dashboard: the web UI built from `ui/` (Vite), embedded into the binary at compile time
//! and served at `/`. Files come from `ui/dist`; any other non-API `GET` gets `index.html` so
//! the single-page app's own paths (`/servers/{name}`) load directly. A binary built before
//! the UI was (a fresh clone's `cargo build`) serves a page that says how to build it.
//!
//! This is the router's fallback: it sees only requests no other route matched, so an
//! unknown `/api/...` path answers the API's JSON 404 rather than the page.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

use super::ApiError;

/// `ui/dist` as built by `npm run build`. With `debug-embed`, debug builds embed it too, so
/// every build serves what was compiled in (`build.rs` reruns when `ui/dist` changes).
#[derive(Embed)]
#[folder = "../../ui/dist/"]
#[allow_missing = true]
struct Assets;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; media-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
                   frame-ancestors 'none'; form-action 'self'";

const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>Switchboard: dashboard not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}
code,pre{font-family:ui-monospace,monospace;font-size:.9em}pre{padding:.75rem 1rem;border:1px solid #8884;border-radius:6px;overflow:auto}</style>
</head><body>
<h1>The dashboard is not built into this binary</h1>
<p>Switchboard is running, and its gateway and API work; only the web dashboard is missing,
because <code>ui/dist</code> did not exist when this binary was compiled.</p>
<p>Build the dashboard, then Switchboard again (needs Node.js 20.19 or newer), from the repository root:</p>
<pre>(cd ui &amp;&amp; npm ci &amp;&amp; npm run build)
cargo build --release -p switchboard</pre>
<p><code>scripts/run</code> does both. Meanwhile the servers are listed at <a href="/api/servers">/api/servers</a>.</p>
</body></html>
"#;

/// The fallback handler: a dashboard file, `index.html` for an app path, or a 404.
pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no API endpoint {method} {path}"),
        )
        .into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} {path}: the dashboard only answers GET"),
        )
        .into_response();
    }
    let file = path.trim_start_matches('/');
    if !file.is_empty() && !file.ends_with('/') {
        if let Some(asset) = Assets::get(file) {
            return asset_response(file, asset, &headers);
        }
        // A missing file (an old hashed asset, a typo) is a 404, not the app: a script
        // answered with HTML fails in confusing ways. App paths have no extension, except
        // server pages, whose names may contain dots.
        let last = file.rsplit('/').next().unwrap_or(file);
        if file.starts_with("assets/") || (last.contains('.') && !file.starts_with("servers/")) {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        }
    }
    match Assets::get("index.html") {
        Some(index) => asset_response("index.html", index, &headers),
        None => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!("the dashboard was not built into this binary; serving a page that says how to build it");
            });
            html(NOT_BUILT.into())
        }
    }
}

fn html(body: Body) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    security_headers(h);
    response
}

fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn asset_response(file: &str, asset: rust_embed::EmbeddedFile, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex(&asset.metadata.sha256_hash()[..16]));
    // Vite puts content-hashed names under assets/: they never change. The rest (index.html,
    // favicon) is revalidated each time, cheaply, by ETag.
    let cache = if file.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(Body::from(asset.data.into_owned()))
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    let mime = asset.metadata.mimetype();
    let mime = if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    if let Ok(v) = HeaderValue::from_str(&mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    security_headers(h);
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use tower::ServiceExt;

    /// Whether this binary was built with the dashboard (else the placeholder is served).
    fn is_built() -> bool {
        Assets::get("index.html").is_some()
    }

    async fn get(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = axum::http::Request::get(path);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        Router::new()
            .fallback(serve)
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn content_type(r: &Response) -> &str {
        r.headers()[header::CONTENT_TYPE].to_str().unwrap()
    }

    #[tokio::test]
    async fn root_and_app_paths_serve_the_page() {
        for path in ["/", "/servers/everything", "/servers/a.b", "/some/app/path"] {
            let r = get(path, &[]).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert!(content_type(&r).starts_with("text/html"), "{path}");
            assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
            assert!(r.headers().contains_key(header::CONTENT_SECURITY_POLICY));
            let text = body(r).await;
            if is_built() {
                assert!(text.contains("<div id=\"app\">"), "{text}");
            } else {
                assert!(text.contains("npm run build"), "{text}");
            }
        }
    }

    #[tokio::test]
    async fn unknown_api_paths_get_the_json_error() {
        let r = get("/api/nope", &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let json: serde_json::Value = serde_json::from_str(&body(r).await).unwrap();
        assert_eq!(json["error"]["code"], "not_found");
    }

    #[tokio::test]
    async fn missing_files_are_404_not_the_page() {
        for path in ["/assets/index-deadbeef.js", "/nope.css", "/x/y.png"] {
            assert_eq!(
                get(path, &[]).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn other_methods_are_refused() {
        let r = Router::new()
            .fallback(serve)
            .oneshot(axum::http::Request::post("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn hashed_assets_are_immutable_and_revalidate_by_etag() {
        let Some(asset) = Assets::iter().find(|f| f.starts_with("assets/") && f.ends_with(".js"))
        else {
            return; // the UI is not built into this test binary
        };
        let path = format!("/{asset}");
        let r = get(&path, &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(content_type(&r), "text/javascript; charset=utf-8");
        assert!(r.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable"));
        let etag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
        let again = get(&path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(body(again).await.is_empty());
    }
}
