//! Editing servers.json the ways editors do.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

/// Writes a temp file beside `path` and renames it over (vim, VS Code, most editors).
pub fn save_by_rename(path: &Path, value: &Value) {
    let tmp = path.with_extension("json.swp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Truncates the file and writes it in place (nano, `>` redirection), in two steps.
pub fn save_in_place(path: &Path, text: &str) {
    let mut file = std::fs::File::create(path).unwrap();
    file.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    file.write_all(text.as_bytes()).unwrap();
    file.sync_all().unwrap();
}

pub fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
