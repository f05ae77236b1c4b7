//! The report: results recorded as the run goes (each echoed to stderr), then rendered as the
//! markdown that is printed and written to `target/bench-gateway.md`; with its number
//! formatters.
//!
//! Separate so that the output format lives in one place, apart from how the numbers are taken.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::machine::cores;
use crate::measure::{Throughput, LATENCY_BUDGET, WARMUP_PER_CLIENT};
use crate::settings::Settings;
use crate::stats::Stats;
use crate::BenchResult;

#[derive(Default)]
pub(crate) struct Report {
    latency: Vec<(String, BenchResult<Stats>)>,
    throughput: BTreeMap<usize, Vec<(String, BenchResult<Throughput>)>>,
    throughput_order: Vec<String>,
    memory: Vec<(String, BenchResult<String>)>,
    pub(crate) notes: Vec<String>,
}

impl Report {
    pub(crate) fn latency(&mut self, name: &str, result: BenchResult<Stats>) {
        match &result {
            Ok(st) => eprintln!(
                "[bench] latency {name}: median {} p99 {}",
                ms(st.median),
                ms(st.p99)
            ),
            Err(e) => eprintln!("[bench] latency {name}: ERROR {e}"),
        }
        self.latency.push((name.to_owned(), result));
    }

    pub(crate) fn throughput(&mut self, name: &str, level: usize, result: BenchResult<Throughput>) {
        match &result {
            Ok(t) => {
                eprintln!(
                    "[bench] throughput {name} x{level}: {:.0} calls/s ({} errors)",
                    t.per_sec(),
                    t.errors
                );
                if t.errors > 0 {
                    self.notes.push(format!(
                        "{name}, {level} clients: {} failed calls; first: {}",
                        t.errors,
                        t.first_error.as_deref().unwrap_or("?")
                    ));
                }
            }
            Err(e) => eprintln!("[bench] throughput {name} x{level}: ERROR {e}"),
        }
        if !self.throughput_order.iter().any(|n| n == name) {
            self.throughput_order.push(name.to_owned());
        }
        self.throughput
            .entry(level)
            .or_default()
            .push((name.to_owned(), result));
    }

    pub(crate) fn memory(&mut self, what: &str, result: BenchResult<String>) {
        match &result {
            Ok(v) => eprintln!("[bench] memory {what}: {v}"),
            Err(e) => eprintln!("[bench] memory {what}: ERROR {e}"),
        }
        self.memory.push((what.to_owned(), result));
    }

    pub(crate) fn note(&mut self, note: String) {
        eprintln!("[bench] NOTE: {note}");
        self.notes.push(note);
    }

    pub(crate) fn markdown(&self, header: &str, s: &Settings) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{header}");
        let _ = writeln!(
            out,
            "## Latency of one `tools/call` (`echo`), one client, sequential\n\n\
             {} calls after {} warm-up calls (fewer where a path exceeded the {} s budget).\n",
            s.calls,
            s.warmup,
            LATENCY_BUDGET.as_secs()
        );
        let _ = writeln!(
            out,
            "| path | median | p99 | mean | calls | added median vs direct |\n| --- | ---: | ---: | ---: | ---: | ---: |"
        );
        let base = self
            .latency
            .first()
            .filter(|(name, _)| name.starts_with("direct"))
            .and_then(|(_, r)| r.as_ref().ok())
            .map(|s| s.median);
        for (name, result) in &self.latency {
            match result {
                Ok(st) => {
                    let added = match base {
                        Some(b) if name != &self.latency[0].0 => {
                            let d = st.median.as_secs_f64() - b.as_secs_f64();
                            format!("{:+.3} ms", d * 1e3)
                        }
                        Some(_) => "(baseline)".to_owned(),
                        None => "–".to_owned(),
                    };
                    let _ = writeln!(
                        out,
                        "| {name} | {} | {} | {} | {} | {added} |",
                        ms(st.median),
                        ms(st.p99),
                        ms(st.mean),
                        st.n
                    );
                }
                Err(e) => {
                    let _ = writeln!(out, "| {name} | error: {} | | | | |", one_line(e));
                }
            }
        }
        let levels: Vec<usize> = self.throughput.keys().copied().collect();
        let _ = writeln!(
            out,
            "\n## Throughput (calls/s), each client its own session\n\n\
             Every client makes sequential `echo` calls for {} s (after {} warm-up calls). \
             Direct stdio: that many callers share one stdio connection. \
             CPU is % of one core during the window at {} clients, and CPU time per call, \
             for the gateway (with any helper process) / the MCP server process(es) / the bench's clients; \
             the machine has {} cores, shared by all three.\n",
            s.secs,
            WARMUP_PER_CLIENT,
            levels.last().copied().unwrap_or(0),
            cores()
        );
        let mut head = "| target |".to_owned();
        let mut rule = "| --- |".to_owned();
        for level in &levels {
            let _ = write!(
                head,
                " {level} client{} |",
                if *level == 1 { "" } else { "s" }
            );
            rule.push_str(" ---: |");
        }
        head.push_str(" p50 / p99 at max | CPU at max: gateway / server / clients |");
        rule.push_str(" ---: | ---: |");
        let _ = writeln!(out, "{head}\n{rule}");
        for name in &self.throughput_order {
            let _ = write!(out, "| {name} |");
            let mut last = None;
            for level in &levels {
                let cell = self
                    .throughput
                    .get(level)
                    .and_then(|rows| rows.iter().find(|(n, _)| n == name))
                    .map(|(_, r)| r);
                match cell {
                    Some(Ok(t)) => {
                        let _ = write!(out, " {:.0} |", t.per_sec());
                        last = Some(t);
                    }
                    Some(Err(e)) => {
                        let _ = write!(out, " error: {} |", one_line(e));
                        last = None;
                    }
                    None => out.push_str(" – |"),
                }
            }
            match last {
                Some(t) => {
                    let lat = t
                        .latency
                        .as_ref()
                        .map(|l| format!("{} / {}", ms(l.median), ms(l.p99)))
                        .unwrap_or_default();
                    // CPU time per call: % of a core × window / calls.
                    let per_call = |pct: f64| {
                        pct / 100.0 * t.elapsed.as_secs_f64() * 1e6 / t.calls.max(1) as f64
                    };
                    let gw = if name.starts_with("direct") {
                        "–".to_owned()
                    } else {
                        format!("{:.0}% ({:.0} µs)", t.cpu.0, per_call(t.cpu.0))
                    };
                    let _ = writeln!(
                        out,
                        " {lat} | {gw} / {:.0}% ({:.0} µs, {} proc) / {:.0}% ({:.0} µs) |",
                        t.cpu.1,
                        per_call(t.cpu.1),
                        t.server_processes,
                        t.cpu.2,
                        per_call(t.cpu.2)
                    );
                }
                None => out.push_str(" | |\n"),
            }
        }
        let _ = writeln!(
            out,
            "\n## Memory\n\nVmRSS / VmHWM (peak) from `/proc/PID/status` of the gateway process \
             itself; MCP server children are listed separately.\n\n| what | value |\n| --- | --- |"
        );
        for (what, result) in &self.memory {
            match result {
                Ok(v) => {
                    let _ = writeln!(out, "| {what} | {v} |");
                }
                Err(e) => {
                    let _ = writeln!(out, "| {what} | error: {} |", one_line(e));
                }
            }
        }
        let _ = writeln!(out, "\n## Problems seen during the run\n");
        if self.notes.is_empty() {
            let _ = writeln!(out, "None.");
        }
        for note in &self.notes {
            let _ = writeln!(out, "- {}", one_line(note));
        }
        out
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn one_line(s: &str) -> String {
    let s = s.replace(['\n', '|'], " ");
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}
