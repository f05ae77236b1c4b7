//! Calls, errors and latency percentiles over a window: for everything, per server (with a
//! time series), and per tool. Computed from the window's samples (nearest-rank
//! percentiles), which is exact and quick for the windows the dashboard asks for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::db::Sample;

/// `/api/activity/stats`'s parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct StatsQuery {
    /// The window, in seconds, ending now.
    pub window: u64,
    /// Points in each series.
    pub buckets: u32,
    /// Only this server.
    pub server: Option<String>,
    /// The end of the window (ms); now when absent.
    pub to: Option<i64>,
}

impl Default for StatsQuery {
    fn default() -> Self {
        Self {
            window: 3600,
            buckets: 60,
            server: None,
            to: None,
        }
    }
}

/// The longest window asked for (30 days).
const MAX_WINDOW_SECS: u64 = 30 * 86_400;
/// The most buckets in a series.
const MAX_BUCKETS: u32 = 1440;
/// Tools listed, slowest first.
const TOOLS: usize = 20;

impl StatsQuery {
    /// `[from, to)` in ms.
    pub fn range(&self) -> (i64, i64) {
        let to = self.to.unwrap_or_else(super::now_ms);
        let window = i64::try_from(self.window.clamp(1, MAX_WINDOW_SECS) * 1000).unwrap_or(0);
        (to - window, to)
    }

    fn bucket_ms(&self) -> i64 {
        let (from, to) = self.range();
        let buckets = i64::from(self.buckets.clamp(1, MAX_BUCKETS));
        ((to - from) + buckets - 1) / buckets
    }
}

/// Calls, errors and percentiles of a set of requests (ms).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Stat {
    pub calls: u64,
    pub errors: u64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// One bucket of a series.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point {
    /// The bucket's start (ms).
    pub t: i64,
    #[serde(flatten)]
    pub stat: Stat,
}

#[derive(Debug, Serialize)]
pub struct ServerStats {
    pub server: String,
    #[serde(flatten)]
    pub stat: Stat,
    pub series: Vec<Point>,
}

#[derive(Debug, Serialize)]
pub struct ToolStats {
    pub server: String,
    pub tool: String,
    #[serde(flatten)]
    pub stat: Stat,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub from: i64,
    pub to: i64,
    pub bucket_ms: i64,
    pub total: Stat,
    pub series: Vec<Point>,
    pub servers: Vec<ServerStats>,
    pub tools: Vec<ToolStats>,
}

/// Collects durations and failures, then answers a [`Stat`].
#[derive(Default)]
struct Tally {
    durations_us: Vec<i64>,
    errors: u64,
}

impl Tally {
    fn add(&mut self, sample: &Sample) {
        self.durations_us.push(sample.duration_us);
        self.errors += u64::from(sample.failed);
    }

    fn stat(mut self) -> Stat {
        self.durations_us.sort_unstable();
        let at = |q: f64| percentile(&self.durations_us, q).map(|us| us as f64 / 1000.0);
        Stat {
            calls: self.durations_us.len() as u64,
            errors: self.errors,
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
        }
    }
}

/// The nearest-rank percentile `q` of `sorted`.
fn percentile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A series: one tally per bucket.
struct Series {
    from: i64,
    bucket_ms: i64,
    buckets: Vec<Tally>,
}

impl Series {
    fn new(from: i64, to: i64, bucket_ms: i64) -> Self {
        let n = usize::try_from((to - from + bucket_ms - 1) / bucket_ms.max(1)).unwrap_or(0);
        Self {
            from,
            bucket_ms,
            buckets: (0..n).map(|_| Tally::default()).collect(),
        }
    }

    fn add(&mut self, sample: &Sample) {
        let i = usize::try_from((sample.ts - self.from) / self.bucket_ms.max(1)).unwrap_or(0);
        if let Some(tally) = self.buckets.get_mut(i) {
            tally.add(sample);
        }
    }

    fn points(self) -> Vec<Point> {
        let (from, bucket_ms) = (self.from, self.bucket_ms);
        self.buckets
            .into_iter()
            .enumerate()
            .map(|(i, tally)| Point {
                t: from + i as i64 * bucket_ms,
                stat: tally.stat(),
            })
            .collect()
    }
}

pub fn compute(query: &StatsQuery, samples: &[Sample]) -> Stats {
    let (from, to) = query.range();
    let bucket_ms = query.bucket_ms();
    let mut total = Tally::default();
    let mut series = Series::new(from, to, bucket_ms);
    let mut servers: BTreeMap<&str, (Tally, Series)> = BTreeMap::new();
    let mut tools: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    for sample in samples {
        total.add(sample);
        series.add(sample);
        let (tally, server_series) = servers
            .entry(&sample.server)
            .or_insert_with(|| (Tally::default(), Series::new(from, to, bucket_ms)));
        tally.add(sample);
        server_series.add(sample);
        if let Some(tool) = &sample.tool {
            tools.entry((&sample.server, tool)).or_default().add(sample);
        }
    }
    let mut servers: Vec<_> = servers
        .into_iter()
        .map(|(server, (tally, series))| ServerStats {
            server: server.to_owned(),
            stat: tally.stat(),
            series: series.points(),
        })
        .collect();
    servers.sort_by_key(|s| std::cmp::Reverse(s.stat.calls));
    let mut tools: Vec<_> = tools
        .into_iter()
        .map(|((server, tool), tally)| ToolStats {
            server: server.to_owned(),
            tool: tool.to_owned(),
            stat: tally.stat(),
        })
        .collect();
    tools.sort_by(|a, b| {
        b.stat
            .p95
            .unwrap_or(0.0)
            .total_cmp(&a.stat.p95.unwrap_or(0.0))
    });
    tools.truncate(TOOLS);
    Stats {
        from,
        to,
        bucket_ms,
        total: total.stat(),
        series: series.points(),
        servers,
        tools,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ts: i64, server: &str, tool: &str, ms: i64, failed: bool) -> Sample {
        Sample {
            ts,
            server: server.into(),
            tool: Some(tool.into()),
            duration_us: ms * 1000,
            failed,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 0.5), Some(50));
        assert_eq!(percentile(&sorted, 0.95), Some(95));
        assert_eq!(percentile(&sorted, 0.99), Some(99));
        assert_eq!(percentile(&[7], 0.99), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn stats_count_per_server_and_tool_and_fill_every_bucket() {
        let query = StatsQuery {
            window: 60,
            buckets: 6,
            server: None,
            to: Some(60_000),
        };
        let samples = vec![
            sample(1_000, "a", "echo", 1, false),
            sample(2_000, "a", "echo", 3, true),
            sample(15_000, "a", "slow", 100, false),
            sample(59_999, "b", "echo", 2, false),
        ];
        let stats = compute(&query, &samples);
        assert_eq!(stats.bucket_ms, 10_000);
        assert_eq!(stats.total.calls, 4);
        assert_eq!(stats.total.errors, 1);
        assert_eq!(stats.series.len(), 6);
        assert_eq!(stats.series[0].stat.calls, 2);
        assert_eq!(stats.series[0].stat.p50, Some(1.0));
        assert_eq!(stats.series[2].stat.calls, 0);
        assert_eq!(stats.series[2].stat.p95, None);
        assert_eq!(stats.series[5].stat.calls, 1);
        assert_eq!(stats.servers[0].server, "a");
        assert_eq!(stats.servers[0].stat.calls, 3);
        assert_eq!(stats.servers[0].series[1].stat.calls, 1);
        assert_eq!(stats.tools[0].tool, "slow", "slowest first");
        assert_eq!(
            (stats.tools[1].server.as_str(), stats.tools[1].tool.as_str()),
            ("a", "echo")
        );
        assert_eq!(stats.tools[1].stat.errors, 1);
    }
}
