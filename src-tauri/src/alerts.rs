//! When the tray app shows a desktop notification.
//!
//! **A server keeps failing** when it is `failed` or `restarting` and its backoff delay has
//! reached the cap of its entry (`restart.maxDelayMs`, 60 s by default): every attempt while
//! the delay doubled from `restart.initialDelayMs` failed (with the defaults, about a minute of
//! failures). That is told once per failing streak. The streak ends, and a later one is told
//! again, when the delay is seen below the cap again (the supervisor resets it after a stable
//! run, and a manual restart starts it over), or when the server is disabled or removed. A
//! server that recovers for a moment and crashes again at the cap is the same streak: no second
//! notification. An on-demand server that goes to sleep (`idle`) ended its streak too: it sleeps
//! only after it ran. Going to sleep, waking, and a start on demand that fails (no timer
//! retries it; the request that asked is told why) are never told.
//!
//! **servers.json cannot be applied**: told once per distinct error (an editor's save that
//! breaks the file otherwise goes unnoticed; the last good version keeps running).

use std::collections::HashSet;

use switchboard::ServerState;

use crate::model::{first_line, human_duration, Snapshot};

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub title: String,
    pub body: String,
}

/// Remembers what was told, so each problem is told once.
#[derive(Debug, Default)]
pub struct Alerts {
    failing: HashSet<String>,
    /// Servers whose need to sign in was told (until they run again).
    needs_sign_in: HashSet<String>,
    config_error: Option<String>,
}

impl Alerts {
    /// The notifications due for this snapshot (usually none).
    pub fn update(&mut self, snapshot: &Snapshot) -> Vec<Alert> {
        let mut due = Vec::new();
        self.failing.retain(|name| snapshot.server(name).is_some());
        for s in &snapshot.servers {
            if s.state == ServerState::NeedsAuth {
                if self.needs_sign_in.insert(s.name.clone()) {
                    due.push(Alert {
                        title: format!("{} needs you to sign in", s.name),
                        body: "Choose Sign in… in its menu, or on the dashboard; every AI client \
                               then uses it through Switchboard."
                            .into(),
                    });
                }
            } else {
                self.needs_sign_in.remove(&s.name);
            }
            if s.keeps_failing() {
                if self.failing.insert(s.name.clone()) {
                    let error = s
                        .last_error
                        .as_deref()
                        .map(|e| first_line(e, 160))
                        .unwrap_or_else(|| "it did not start".into());
                    let every = s.retry_delay.map(human_duration).unwrap_or_default();
                    due.push(Alert {
                        title: format!("{} keeps failing", s.name),
                        body: format!(
                            "{error}\nSwitchboard retries it every {every}. Its log is in the dashboard."
                        ),
                    });
                }
            } else if !s.at_backoff_cap()
                || matches!(
                    s.state,
                    ServerState::Disabled | ServerState::Stopped | ServerState::Idle
                )
            {
                self.failing.remove(&s.name);
            }
        }
        if snapshot.config_error != self.config_error {
            if let Some(error) = &snapshot.config_error {
                due.push(Alert {
                    title: "servers.json was not applied".into(),
                    body: format!(
                        "{}\nThe last good version keeps running until the file is fixed.",
                        first_line(error, 200)
                    ),
                });
            }
            self.config_error.clone_from(&snapshot.config_error);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::tests::{failing, on_demand, server};
    use crate::model::ServerSnapshot;
    use ServerState::*;

    fn snap(servers: Vec<ServerSnapshot>) -> Snapshot {
        Snapshot {
            servers,
            base_url: "http://127.0.0.1:7427".into(),
            ..Snapshot::default()
        }
    }

    fn titles(alerts: Vec<Alert>) -> Vec<String> {
        alerts.into_iter().map(|a| a.title).collect()
    }

    #[test]
    fn told_once_that_a_server_needs_sign_in_and_again_after_it_ran() {
        let mut alerts = Alerts::default();
        let waiting = snap(vec![server("linear", NeedsAuth)]);
        assert_eq!(
            titles(alerts.update(&waiting)),
            ["linear needs you to sign in"]
        );
        assert!(alerts.update(&waiting).is_empty(), "once");
        assert!(alerts
            .update(&snap(vec![server("linear", Running)]))
            .is_empty());
        assert_eq!(titles(alerts.update(&waiting)).len(), 1, "told again");
    }

    #[test]
    fn told_once_when_the_backoff_reaches_its_cap() {
        let mut alerts = Alerts::default();
        for delay in [1, 2, 4, 8, 16, 32] {
            assert!(alerts
                .update(&snap(vec![failing("git", Failed, delay)]))
                .is_empty());
        }
        let told = alerts.update(&snap(vec![failing("git", Failed, 60)]));
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].title, "git keeps failing");
        assert_eq!(
            told[0].body,
            "exited with status 3\nSwitchboard retries it every 1 min. Its log is in the dashboard."
        );
        // Still failing at the cap: nothing new.
        assert!(alerts
            .update(&snap(vec![failing("git", Failed, 60)]))
            .is_empty());
        assert!(alerts
            .update(&snap(vec![failing("git", Restarting, 60)]))
            .is_empty());
    }

    #[test]
    fn a_short_recovery_is_the_same_streak_a_real_one_ends_it() {
        let mut alerts = Alerts::default();
        assert_eq!(
            alerts.update(&snap(vec![failing("git", Failed, 60)])).len(),
            1
        );
        // Up for a moment (the last delay is still the cap), then down again.
        assert!(alerts
            .update(&snap(vec![failing("git", Running, 60)]))
            .is_empty());
        assert!(alerts
            .update(&snap(vec![failing("git", Restarting, 60)]))
            .is_empty());
        // It ran long enough for the backoff to reset, then failed its way up again.
        assert!(alerts
            .update(&snap(vec![failing("git", Restarting, 1)]))
            .is_empty());
        assert_eq!(
            titles(alerts.update(&snap(vec![failing("git", Restarting, 60)]))),
            ["git keeps failing"]
        );
    }

    #[test]
    fn disabling_or_removing_ends_the_streak() {
        let mut alerts = Alerts::default();
        assert_eq!(
            alerts.update(&snap(vec![failing("git", Failed, 60)])).len(),
            1
        );
        let mut off = failing("git", Disabled, 60);
        off.last_error = None;
        assert!(alerts.update(&snap(vec![off])).is_empty());
        assert_eq!(
            alerts.update(&snap(vec![failing("git", Failed, 60)])).len(),
            1
        );
        assert!(alerts.update(&snap(vec![])).is_empty());
        assert_eq!(
            alerts.update(&snap(vec![failing("git", Failed, 60)])).len(),
            1
        );
    }

    #[test]
    fn each_server_is_told_on_its_own() {
        let mut alerts = Alerts::default();
        let custom = ServerSnapshot {
            max_delay: Duration::from_millis(400),
            retry_delay: Some(Duration::from_millis(400)),
            ..failing("b", Failed, 0)
        };
        assert_eq!(
            titles(alerts.update(&snap(vec![
                failing("a", Failed, 60),
                custom,
                server("c", Running)
            ]))),
            ["a keeps failing", "b keeps failing"]
        );
    }

    #[test]
    fn a_config_error_is_told_once_per_distinct_error() {
        let mut alerts = Alerts::default();
        let mut s = snap(vec![server("a", Running)]);
        assert!(alerts.update(&s).is_empty());
        s.config_error = Some("servers.json:3:5: expected `,`".into());
        let told = alerts.update(&s);
        assert_eq!(titles(told.clone()), ["servers.json was not applied"]);
        assert!(told[0].body.starts_with("servers.json:3:5: expected `,`\n"));
        assert!(alerts.update(&s).is_empty());
        s.config_error = Some("servers.json:9:1: EOF".into());
        assert_eq!(alerts.update(&s).len(), 1);
        s.config_error = None;
        assert!(alerts.update(&s).is_empty());
        s.config_error = Some("servers.json:9:1: EOF".into());
        assert_eq!(alerts.update(&s).len(), 1, "broken again after a fix");
    }

    #[test]
    fn sleeping_and_waking_on_demand_is_never_told() {
        let mut alerts = Alerts::default();
        let mut crashed = on_demand("git", Idle);
        crashed.last_error = Some("exited with status 1".into());
        let on_demand_failed = ServerSnapshot {
            on_demand: true,
            retry_delay: None,
            ..failing("git", Failed, 0)
        };
        for _ in 0..3 {
            for s in [
                on_demand("git", Idle),
                on_demand("git", Starting),
                on_demand("git", Running),
                on_demand("git", Idle),
                crashed.clone(),
                on_demand_failed.clone(),
            ] {
                let state = s.state;
                assert!(alerts.update(&snap(vec![s])).is_empty(), "{state:?}");
            }
        }
    }

    #[test]
    fn going_to_sleep_ends_a_failing_streak() {
        let mut alerts = Alerts::default();
        let learning = |state| ServerSnapshot {
            on_demand: true,
            ..failing("git", state, 60)
        };
        assert_eq!(
            titles(alerts.update(&snap(vec![learning(Failed)]))),
            ["git keeps failing"]
        );
        // It learned its catalog and went to sleep (its last delay still at the cap).
        let mut asleep = learning(Idle);
        asleep.last_error = None;
        assert!(alerts.update(&snap(vec![asleep])).is_empty());
        assert_eq!(
            titles(alerts.update(&snap(vec![learning(Failed)]))),
            ["git keeps failing"],
            "a new streak"
        );
    }
}
