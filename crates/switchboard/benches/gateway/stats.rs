//! Summary statistics of a set of call durations: count, median, p99, mean.
//!
//! Separate because the measurements produce them and the report prints them, and it is plain
//! arithmetic that depends on no process or client.

use std::time::Duration;

pub(crate) struct Stats {
    pub(crate) n: usize,
    pub(crate) median: Duration,
    pub(crate) p99: Duration,
    pub(crate) mean: Duration,
}

impl Stats {
    pub(crate) fn of(mut samples: Vec<Duration>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let n = samples.len();
        let median = if n % 2 == 1 {
            samples[n / 2]
        } else {
            (samples[n / 2 - 1] + samples[n / 2]) / 2
        };
        let p99 = samples[((n as f64 * 0.99).ceil() as usize).clamp(1, n) - 1];
        let mean = samples.iter().sum::<Duration>() / n as u32;
        Some(Self {
            n,
            median,
            p99,
            mean,
        })
    }
}
