//! Tauri's build step, pointed at the repository root's `tauri.conf.json` (DESIGN.md keeps the
//! config and `icons/` at the root). Without the `gui` feature there is nothing to build: the
//! library of tray logic has no GUI dependency.

fn main() {
    #[cfg(feature = "gui")]
    {
        println!("cargo:rerun-if-changed=../tauri.conf.json");
        println!("cargo:rerun-if-changed=../icons");
        tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
            .expect("tauri-build failed (see the message above)");
    }
}
