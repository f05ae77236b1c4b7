//! Restart delays: 1 s doubling to 60 s, back to 1 s after a child stayed up for 60 s.

use std::time::Duration;

pub const INITIAL: Duration = Duration::from_secs(1);
pub const MAX: Duration = Duration::from_secs(60);
/// A child that ran this long is considered healthy again: its next crash waits `INITIAL`.
pub const STABLE_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: INITIAL }
    }
}

impl Backoff {
    /// The delay to wait now; the following one doubles, up to [`MAX`].
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(MAX);
        delay
    }

    pub fn reset(&mut self) {
        self.next = INITIAL;
    }

    /// Resets when the child that just ended had been up for [`STABLE_AFTER`].
    pub fn child_ended_after(&mut self, uptime: Duration) {
        if uptime >= STABLE_AFTER {
            self.reset();
        }
    }

    /// True once the delay has reached the cap: the server keeps failing.
    pub fn at_cap(&self) -> bool {
        self.next >= MAX
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
        b.child_ended_after(STABLE_AFTER);
        assert_eq!(b.next_delay(), INITIAL);
    }
}
