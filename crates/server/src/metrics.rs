//! The server's Prometheus metrics: API calls by action and result code, how long they took,
//! connection notifications delivered, and where listing items came from.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use crate::iam_cache::lock;

/// Upper bounds of the call-duration histogram's buckets, in seconds. Finer than Prometheus's
/// default below 10 ms, where this API's calls fall on loopback (bench/api: a creation's p50 is
/// about 1.7 ms, its p99 about 4 ms), and up to 10 s for calls that wait out a busy store.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0,
];

/// One action's call durations: a count per bucket (not cumulative) and their sum.
#[derive(Default, Clone)]
struct Histogram {
    /// Calls per bucket of [`BUCKETS`]; the last slot is past the last bound.
    buckets: [u64; BUCKETS.len() + 1],
    sum_ns: u128,
}

impl Histogram {
    fn observe(&mut self, took: Duration) {
        let secs = took.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot] += 1;
        self.sum_ns += took.as_nanos();
    }
}

/// Prometheus counters of API calls by action and outcome, and their durations by action.
#[derive(Default)]
pub struct Metrics {
    calls: Mutex<Calls>,
    notifications: Mutex<BTreeMap<&'static str, u64>>,
    /// `DescribeVpcEndpoints` listing items served from memory, and read from the store.
    listing_items: [AtomicU64; 2],
}

/// Calls by action: their counts by result code and their durations (one lock for both: one
/// call, one lock).
#[derive(Default)]
struct Calls {
    by_action: HashMap<String, ActionCalls>,
}

/// One action's calls.
#[derive(Default, Clone)]
struct ActionCalls {
    /// By result code (`OK` for success): an action answers with a handful of codes, so a list.
    codes: Vec<(String, u64)>,
    durations: Histogram,
}

impl Metrics {
    /// Counts one call that took `took`, from its request read whole to its answer written;
    /// unknown action names are counted together so labels stay bounded.
    pub fn count(&self, action: &str, error_code: Option<&str>, took: Duration) {
        let action = if crate::actions::is_known(action) {
            action
        } else {
            "unknown"
        };
        let code = error_code.unwrap_or("OK");
        let mut m = lock(&self.calls);
        // Looked up by reference: names are copied only the first time they are seen.
        if !m.by_action.contains_key(action) {
            m.by_action
                .insert(action.to_owned(), ActionCalls::default());
        }
        let Some(a) = m.by_action.get_mut(action) else {
            return;
        };
        match a.codes.iter_mut().find(|(c, _)| c == code) {
            Some((_, n)) => *n += 1,
            None => a.codes.push((code.to_owned(), 1)),
        }
        a.durations.observe(took);
    }

    /// Counts one delivered endpoint connection notification of `event`.
    pub(crate) fn notified(&self, event: &'static str) {
        let mut m = lock(&self.notifications);
        *m.entry(event).or_default() += 1;
    }

    /// Counts the interface endpoints of a listing page: `kept` served from memory, `read`
    /// read from the store (see `actions/vpce_items.rs`).
    pub(crate) fn listing_items(&self, kept: u64, read: u64) {
        self.listing_items[0].fetch_add(kept, Relaxed);
        self.listing_items[1].fetch_add(read, Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = self.render_calls();
        let m = lock(&self.notifications);
        out.push_str("# HELP underpass_connection_notifications_total Endpoint connection notifications delivered, by event.\n# TYPE underpass_connection_notifications_total counter\n");
        for (event, n) in m.iter() {
            let _ = writeln!(
                out,
                "underpass_connection_notifications_total{{event=\"{event}\"}} {n}"
            );
        }
        out.push_str("# HELP underpass_endpoint_listing_items_total Interface endpoints listed by DescribeVpcEndpoints, by where their answer came from: memory (unchanged since kept) or the store.\n# TYPE underpass_endpoint_listing_items_total counter\n");
        for (source, n) in ["memory", "store"].iter().zip(&self.listing_items) {
            let n = n.load(Relaxed);
            let _ = writeln!(
                out,
                "underpass_endpoint_listing_items_total{{source=\"{source}\"}} {n}"
            );
        }
        out
    }

    fn render_calls(&self) -> String {
        // Copied out and sorted so the exposition is stable, and the lock is not held while
        // writing it.
        let mut by_action: BTreeMap<String, ActionCalls> = lock(&self.calls)
            .by_action
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut out = String::from("# HELP underpass_api_requests_total API calls by action and result code.\n# TYPE underpass_api_requests_total counter\n");
        for (action, a) in &mut by_action {
            a.codes.sort();
            for (code, n) in &a.codes {
                // Codes come from our own error enums; actions are from the known list.
                let _ = writeln!(
                    out,
                    "underpass_api_requests_total{{action=\"{action}\",code=\"{code}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP underpass_api_request_duration_seconds API calls by how long the server took, from the request read whole to its answer written (authentication, the action, the store's commit and its fsync), by action.\n# TYPE underpass_api_request_duration_seconds histogram\n");
        for (action, a) in &by_action {
            let h = &a.durations;
            write_histogram(
                &mut out,
                "underpass_api_request_duration_seconds",
                &format!("action=\"{action}\""),
                &BUCKETS,
                &h.buckets,
                h.sum_ns as f64 / 1e9,
            );
        }
        out
    }
}

/// The store's WAL fsync histogram in the Prometheus text exposition (the wait every
/// acknowledged write includes, as etcd's `etcd_disk_wal_fsync_duration_seconds`).
pub fn render_fsyncs(t: &underpass_store::FsyncTimes) -> String {
    let mut out = String::from("# HELP underpass_store_wal_fsync_duration_seconds fsyncs of the state store's write-ahead log by how long they took; every acknowledged write waited for one.\n# TYPE underpass_store_wal_fsync_duration_seconds histogram\n");
    write_histogram(
        &mut out,
        "underpass_store_wal_fsync_duration_seconds",
        "",
        &underpass_store::FSYNC_BUCKETS,
        &t.counts,
        t.sum.as_secs_f64(),
    );
    out
}

/// One histogram's series: cumulative `_bucket`s for `bounds` and `+Inf` from `counts` (per
/// bucket, one more than `bounds`), then `_sum` and `_count`; `labels` go before `le`.
fn write_histogram(
    out: &mut String,
    name: &str,
    labels: &str,
    bounds: &[f64],
    counts: &[u64],
    sum_secs: f64,
) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut below = 0;
    for (le, n) in bounds.iter().zip(counts) {
        below += n;
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {below}");
    }
    let total: u64 = counts.iter().sum();
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
    let braced = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braced} {sum_secs}");
    let _ = writeln!(out, "{name}_count{braced} {total}");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    }

    #[test]
    fn durations_are_cumulative_buckets_with_sum_and_count() {
        let m = Metrics::default();
        let ms = Duration::from_millis;
        m.count("CreateVpcEndpoint", None, Duration::from_micros(400));
        m.count("CreateVpcEndpoint", None, ms(2));
        m.count("CreateVpcEndpoint", Some("InvalidVpcId.NotFound"), ms(4));
        m.count("CreateVpcEndpoint", None, ms(30));
        m.count("CreateVpcEndpoint", None, Duration::from_secs(11));
        m.count("DescribeRegions", None, Duration::from_micros(900));
        let text = m.render();
        let b = |le: &str| {
            line(
                &text,
                &format!(
                    "underpass_api_request_duration_seconds_bucket{{action=\"CreateVpcEndpoint\",le=\"{le}\"}}"
                ),
            )
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned()
        };
        // A bound is inclusive (Prometheus's `le`), and each bucket counts everything below it.
        assert_eq!(b("0.0005"), "1");
        assert_eq!(b("0.001"), "1");
        assert_eq!(b("0.002"), "2");
        assert_eq!(b("0.005"), "3");
        assert_eq!(b("0.025"), "3");
        assert_eq!(b("0.05"), "4");
        assert_eq!(b("10"), "4");
        assert_eq!(b("+Inf"), "5");
        assert_eq!(
            line(
                &text,
                "underpass_api_request_duration_seconds_count{action=\"CreateVpcEndpoint\"}"
            ),
            "underpass_api_request_duration_seconds_count{action=\"CreateVpcEndpoint\"} 5"
        );
        let sum: f64 = line(
            &text,
            "underpass_api_request_duration_seconds_sum{action=\"CreateVpcEndpoint\"}",
        )
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
        assert!((sum - 11.0364).abs() < 1e-9, "{sum}");
        // The refusal is in the duration histogram, and under its own code in the counter.
        assert!(text.contains(
            "underpass_api_requests_total{action=\"CreateVpcEndpoint\",code=\"InvalidVpcId.NotFound\"} 1"
        ));
        assert!(text
            .contains("underpass_api_requests_total{action=\"CreateVpcEndpoint\",code=\"OK\"} 4"));
        assert!(text.contains(
            "underpass_api_request_duration_seconds_count{action=\"DescribeRegions\"} 1"
        ));
    }

    #[test]
    fn the_fsync_histogram_has_no_labels_but_le() {
        let mut counts = [0; underpass_store::FSYNC_BUCKETS.len() + 1];
        counts[1] = 3; // <= 0.25 ms
        counts[12] = 1; // past 5 s
        let text = render_fsyncs(&underpass_store::FsyncTimes {
            counts,
            sum: Duration::from_millis(6_000),
        });
        let name = "underpass_store_wal_fsync_duration_seconds";
        assert!(
            text.contains(&format!("{name}_bucket{{le=\"0.0001\"}} 0\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{name}_bucket{{le=\"0.00025\"}} 3\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{name}_bucket{{le=\"5\"}} 3\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{name}_bucket{{le=\"+Inf\"}} 4\n")),
            "{text}"
        );
        assert!(text.contains(&format!("{name}_sum 6\n")), "{text}");
        assert!(text.contains(&format!("{name}_count 4\n")), "{text}");
    }

    #[test]
    fn unknown_actions_share_one_label() {
        let m = Metrics::default();
        m.count(
            "NoSuchAction1",
            Some("InvalidAction"),
            Duration::from_millis(1),
        );
        m.count(
            "NoSuchAction2",
            Some("InvalidAction"),
            Duration::from_millis(1),
        );
        let text = m.render();
        assert!(text
            .contains("underpass_api_requests_total{action=\"unknown\",code=\"InvalidAction\"} 2"));
        assert!(text.contains("underpass_api_request_duration_seconds_count{action=\"unknown\"} 2"));
        assert!(!text.contains("NoSuchAction"));
    }
}
