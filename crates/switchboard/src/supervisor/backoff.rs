//! Restart delays: by default 1 s doubling to 60 s, back to 1 s after a child stayed up for
//! 60 s (`restart` in servers.json changes the three numbers).

use std::time::Duration;

use crate::config::RestartPolicy;

#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RestartPolicy,
    initial: Duration,
    max: Duration,
    stable_after: Duration,
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(&RestartPolicy::default())
    }
}

impl Backoff {
    pub fn new(policy: &RestartPolicy) -> Self {
        let initial = Duration::from_millis(policy.initial_delay_ms);
        Self {
            policy: *policy,
            initial,
            max: Duration::from_millis(policy.max_delay_ms).max(initial),
            stable_after: Duration::from_secs(policy.stable_after_secs),
            next: initial,
        }
    }

    /// Takes a new policy (servers.json changed), keeping the progress made so far.
    pub fn set_policy(&mut self, policy: &RestartPolicy) {
        if self.policy == *policy {
            return;
        }
        let next = self.next;
        *self = Self::new(policy);
        self.next = next.clamp(self.initial, self.max);
    }

    /// The delay to wait now; the following one doubles, up to the maximum.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }

    /// Resets when the child that just ended had been up long enough to count as stable.
    pub fn child_ended_after(&mut self, uptime: Duration) {
        if uptime >= self.stable_after {
            self.reset();
        }
    }

    /// True once the delay has reached the cap: the server keeps failing.
    pub fn at_cap(&self) -> bool {
        self.next >= self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_one_second_to_the_cap() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..9).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert!(b.at_cap());
    }

    #[test]
    fn resets_only_after_a_stable_run() {
        let mut b = Backoff::default();
        b.next_delay();
        b.next_delay();
        b.child_ended_after(Duration::from_secs(5));
        assert_eq!(b.next_delay(), Duration::from_secs(4));
        b.child_ended_after(Duration::from_secs(60));
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn setting_the_same_policy_keeps_progress_and_a_new_one_starts_within_it() {
        let mut b = Backoff::default();
        b.next_delay();
        b.set_policy(&RestartPolicy::default());
        assert_eq!(b.next_delay(), Duration::from_secs(2));
        b.set_policy(&RestartPolicy {
            initial_delay_ms: 100,
            max_delay_ms: 1_000,
            stable_after_secs: 60,
        });
        assert_eq!(
            b.next_delay(),
            Duration::from_secs(1),
            "clamped to the new cap"
        );
    }

    #[test]
    fn a_custom_policy_is_followed() {
        let mut b = Backoff::new(&RestartPolicy {
            initial_delay_ms: 50,
            max_delay_ms: 300,
            stable_after_secs: 1,
        });
        let delays: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [50, 100, 200, 300, 300]);
    }
}
