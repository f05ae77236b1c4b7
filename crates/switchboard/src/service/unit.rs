//! The text of the unit `switchboard service install` writes, and reading back the little it
//! needs from it (is it ours, which servers.json it serves).
//!
//! Its settings follow `packaging/switchboard.service` (the packages' unit, where each is
//! explained; a test keeps the two in step); what differs is what only the installing command
//! knows: the executable, the servers.json chosen, and the PATH of the shell it runs in.

use std::path::{Path, PathBuf};

/// The first line of every unit Switchboard writes: how `install` knows a file it may replace
/// and `uninstall` one it may remove.
pub const MARKER: &str = "# Written by `switchboard service install`";

/// What the unit runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    /// The `switchboard` executable (absolute).
    pub executable: PathBuf,
    /// The servers.json to serve, when the user chose one (absolute); else the default place.
    pub config: Option<PathBuf>,
    /// The PATH children get; `None` leaves the user manager's own.
    pub path: Option<String>,
}

/// A path or value that a unit file cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} cannot be written into a systemd unit (it is not UTF-8, or holds a control character); move it to a plainer path")]
pub struct Unrepresentable(pub PathBuf);

impl UnitSpec {
    /// The unit file's text.
    pub fn render(&self) -> Result<String, Unrepresentable> {
        let mut exec = vec![path_arg(&self.executable)?, "serve".to_owned()];
        if let Some(config) = &self.config {
            exec.push("--config".to_owned());
            exec.push(path_arg(config)?);
        }
        let exec: Vec<String> = exec
            .iter()
            .enumerate()
            .map(|(i, word)| exec_word(word, i > 0))
            .collect();
        let path_lines = match self.path.as_deref().filter(|p| representable(p)) {
            Some(path) => format!(
                "# The PATH of the shell that ran `switchboard service install`, so servers' commands\n\
                 # (npx, uvx, ...) are found as in that terminal. Install again to update it.\n\
                 Environment=\"PATH={}\"\n",
                escape_quoted(&escape_specifiers(path))
            ),
            None => String::new(),
        };
        Ok(format!(
            "{MARKER}; `switchboard service uninstall` removes it.\n\
             # The next install rewrites it: keep changes of your own in a drop-in\n\
             # (`systemctl --user edit switchboard.service`).\n\
             \n\
             [Unit]\n\
             Description=Switchboard MCP gateway (switchboard serve)\n\
             StartLimitIntervalSec=60\n\
             StartLimitBurst=5\n\
             \n\
             [Service]\n\
             Type=exec\n\
             ExecStart={exec}\n\
             {path_lines}\
             Environment=NO_COLOR=1\n\
             Restart=on-failure\n\
             RestartSec=5\n\
             KillMode=mixed\n\
             TimeoutStopSec=30\n\
             OOMPolicy=continue\n\
             \n\
             [Install]\n\
             WantedBy=default.target\n",
            exec = exec.join(" "),
        ))
    }
}

/// Whether `text` is a unit Switchboard wrote.
pub fn is_ours(text: &str) -> bool {
    text.lines().any(|line| line.starts_with(MARKER))
}

/// The `ExecStart=` line of a unit, as written.
pub fn exec_start(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|line| line.starts_with("ExecStart="))
}

/// The servers.json a unit Switchboard wrote serves, when it names one (`--config PATH` on
/// its `ExecStart=`, read back the way [`UnitSpec::render`] wrote it).
pub fn configured_config(text: &str) -> Option<PathBuf> {
    let line = exec_start(text)?.strip_prefix("ExecStart=")?;
    let words = split_words(line);
    let at = words.iter().position(|w| w == "--config")?;
    words
        .get(at + 1)
        .map(|w| PathBuf::from(w.replace("$$", "$")))
}

fn path_arg(path: &Path) -> Result<String, Unrepresentable> {
    path.to_str()
        .filter(|p| representable(p))
        .map(str::to_owned)
        .ok_or_else(|| Unrepresentable(path.to_owned()))
}

fn representable(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(char::is_control)
}

/// One word of a command line (systemd.service "Command lines"): `%` is a specifier there, so
/// it is doubled, and so is `$` (a variable) in an argument, though not in the executable's
/// path, which systemd does not expand; a word with anything but plain path characters is
/// double-quoted, with `\` and `"` escaped.
fn exec_word(word: &str, argument: bool) -> String {
    let word = escape_specifiers(word);
    let word = if argument {
        word.replace('$', "$$")
    } else {
        word
    };
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._+-:@,=%$".contains(c));
    if plain {
        word
    } else {
        format!("\"{}\"", escape_quoted(&word))
    }
}

fn escape_specifiers(text: &str) -> String {
    text.replace('%', "%%")
}

fn escape_quoted(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The words of a command line as [`exec_word`] writes them, unquoted, with `%%` read as `%`
/// (`$$` is left: it means `$` only in arguments).
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(first) = chars.next() else {
            break;
        };
        let mut word = String::new();
        if first == '"' {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => word.extend(chars.next()),
                    c => word.push(c),
                }
            }
        } else {
            word.push(first);
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word.replace("%%", "%"));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(executable: &str, config: Option<&str>) -> UnitSpec {
        UnitSpec {
            executable: executable.into(),
            config: config.map(PathBuf::from),
            path: Some("/usr/bin:/bin".into()),
        }
    }

    #[test]
    fn a_plain_unit_runs_serve_with_the_executable_and_marks_itself() {
        let text = spec("/usr/local/bin/switchboard", None).render().unwrap();
        assert!(text.starts_with(MARKER), "{text}");
        assert!(is_ours(&text));
        assert_eq!(
            exec_start(&text),
            Some("ExecStart=/usr/local/bin/switchboard serve")
        );
        assert!(
            text.contains("Environment=\"PATH=/usr/bin:/bin\"\n"),
            "{text}"
        );
        assert_eq!(configured_config(&text), None);
    }

    #[test]
    fn odd_paths_are_quoted_and_escaped_and_read_back_unchanged() {
        let exe = "/opt/my apps/100% \"sb\"/switch$board";
        let config = "/home/u/a\\b/$HOME/servers.json";
        let text = spec(exe, Some(config)).render().unwrap();
        assert_eq!(
            exec_start(&text),
            Some(
                "ExecStart=\"/opt/my apps/100%% \\\"sb\\\"/switch$board\" serve --config \"/home/u/a\\\\b/$$HOME/servers.json\""
            )
        );
        assert_eq!(configured_config(&text), Some(PathBuf::from(config)));
        assert_eq!(
            split_words(
                exec_start(&text)
                    .unwrap()
                    .strip_prefix("ExecStart=")
                    .unwrap()
            )[0],
            exe
        );
    }

    #[test]
    fn the_path_line_escapes_specifiers_and_quotes_and_is_left_out_when_unusable() {
        let mut odd = spec("/sb", None);
        odd.path = Some("/a%b:/c\"d".into());
        let text = odd.render().unwrap();
        assert!(
            text.contains("Environment=\"PATH=/a%%b:/c\\\"d\"\n"),
            "{text}"
        );
        odd.path = Some("/a\n/b".into());
        assert!(!odd.render().unwrap().contains("PATH="));
        odd.path = None;
        assert!(!odd.render().unwrap().contains("PATH="));
    }

    #[test]
    fn a_path_with_a_control_character_is_refused_by_name() {
        let error = spec("/sb\nx", None).render().unwrap_err();
        assert!(error.to_string().contains("/sb\nx"), "{error}");
    }

    #[test]
    fn a_unit_without_the_marker_is_not_ours() {
        assert!(!is_ours(
            "[Service]\nExecStart=/usr/bin/switchboard serve\n"
        ));
        assert!(!is_ours(&format!("[Unit]\n#{MARKER}\n")));
    }

    /// The packages' unit is where each setting is explained; the one written here must not
    /// drift from it (only ExecStart, the docs link and PATH may differ).
    #[test]
    fn the_written_unit_has_every_setting_of_the_packaged_one() {
        let packaged = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/switchboard.service"),
        )
        .unwrap();
        let settings = |text: &str| -> Vec<String> {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .filter(|l| {
                    !["ExecStart=", "Documentation=", "Environment=\"PATH="]
                        .iter()
                        .any(|p| l.starts_with(p))
                })
                .map(str::to_owned)
                .collect()
        };
        let written = spec("/usr/bin/switchboard", None).render().unwrap();
        assert_eq!(settings(&written), settings(&packaged));
    }
}
