//! The dashboard window: the page the in-process gateway serves, in a webview.
//!
//! Closing the window destroys it (the tray keeps running: see `shell::run`), which ends its
//! WebKit web process and the dashboard's live event stream (see BENCHMARKS.md); Open
//! Dashboard creates it again. Links to other sites open in the browser.

use std::sync::Arc;

use tauri::{AppHandle, Manager, Url, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_opener::OpenerExt as _;

use crate::shell::Shell;

/// The window's label.
pub const MAIN: &str = "main";

/// Shows the dashboard: focuses the window, or opens it.
pub fn open(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    // Built off the main thread: building a webview from inside a menu event handler can
    // deadlock on some platforms (the builder waits for the event loop it is called from).
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = create(&app) {
            tracing::error!(error = %e, "cannot open the dashboard window");
        }
    });
}

/// Closes the window, if open.
pub fn close(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.destroy();
    }
}

fn create(app: &AppHandle) -> tauri::Result<()> {
    // Not managed yet: launched again while starting; the window opens when start-up ends.
    let Some(shell) = app.try_state::<Arc<Shell>>() else {
        return Ok(());
    };
    if shell.quitting() {
        return Ok(());
    }
    let url = Url::parse(&format!("{}/", shell.base_url)).map_err(tauri::Error::InvalidUrl)?;
    let origin = url.origin();
    let opener = app.clone();
    WebviewWindowBuilder::new(app, MAIN, WebviewUrl::External(url))
        .title("Switchboard")
        .inner_size(1120.0, 760.0)
        .min_inner_size(640.0, 420.0)
        .center()
        .focused(true)
        .on_navigation(move |target| {
            if target.origin() == origin {
                return true;
            }
            // Not the dashboard: a link to documentation or a server's homepage.
            if let Err(e) = opener.opener().open_url(target.as_str(), None::<&str>) {
                tracing::warn!(url = %target, error = %e, "cannot open the link");
            }
            false
        })
        .build()?;
    Ok(())
}
