//! The latency monitor (`LATENCY LATEST | HISTORY | RESET | DOCTOR | GRAPH`) and the
//! per-command latency histograms (`LATENCY HISTOGRAM`, `INFO latencystats`), as Redis 7.0
//! keeps them.
//!
//! The monitor records an event (`command`, `fast-command`, `expire-cycle`, …) whenever it
//! took at least `latency-monitor-threshold` milliseconds (0: off): each event keeps its last
//! 160 samples, one per second at most (a second's worst), and its all-time worst.
//! The histograms are HDR histograms over 1 ns to 1 s with two significant digits, the
//! precision Redis gives them, fed with every command's time while `latency-tracking` is on.

use std::sync::{Mutex, MutexGuard};

use hdrhistogram::Histogram;

/// Samples kept per event (Redis's `LATENCY_TS_LEN`).
const SERIES_LEN: usize = 160;
/// Columns of a `LATENCY GRAPH`.
const GRAPH_COLUMNS: usize = 80;
/// Rows of a `LATENCY GRAPH`'s sparkline.
const GRAPH_ROWS: usize = 4;

/// One event's samples: a ring of (unix second, milliseconds), 0 seconds for an empty place.
#[derive(Debug, Clone)]
pub struct Series {
    samples: [(i64, u64); SERIES_LEN],
    /// Where the next sample goes.
    next: usize,
    /// The worst latency ever recorded.
    pub max: u64,
}

impl Series {
    fn new() -> Series {
        Series {
            samples: [(0, 0); SERIES_LEN],
            next: 0,
            max: 0,
        }
    }

    fn add(&mut self, now_secs: i64, ms: u64) {
        self.max = self.max.max(ms);
        let prev = (self.next + SERIES_LEN - 1) % SERIES_LEN;
        if self.samples[prev].0 == now_secs {
            self.samples[prev].1 = self.samples[prev].1.max(ms);
            return;
        }
        self.samples[self.next] = (now_secs, ms);
        self.next = (self.next + 1) % SERIES_LEN;
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        (0..SERIES_LEN)
            .map(move |j| self.samples[(self.next + j) % SERIES_LEN])
            .filter(|s| s.0 != 0)
    }

    /// The last sample taken.
    pub fn latest(&self) -> (i64, u64) {
        self.samples[(self.next + SERIES_LEN - 1) % SERIES_LEN]
    }
}

/// Every event's series, in the order the events first happened.
#[derive(Debug, Default)]
pub struct LatencyMonitor {
    events: Mutex<Vec<(String, Series)>>,
}

impl LatencyMonitor {
    pub fn lock(&self) -> MutexGuard<'_, Vec<(String, Series)>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `ms` for `event` if it reaches `threshold` (0: the monitor is off).
    pub fn add_if_needed(&self, event: &str, ms: u64, threshold: i64, now_secs: i64) {
        if threshold <= 0 || ms < threshold as u64 {
            return;
        }
        let mut events = self.lock();
        match events.iter_mut().find(|(name, _)| name == event) {
            Some((_, series)) => series.add(now_secs, ms),
            None => {
                let mut series = Series::new();
                series.add(now_secs, ms);
                events.push((event.to_string(), series));
            }
        }
    }

    /// Forgets `event` (case-insensitively), or every event; how many were forgotten.
    pub fn reset(&self, event: Option<&[u8]>) -> usize {
        let mut events = self.lock();
        let before = events.len();
        events.retain(|(name, _)| event.is_some_and(|e| !name.as_bytes().eq_ignore_ascii_case(e)));
        before - events.len()
    }
}

/// Per-command latency histogram, in nanoseconds.
pub type CommandHistogram = Histogram<u64>;

/// A new histogram with Redis's bounds and precision.
pub fn new_histogram() -> CommandHistogram {
    Histogram::new_with_bounds(1, 1_000_000_000, 2).expect("fixed, valid bounds")
}

/// Records one command's time, clamped to the histogram's bounds as Redis clamps it.
pub fn record(histogram: &mut CommandHistogram, nanos: u64) {
    // Within the bounds, recording cannot fail.
    let _ = histogram.record(nanos.clamp(1, 1_000_000_000));
}

/// `LATENCY HISTOGRAM`'s buckets: (microseconds, cumulative calls) at each power of two from
/// 1024 ns on, where the count grew.
pub fn cumulative_buckets(histogram: &CommandHistogram) -> Vec<(u64, u64)> {
    let mut buckets = Vec::new();
    let mut cumulative = 0;
    let mut previous = 0;
    for step in histogram.iter_log(1024, 2.0) {
        cumulative += step.count_since_last_iteration();
        // The crate iterates to one below each power of two; Redis labels the power itself.
        let level = step.value_iterated_to().saturating_add(1);
        let micros = histogram.highest_equivalent(level) / 1000;
        if cumulative > previous {
            buckets.push((micros, cumulative));
        }
        previous = cumulative;
        if cumulative >= histogram.len() {
            break;
        }
    }
    buckets
}

/// A percentile of the histogram in microseconds, as `INFO latencystats` prints it.
pub fn percentile_usec(histogram: &CommandHistogram, percentile: f64) -> f64 {
    histogram.value_at_percentile(percentile) as f64 / 1000.0
}

/// What `LATENCY DOCTOR` needs to know besides the events.
#[derive(Debug, Clone, Copy)]
pub struct DoctorContext {
    pub threshold_ms: i64,
    pub slowlog_log_slower_than: i64,
    pub hz: i64,
    pub appendfsync_always: bool,
    /// The process has anonymous huge pages (transparent huge pages are in use).
    pub anon_huge_pages: bool,
    pub now_secs: i64,
}

/// Min, max, average, mean absolute deviation and period of an event's samples (Redis's
/// `analyzeLatencyForEvent`).
struct Analysis {
    samples: u64,
    avg: u64,
    mad: u64,
    period: i64,
}

fn analyze(series: &Series, now_secs: i64) -> Analysis {
    let samples: Vec<(i64, u64)> = series.samples().collect();
    let n = samples.len() as u64;
    if n == 0 {
        return Analysis {
            samples: 0,
            avg: 0,
            mad: 0,
            period: 0,
        };
    }
    let avg = samples.iter().map(|s| s.1).sum::<u64>() / n;
    let oldest = samples.iter().map(|s| s.0).min().unwrap_or(now_secs);
    let period = (now_secs - oldest).max(1);
    let mad = samples.iter().map(|s| avg.abs_diff(s.1)).sum::<u64>() / n;
    Analysis {
        samples: n,
        avg,
        mad,
        period,
    }
}

/// `LATENCY DOCTOR`'s report, with Redis's texts.
pub fn doctor(events: &[(String, Series)], cx: DoctorContext) -> String {
    if events.is_empty() && cx.threshold_ms == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    let mut report = String::new();
    let mut advice = Advice::default();
    let mut advices = 0;
    for (n, (event, series)) in events.iter().enumerate() {
        if n == 0 {
            report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let a = analyze(series, cx.now_secs);
        report.push_str(&format!(
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            n + 1,
            event,
            a.samples,
            a.avg,
            a.mad,
            a.period as f64 / a.samples.max(1) as f64,
            series.max
        ));
        match event.to_ascii_lowercase().as_str() {
            "command" => {
                if cx.slowlog_log_slower_than < 0 {
                    advice.slowlog_enabled = true;
                    advices += 1;
                } else if cx.slowlog_log_slower_than / 1000 > cx.threshold_ms {
                    advice.slowlog_tuning = true;
                    advices += 1;
                }
                advice.slowlog_inspect = true;
                advice.large_objects = true;
                advices += 2;
            }
            "fast-command" => {
                advice.scheduler = true;
                advices += 1;
            }
            "expire-cycle" => {
                advice.hz = true;
                advice.large_objects = true;
                advices += 2;
            }
            "eviction-del" => {
                advice.large_objects = true;
                advices += 1;
            }
            "eviction-cycle" => {
                advice.mass_eviction = true;
                advices += 1;
            }
            "aof-fsync-always" => {
                advice.relax_fsync_policy = true;
                advices += 1;
            }
            _ => {}
        }
        report.push('\n');
    }
    if cx.anon_huge_pages {
        advice.disable_thp = true;
        advices += 1;
    }
    if events.is_empty() && advices == 0 {
        report.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
    } else if !events.is_empty() && advices == 0 {
        report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
    } else {
        report.push_str("\nI have a few advices for you:\n\n");
        advice.write(&mut report, cx);
    }
    report
}

/// Which of Redis's advices the report gives.
#[derive(Debug, Default)]
struct Advice {
    slowlog_enabled: bool,
    slowlog_tuning: bool,
    slowlog_inspect: bool,
    scheduler: bool,
    relax_fsync_policy: bool,
    hz: bool,
    large_objects: bool,
    mass_eviction: bool,
    disable_thp: bool,
}

impl Advice {
    fn write(&self, report: &mut String, cx: DoctorContext) {
        let threshold_us = cx.threshold_ms.max(0) as u64 * 1000;
        if self.slowlog_enabled {
            report.push_str(&format!("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {threshold_us}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n"));
        }
        if self.slowlog_tuning {
            report.push_str(&format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {threshold_us}'.\n"));
        }
        if self.slowlog_inspect {
            report.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        }
        if self.scheduler {
            report.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
        }
        if self.relax_fsync_policy && cx.appendfsync_always {
            report.push_str("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
        }
        if self.hz && cx.hz < 100 {
            report.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
        }
        if self.large_objects {
            report.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
        }
        if self.mass_eviction {
            report.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
        }
        if self.disable_thp {
            report.push_str("- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n");
        }
    }
}

/// Whether this process has anonymous huge pages (Redis's `THPGetAnonHugePagesSize() > 0`).
pub fn has_anon_huge_pages() -> bool {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps_rollup") else {
        return false;
    };
    smaps
        .lines()
        .filter_map(|l| l.strip_prefix("AnonHugePages:"))
        .any(|rest| rest.trim().trim_end_matches("kB").trim() != "0")
}

/// `LATENCY GRAPH event`: a title line, a rule, and an ASCII sparkline of the samples, each
/// labelled with how long ago it was taken.
pub fn graph(event: &str, series: &Series, now_secs: i64) -> String {
    let samples: Vec<(i64, u64)> = series.samples().collect();
    let high = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let low = samples.iter().map(|s| s.1).min().unwrap_or(0);
    let mut out = format!(
        "{event} - high {high} ms, low {low} ms (all time high {} ms)\n",
        series.max
    );
    out.push_str(&"-".repeat(GRAPH_COLUMNS));
    out.push('\n');
    let points: Vec<(f64, String)> = samples
        .iter()
        .map(|&(time, ms)| (ms as f64, age_label(now_secs - time)))
        .collect();
    sparkline(&mut out, &points);
    out
}

fn age_label(elapsed: i64) -> String {
    match elapsed {
        e if e < 60 => format!("{e}s"),
        e if e < 3600 => format!("{}m", e / 60),
        e if e < 3600 * 24 => format!("{}h", e / 3600),
        e => format!("{}d", e / (3600 * 24)),
    }
}

/// Redis's filled sparkline: `rows` rows of `_o#|` and the labels written downwards below,
/// in chunks of [`GRAPH_COLUMNS`] samples.
fn sparkline(out: &mut String, points: &[(f64, String)]) {
    let min = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let max = points.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    for (n, chunk) in points.chunks(GRAPH_COLUMNS).enumerate() {
        if n != 0 {
            out.push('\n');
        }
        sparkline_range(out, chunk, min, max);
    }
}

fn sparkline_range(out: &mut String, points: &[(f64, String)], min: f64, max: f64) {
    const FILL: [u8; 3] = *b"_o#";
    const LABEL_MARGIN_TOP: usize = 1;
    let levels = FILL.len() * GRAPH_ROWS;
    let range = if max - min == 0.0 { 1.0 } else { max - min };
    let has_labels = points.iter().any(|p| !p.1.is_empty());
    let mut row = 0;
    // Rows, then label rows until the longest label is written; bounded by that label.
    loop {
        let mut line = vec![b' '; points.len()];
        let mut more = false;
        for (j, (value, label)) in points.iter().enumerate() {
            let step = (((value - min) * levels as f64) as i64 as f64 / range) as i64;
            let step = step.clamp(0, levels as i64 - 1);
            if row < GRAPH_ROWS {
                more = true;
                let index = step - ((GRAPH_ROWS - row - 1) * FILL.len()) as i64;
                if (0..FILL.len() as i64).contains(&index) {
                    line[j] = FILL[index as usize];
                } else if index >= FILL.len() as i64 {
                    line[j] = b'|';
                }
            } else {
                if has_labels && row - GRAPH_ROWS < LABEL_MARGIN_TOP {
                    // Redis leaves this row blank and goes on.
                    more = true;
                    break;
                }
                let at = row - GRAPH_ROWS - LABEL_MARGIN_TOP;
                if let Some(&c) = label.as_bytes().get(at) {
                    more = true;
                    line[j] = c;
                }
            }
        }
        if !more {
            break;
        }
        row += 1;
        out.push_str(&String::from_utf8_lossy(&line));
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_keeps_its_worst_sample_and_the_ring_keeps_160() {
        let m = LatencyMonitor::default();
        m.add_if_needed("command", 5, 10, 100);
        assert!(m.lock().is_empty(), "under the threshold");
        m.add_if_needed("command", 15, 10, 100);
        m.add_if_needed("command", 12, 10, 100);
        m.add_if_needed("command", 30, 10, 101);
        let events = m.lock();
        let samples: Vec<_> = events[0].1.samples().collect();
        assert_eq!(samples, vec![(100, 15), (101, 30)]);
        assert_eq!(events[0].1.max, 30);
        drop(events);
        for s in 0..500 {
            m.add_if_needed("command", 11, 10, 1000 + s);
        }
        assert_eq!(m.lock()[0].1.samples().count(), SERIES_LEN);
        assert_eq!(m.lock()[0].1.latest(), (1499, 11));
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert_eq!(m.reset(None), 0);
    }

    #[test]
    fn histogram_buckets_are_redis_labels() {
        let mut h = new_histogram();
        record(&mut h, 15_000);
        assert_eq!(cumulative_buckets(&h), vec![(16, 1)]);
        record(&mut h, 500);
        record(&mut h, 30_000);
        record(&mut h, 100_000);
        assert_eq!(
            cumulative_buckets(&h),
            vec![(1, 1), (16, 2), (33, 3), (132, 4)]
        );
    }

    #[test]
    fn doctor_reports_an_empty_monitor_like_redis() {
        let cx = DoctorContext {
            threshold_ms: 0,
            slowlog_log_slower_than: 10_000,
            hz: 10,
            appendfsync_always: false,
            anon_huge_pages: false,
            now_secs: 0,
        };
        assert!(doctor(&[], cx).starts_with("I'm sorry, Dave"));
        let on = DoctorContext {
            threshold_ms: 1,
            ..cx
        };
        assert!(doctor(&[], on).starts_with("Dave, no latency spike"));
    }

    #[test]
    fn graph_draws_a_filled_sparkline_with_labels() {
        let mut s = Series::new();
        s.add(10, 100);
        s.add(11, 200);
        let g = graph("command", &s, 12);
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(
            lines[0],
            "command - high 200 ms, low 100 ms (all time high 200 ms)"
        );
        assert_eq!(lines[1], "-".repeat(80));
        // Four sparkline rows, a blank margin row, then the labels "2s" and "1s" downwards.
        assert_eq!(&lines[2..], &[" #", " |", " |", "_|", "  ", "21", "ss"]);
    }
}
