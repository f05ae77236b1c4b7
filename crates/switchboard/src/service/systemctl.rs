//! Asking the user's systemd manager (`systemctl --user`) to do things, where there may be
//! none: no systemctl at all (another init, macOS), or no user manager to talk to (a
//! container, `su`, an ssh session without a login session). Neither is an error of the
//! command that asked: the unit file is written either way, and the caller says what to run
//! by hand.

use std::fmt;
use std::process::{Command, Stdio};

/// The unit's name, as systemctl knows it.
pub const UNIT: &str = "switchboard.service";

/// How one `systemctl --user ...` went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and succeeded; its stdout, trimmed.
    Done(String),
    /// It ran and failed; what it said (stderr, else stdout), trimmed.
    Failed(String),
    /// There is no systemctl to run.
    Missing,
}

/// `systemctl --user ARGS`, waited for. systemctl is looked up on PATH (tests put a fake one
/// there).
pub fn run(args: &[&str]) -> Outcome {
    let output = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) => {
            let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            if output.status.success() {
                Outcome::Done(stdout)
            } else {
                let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
                let said = if stderr.is_empty() { stdout } else { stderr };
                Outcome::Failed(if said.is_empty() {
                    format!("it ended with {}", output.status)
                } else {
                    said
                })
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::Missing,
        Err(e) => Outcome::Failed(format!("cannot run systemctl: {e}")),
    }
}

/// What systemctl answers to a question such as `is-enabled` or `is-active`: the word it
/// prints (also with a non-zero exit: `disabled`, `inactive`), or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Word(String),
    Unknown(String),
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Word(word) => f.write_str(word),
            Self::Unknown(why) => write!(f, "unknown ({why})"),
        }
    }
}

/// `systemctl --user VERB switchboard.service`, for a verb that answers with one word.
pub fn ask(verb: &str) -> Answer {
    let output = Command::new("systemctl")
        .args(["--user", verb, UNIT])
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            match stdout.lines().next().map(str::trim) {
                Some(word) if !word.is_empty() && !word.contains(' ') => {
                    Answer::Word(word.to_owned())
                }
                _ => {
                    let stderr = String::from_utf8_lossy(&output.stderr);
                    Answer::Unknown(first_line(&stderr, "systemctl said nothing").to_owned())
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Answer::Unknown("systemctl not found".to_owned())
        }
        Err(e) => Answer::Unknown(format!("cannot run systemctl: {e}")),
    }
}

fn first_line<'a>(text: &'a str, otherwise: &'a str) -> &'a str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(otherwise)
}
