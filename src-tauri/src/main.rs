//! `switchboard-app`: Switchboard in the system tray.
//!
//! One process: the core (`switchboard::App`: servers, gateway, dashboard) runs in-process on a
//! tokio runtime that Tauri shares; Tauri adds the tray icon and menu, the dashboard window,
//! notifications, single-instance and start-at-login. What the tray shows is computed by the
//! library (`switchboard_app::model`, no GUI dependency); these modules only render it and do
//! what its items ask.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod shell;
mod tray;
mod window;

use std::process::ExitCode;

use clap::Parser;
use switchboard_app::options::{missing_display, Options};

fn main() -> ExitCode {
    // The reaper re-executes this binary with a hidden argument: nothing else may run first.
    switchboard::run_reaper_if_requested();
    let options = Options::parse();
    // GTK aborts the process when it finds no display; say what to do instead.
    if let Some(message) = missing_display(|name| std::env::var_os(name)) {
        eprintln!("{message}");
        return ExitCode::FAILURE;
    }
    match shell::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard-app: {e:#}");
            ExitCode::FAILURE
        }
    }
}
