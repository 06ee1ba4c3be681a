//! The aggregator: flows in, one batch of records per flow log and aggregation window out.
//!
//! Sans-IO (STYLE pattern 1): the caller drives it with the monotonic time `now` and the wall
//! clock `wall` it reads, calls [`Aggregator::handle_timeout`] at [`Aggregator::poll_timeout`]
//! and drains [`Aggregator::poll_output`]. Nothing here reads a clock.
//!
//! # Time (RELIABILITY item 90)
//!
//! Windows are measured on the monotonic clock: a window is due `interval` after it opened,
//! whatever the wall clock does, and the next one opens when it closes, so windows never
//! overlap and nothing falls between them. Their wall-clock labels (the `start`/`end` of the
//! records, the object keys) never go backwards: a window opens at the previous window's end
//! label and ends at `max(wall clock, start + 1 s)`. A wall clock that jumps forward shows as a
//! long window; one that jumps back makes the labels advance by one second per window until the
//! wall clock has caught up. A record's `start` and `end` are its flow's first and last activity
//! inside the window, measured from the window's opening on the monotonic clock and clamped to
//! the window's labels: durations are never negative and a record never leaves its window.
//!
//! # Records
//!
//! As in AWS, each direction of a flow is a record of its own, keyed by interface, 5-tuple and
//! action: the ingress record counts what the interface received from its TCP peer, the egress
//! record what it sent (REJECTed flows have the ingress record only). Observations of the same
//! flow within a window are merged. An interface without traffic in a window gets a `NODATA`
//! record; one for which records were lost (the queue before the aggregator was full, the
//! per-window bound was reached, or the writer had to drop a batch) gets a `SKIPDATA` record
//! (RELIABILITY item 88). Memory is bounded by [`Aggregator::with_max_records`] per flow log
//! and window.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::format::FlowLogFormat;
use crate::record::{Action, FlowRecord, LogStatus};
use crate::spec::{Destination, DestinationOptions, TrafficType};

/// TCP flag bits as flow logs print them (`tcp-flags`).
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u16 = 1;
    /// SYN.
    pub const SYN: u16 = 2;
    /// RST.
    pub const RST: u16 = 4;
    /// SYN-ACK (SYN with ACK, as AWS reports it).
    pub const SYN_ACK: u16 = 18;
}

/// Default bound on the records one flow log holds for one window.
pub const DEFAULT_MAX_RECORDS: usize = 100_000;

/// One interface a flow log covers, with the fields its records carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// `eni-…`.
    pub interface_id: String,
    /// The interface owner's account (`account-id`).
    pub account_id: String,
    /// `vpc-id`.
    pub vpc_id: Option<String>,
    /// `subnet-id`.
    pub subnet_id: Option<String>,
    /// `az-id`.
    pub az_id: Option<String>,
}

/// A flow log as the aggregator applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLogSpec {
    /// `fl-…`.
    pub id: String,
    /// The flow log's owner (the account in the object keys).
    pub account_id: String,
    /// `region`.
    pub region: String,
    /// The record format.
    pub format: FlowLogFormat,
    /// Which records to keep.
    pub traffic: TrafficType,
    /// The aggregation interval.
    pub interval: Duration,
    /// Where batches go.
    pub destination: Destination,
    /// How they are written there (file format, partitions).
    pub options: DestinationOptions,
    /// The interfaces it covers (on this agent).
    pub interfaces: Vec<InterfaceInfo>,
}

/// One flow (or the part of it since it was last observed), as one interface saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The interface.
    pub interface_id: String,
    /// Admitted or refused.
    pub action: Action,
    /// The interface's own address and port.
    pub local: SocketAddr,
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The original source, when the peer relays for someone (`pkt-srcaddr`).
    pub original_src: Option<IpAddr>,
    /// IANA protocol number.
    pub protocol: u8,
    /// First activity (monotonic).
    pub first: Instant,
    /// Last activity (monotonic).
    pub last: Instant,
    /// Bytes received from the peer.
    pub bytes_in: u64,
    /// Bytes sent to the peer.
    pub bytes_out: u64,
    /// Packets received, where known.
    pub packets_in: Option<u64>,
    /// Packets sent, where known.
    pub packets_out: Option<u64>,
    /// TCP flags received ([`tcp_flags`]).
    pub flags_in: u16,
    /// TCP flags sent.
    pub flags_out: u16,
}

/// The records of one flow log for one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// `fl-…`.
    pub flow_log_id: String,
    /// The flow log's owner.
    pub account_id: String,
    /// The region.
    pub region: String,
    /// Where it goes.
    pub destination: Destination,
    /// How it is written there (file format, partitions).
    pub options: DestinationOptions,
    /// The record format.
    pub format: FlowLogFormat,
    /// The window's start label, Unix seconds.
    pub start: u64,
    /// The window's end label, Unix seconds (> `start`).
    pub end: u64,
    /// The records, ingress before egress per flow, then SKIPDATA/NODATA records.
    pub records: Vec<FlowRecord>,
}

impl Batch {
    /// The interfaces that have records in the batch.
    pub fn interfaces(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .records
            .iter()
            .filter_map(|r| r.interface_id.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    Ingress,
    Egress,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    interface: String,
    direction: Direction,
    src: SocketAddr,
    dst: SocketAddr,
    protocol: u8,
    action: Action,
}

#[derive(Debug, Clone)]
struct Pending {
    seq: u64,
    pkt_src: IpAddr,
    pkt_dst: IpAddr,
    bytes: u64,
    packets: Option<u64>,
    flags: u16,
    first: Instant,
    last: Instant,
}

#[derive(Debug)]
struct Window {
    opened: Instant,
    label_start: u64,
}

#[derive(Debug)]
struct LogState {
    spec: FlowLogSpec,
    window: Window,
    pending: HashMap<Key, Pending>,
    skipped: BTreeMap<String, u64>,
    /// Records lost upstream for an unknown interface: every interface gets SKIPDATA.
    lost_all: u64,
    /// Status records for earlier windows whose batch was lost (written with the next batch).
    carry: Vec<FlowRecord>,
}

/// Counters, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AggregatorStats {
    /// Records handed out in batches (all statuses).
    pub records: u64,
    /// Observations or records that could not be kept (bounds, upstream drops, lost batches).
    pub skipped: u64,
    /// Batches handed out.
    pub batches: u64,
}

/// Flows in, batches out. See the module documentation.
#[derive(Debug)]
pub struct Aggregator {
    logs: BTreeMap<String, LogState>,
    out: VecDeque<Batch>,
    last_label: u64,
    seq: u64,
    max_records: usize,
    stats: AggregatorStats,
}

fn unix_secs(wall: SystemTime) -> u64 {
    wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Aggregator {
    /// An aggregator with no flow logs.
    pub fn new() -> Self {
        Self {
            logs: BTreeMap::new(),
            out: VecDeque::new(),
            last_label: 0,
            seq: 0,
            max_records: DEFAULT_MAX_RECORDS,
            stats: AggregatorStats::default(),
        }
    }

    /// Bounds the records one flow log holds per window (at least 1); more are counted as
    /// skipped and reported with `SKIPDATA`.
    pub fn with_max_records(mut self, n: usize) -> Self {
        self.max_records = n.max(1);
        self
    }

    /// Counters so far.
    pub fn stats(&self) -> AggregatorStats {
        self.stats
    }

    /// The flow logs applied, by id.
    pub fn flow_log_ids(&self) -> Vec<String> {
        self.logs.keys().cloned().collect()
    }

    fn open_label(&mut self, wall: SystemTime) -> u64 {
        let l = unix_secs(wall).max(self.last_label);
        self.last_label = l;
        l
    }

    /// Replaces the flow logs. Logs that are gone close their window now (their last batch is
    /// queued); new logs open a window now; kept logs keep their window and records.
    pub fn set_flow_logs(&mut self, now: Instant, wall: SystemTime, specs: Vec<FlowLogSpec>) {
        let gone: Vec<String> = self
            .logs
            .keys()
            .filter(|id| !specs.iter().any(|s| &s.id == *id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(mut log) = self.logs.remove(&id) {
                self.close(&mut log, now, wall);
            }
        }
        for spec in specs {
            if let Some(log) = self.logs.get_mut(&spec.id) {
                log.spec = spec;
                continue;
            }
            let label_start = self.open_label(wall);
            self.logs.insert(
                spec.id.clone(),
                LogState {
                    spec,
                    window: Window {
                        opened: now,
                        label_start,
                    },
                    pending: HashMap::new(),
                    skipped: BTreeMap::new(),
                    lost_all: 0,
                    carry: Vec::new(),
                },
            );
        }
    }

    /// Adds a flow to every flow log that covers its interface and keeps its action.
    pub fn handle_flow(&mut self, obs: &Observation) {
        for log in self.logs.values_mut() {
            if !log.spec.traffic.keeps(obs.action)
                || !log
                    .spec
                    .interfaces
                    .iter()
                    .any(|i| i.interface_id == obs.interface_id)
            {
                continue;
            }
            let first = obs.first.max(log.window.opened);
            let last = obs.last.max(first);
            let mut dirs = vec![(
                Direction::Ingress,
                obs.peer,
                obs.local,
                obs.original_src.unwrap_or(obs.peer.ip()),
                obs.local.ip(),
                obs.bytes_in,
                obs.packets_in,
                obs.flags_in,
            )];
            if obs.action == Action::Accept {
                dirs.push((
                    Direction::Egress,
                    obs.local,
                    obs.peer,
                    obs.local.ip(),
                    obs.original_src.unwrap_or(obs.peer.ip()),
                    obs.bytes_out,
                    obs.packets_out,
                    obs.flags_out,
                ));
            }
            for (direction, src, dst, pkt_src, pkt_dst, bytes, packets, flags) in dirs {
                let key = Key {
                    interface: obs.interface_id.clone(),
                    direction,
                    src,
                    dst,
                    protocol: obs.protocol,
                    action: obs.action,
                };
                if let Some(p) = log.pending.get_mut(&key) {
                    p.bytes = p.bytes.saturating_add(bytes);
                    p.packets = match (p.packets, packets) {
                        (Some(a), Some(b)) => Some(a.saturating_add(b)),
                        (a, b) => a.or(b),
                    };
                    p.flags |= flags;
                    p.first = p.first.min(first);
                    p.last = p.last.max(last);
                    continue;
                }
                if log.pending.len() >= self.max_records {
                    *log.skipped.entry(obs.interface_id.clone()).or_default() += 1;
                    self.stats.skipped += 1;
                    continue;
                }
                self.seq += 1;
                log.pending.insert(
                    key,
                    Pending {
                        seq: self.seq,
                        pkt_src,
                        pkt_dst,
                        bytes,
                        packets,
                        flags,
                        first,
                        last,
                    },
                );
            }
        }
    }

    /// `n` flows were lost before they reached the aggregator (a full queue): every interface
    /// of every flow log gets `SKIPDATA` for the current window.
    pub fn handle_lost(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        self.stats.skipped = self.stats.skipped.saturating_add(n);
        for log in self.logs.values_mut() {
            log.lost_all = log.lost_all.saturating_add(n);
        }
    }

    /// A batch of `flow_log_id` could not be delivered and was dropped: its interfaces get a
    /// `SKIPDATA` record for its window, written with the flow log's next batch.
    pub fn handle_lost_batch(&mut self, lost: &Batch) {
        self.stats.skipped = self.stats.skipped.saturating_add(lost.records.len() as u64);
        let Some(log) = self.logs.get_mut(&lost.flow_log_id) else {
            return;
        };
        let version = log.spec.format.version();
        for iface in lost.interfaces() {
            let account = log
                .spec
                .interfaces
                .iter()
                .find(|i| i.interface_id == iface)
                .map_or_else(|| log.spec.account_id.clone(), |i| i.account_id.clone());
            log.carry.push(FlowRecord::status_only(
                version,
                &account,
                &iface,
                lost.start,
                lost.end,
                LogStatus::SkipData,
            ));
        }
    }

    /// When the earliest open window is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.logs
            .values()
            .map(|l| l.window.opened + l.spec.interval)
            .min()
    }

    /// Closes every window that is due at `now`, queueing its batch.
    pub fn handle_timeout(&mut self, now: Instant, wall: SystemTime) {
        let due: Vec<String> = self
            .logs
            .iter()
            .filter(|(_, l)| now >= l.window.opened + l.spec.interval)
            .map(|(id, _)| id.clone())
            .collect();
        self.close_ids(&due, now, wall);
    }

    /// Closes every window now (an on-demand flush, or shutdown).
    pub fn flush(&mut self, now: Instant, wall: SystemTime) {
        let all: Vec<String> = self.logs.keys().cloned().collect();
        self.close_ids(&all, now, wall);
    }

    fn close_ids(&mut self, ids: &[String], now: Instant, wall: SystemTime) {
        for id in ids {
            if let Some(mut log) = self.logs.remove(id) {
                self.close(&mut log, now, wall);
                self.logs.insert(id.clone(), log);
            }
        }
    }

    /// The next batch, if any.
    pub fn poll_output(&mut self) -> Option<Batch> {
        self.out.pop_front()
    }

    /// Closes `log`'s window: queues its batch (if it has any record) and opens the next one.
    fn close(&mut self, log: &mut LogState, now: Instant, wall: SystemTime) {
        let start = log.window.label_start;
        let end = unix_secs(wall).max(start.saturating_add(1));
        self.last_label = self.last_label.max(end);
        let opened = log.window.opened;
        let at = |t: Instant| -> u64 {
            let secs = t.saturating_duration_since(opened).as_secs();
            start.saturating_add(secs).min(end)
        };
        let spec = &log.spec;
        let version = spec.format.version();
        let mut pending: Vec<(Key, Pending)> = log.pending.drain().collect();
        pending.sort_by_key(|(_, p)| p.seq);
        let mut records = std::mem::take(&mut log.carry);
        let mut with_data = std::collections::BTreeSet::new();
        for (key, p) in pending {
            let iface = spec
                .interfaces
                .iter()
                .find(|i| i.interface_id == key.interface);
            with_data.insert(key.interface.clone());
            records.push(FlowRecord {
                version: Some(version),
                account_id: Some(
                    iface.map_or_else(|| spec.account_id.clone(), |i| i.account_id.clone()),
                ),
                interface_id: Some(key.interface.clone()),
                srcaddr: Some(key.src.ip()),
                dstaddr: Some(key.dst.ip()),
                srcport: Some(key.src.port()),
                dstport: Some(key.dst.port()),
                protocol: Some(key.protocol),
                packets: p.packets,
                bytes: Some(p.bytes),
                start: Some(at(p.first)),
                end: Some(at(p.last)),
                action: Some(key.action),
                log_status: Some(LogStatus::Ok),
                vpc_id: iface.and_then(|i| i.vpc_id.clone()),
                subnet_id: iface.and_then(|i| i.subnet_id.clone()),
                instance_id: None,
                tcp_flags: (key.protocol == 6).then_some(p.flags),
                traffic_type: Some(if key.src.is_ipv4() { "IPv4" } else { "IPv6" }.to_owned()),
                pkt_srcaddr: Some(p.pkt_src),
                pkt_dstaddr: Some(p.pkt_dst),
                region: Some(spec.region.clone()),
                az_id: iface.and_then(|i| i.az_id.clone()),
                sublocation_type: None,
                sublocation_id: None,
                pkt_src_aws_service: None,
                pkt_dst_aws_service: None,
                flow_direction: Some(
                    match key.direction {
                        Direction::Ingress => "ingress",
                        Direction::Egress => "egress",
                    }
                    .to_owned(),
                ),
                traffic_path: None,
                reject_reason: None,
            });
        }
        for iface in &spec.interfaces {
            let skipped =
                log.lost_all > 0 || log.skipped.get(&iface.interface_id).is_some_and(|n| *n > 0);
            let status = if skipped {
                LogStatus::SkipData
            } else if with_data.contains(&iface.interface_id) {
                continue;
            } else {
                LogStatus::NoData
            };
            records.push(FlowRecord::status_only(
                version,
                &iface.account_id,
                &iface.interface_id,
                start,
                end,
                status,
            ));
        }
        log.skipped.clear();
        log.lost_all = 0;
        log.window = Window {
            opened: now,
            label_start: end,
        };
        if records.is_empty() {
            return;
        }
        self.stats.records = self.stats.records.saturating_add(records.len() as u64);
        self.stats.batches += 1;
        self.out.push_back(Batch {
            flow_log_id: spec.id.clone(),
            account_id: spec.account_id.clone(),
            region: spec.region.clone(),
            destination: spec.destination.clone(),
            options: spec.options,
            format: spec.format.clone(),
            start,
            end,
            records,
        });
    }
}

impl Default for Aggregator {
    fn default() -> Self {
        Self::new()
    }
}
