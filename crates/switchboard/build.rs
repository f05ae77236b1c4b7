//! Makes the embedded dashboard follow `ui/dist`.
//!
//! `src/gateway/dashboard.rs` embeds `ui/dist` (rust-embed). Files it embedded are tracked by
//! rustc, but a dist that appears, or gains files, after the first build is not; this
//! script tells cargo to rebuild when `ui/dist` changes. The UI itself is built by npm
//! (`scripts/run` and `scripts/test` do it), not here: a `cargo build` needs no Node.js and
//! no network, and without `ui/dist` the binary serves a page that says how to build it.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let ui = manifest.join("../../ui");
    let dist = ui.join("dist");
    if dist.join("index.html").is_file() {
        println!("cargo:rerun-if-changed={}", dist.display());
    } else {
        println!(
            "cargo:warning=the dashboard is not built (no ui/dist): this binary serves a \
             placeholder at /. Build it with `npm ci && npm run build` in ui/ (scripts/run and \
             scripts/test do), then build again."
        );
        // Watch for the dist to appear. The whole ui/ folder is watched because a missing
        // path would make cargo rerun this script (and rebuild the crate) on every build.
        if ui.is_dir() {
            println!("cargo:rerun-if-changed={}", ui.display());
        }
    }
}
