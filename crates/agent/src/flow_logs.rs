//! The agent's flow-log writer: flow events from the data plane in, objects in AWS's layout out.
//!
//! The data plane hands every flow event to [`FlowLogSink`] on its event thread (behind a
//! bounded queue: a slow writer never slows traffic; what the queue drops is counted and becomes
//! `SKIPDATA`). The sink adds the event to the [`Aggregator`] under a short lock. A thread of the
//! writer's own closes the aggregation windows when they are due (or on [`FlowLogWriter::flush`]),
//! encodes each batch as its flow log asks (gzip text or Parquet, EC2's `DestinationOptions`)
//! and puts it through a [`Sink`]: a [`FileSink`] under the flow-log root for `file`
//! destinations, an [`S3Sink`] built from [`FlowLogSettings::s3`] for `s3` ones. Sinks are
//! built once per destination and kept.
//!
//! Long flows are reported window by window: when windows close, the writer samples the data
//! plane's live flows ([`LiveFlows`]) and adds the bytes (and the kernel's segment counts) each
//! moved since it was last sampled; a flow's final event then adds only what is left (and its
//! FIN or RST). With several
//! aggregation intervals on one agent, bytes sampled at one flow log's window close count in the
//! other flow logs' current windows.
//!
//! Failures never reach the data plane. A batch that cannot be written (a full disk, a missing
//! or read-only directory, S3 down past the sink's bounded retries) stays in a bounded spool
//! and is retried every second, under the same deterministic key, so a retry never duplicates
//! it; a destination that fails holds back only its own batches. When the spool is full the
//! oldest batch is dropped, counted, and a `SKIPDATA` record for its window goes out with the
//! next batch of its flow log (RELIABILITY items 88 and 89). Writing resumes by itself when
//! space (or the store) returns.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use underpass_dataplane::{
    tcp_flags, DroppedFlowEvents, FlowAction, FlowEvent, FlowSide, FlowSink, LiveFlow, LiveFlows,
};
use underpass_flowlogs::{
    encode_parquet, encode_text, object_key, Action, Aggregator, Batch, Destination,
    DestinationOptions, FileFormat, FileSink, FlowLogFormat, FlowLogSpec, InterfaceInfo,
    Observation, ParquetError, S3Settings, S3Sink, Sink, SinkError, TrafficType,
};
use underpass_proto::sync::{AgentState, FlowLogDelivery};
use zeroize::Zeroizing;

/// How often the writer wakes at least (spool retries, the drop counter).
const TICK: Duration = Duration::from_secs(1);
/// Default bound on the records waiting in the spool.
pub const DEFAULT_SPOOL_RECORDS: usize = 200_000;

/// How the writer runs.
#[derive(Debug, Clone)]
pub struct FlowLogSettings {
    /// The flow-log root: `file` destinations are directories under it.
    pub root: PathBuf,
    /// Replaces every flow log's aggregation interval (tests and `underpass dev`).
    pub interval_override: Option<Duration>,
    /// Records the spool may hold before the oldest batch is dropped.
    pub spool_records: usize,
    /// How to reach S3 (or an S3-compatible store) for `s3` destinations; without it their
    /// batches fail with [`SinkError::NoS3Settings`] (and are spooled, then dropped).
    pub s3: Option<S3Settings>,
}

impl FlowLogSettings {
    /// Settings with `root` and the defaults.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            interval_override: None,
            spool_records: DEFAULT_SPOOL_RECORDS,
            s3: None,
        }
    }

    /// S3 settings from the agent's flags (`endpoint`, `region`, `allow_http`) and the
    /// standard AWS variables read through `env` (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`). `None` when no credentials are set and no endpoint is given.
    /// A plain `http://` endpoint is accepted on loopback addresses, elsewhere only with
    /// `allow_http` (the requests are signed, not encrypted).
    pub fn s3_from(
        endpoint: Option<&str>,
        region: &str,
        allow_http: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<S3Settings>, SinkError> {
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        let refuse = |why: String| Err(SinkError::S3Config(why));
        let (key, secret) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"));
        let (access_key_id, secret_access_key) =
            match (key, secret) {
                (Some(k), Some(s)) => (k, Zeroizing::new(s)),
                (None, None) if endpoint.is_none() => return Ok(None),
                (None, None) => return refuse(
                    "an S3 endpoint is set but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not"
                        .into(),
                ),
                _ => {
                    return refuse(
                        "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither".into(),
                    )
                }
            };
        if region.is_empty() {
            return refuse("the S3 region is empty".into());
        }
        let mut plain_http = false;
        if let Some(url) = endpoint {
            let rest = if let Some(rest) = url.strip_prefix("http://") {
                plain_http = true;
                rest
            } else if let Some(rest) = url.strip_prefix("https://") {
                rest
            } else {
                return refuse(format!(
                    "the S3 endpoint {url:?} must start with https:// (or http://)"
                ));
            };
            let authority = rest.split('/').next().unwrap_or_default();
            let host = match authority.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or_default(),
                None => authority.split(':').next().unwrap_or_default(),
            };
            if host.is_empty() {
                return refuse(format!("the S3 endpoint {url:?} names no host"));
            }
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if plain_http && !loopback && !allow_http {
                return refuse(format!(
                    "the S3 endpoint {url:?} is plain HTTP on a non-loopback host: use https://, \
                     or allow it explicitly (--flow-logs-s3-allow-http)"
                ));
            }
        }
        Ok(Some(S3Settings {
            endpoint: endpoint.map(str::to_owned),
            region: region.to_owned(),
            access_key_id,
            secret_access_key,
            session_token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
            allow_http: plain_http,
        }))
    }
}

/// What the writer did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowLogStats {
    /// Objects written.
    pub objects: u64,
    /// Records written (in those objects).
    pub records: u64,
    /// Batches dropped because the spool was full.
    pub dropped_batches: u64,
    /// Failed writes (each retried until its batch is dropped).
    pub write_errors: u64,
    /// The last write error, if any.
    pub last_error: Option<String>,
    /// Records not kept (the per-window bound, events the data plane's queue dropped,
    /// batches the full spool dropped): each is behind a `SKIPDATA` record.
    pub skipped: u64,
}

enum Cmd {
    Wake,
    Flush(Option<Sender<()>>),
    Stop,
}

/// What was already reported of a live flow.
#[derive(Debug, Clone, Copy)]
struct Reported {
    bytes_in: u64,
    bytes_out: u64,
    /// Segments reported so far (in, out); `None` once a sample could not read them (the
    /// flow's later records then say `-`, rather than a count that spans windows).
    segments: Option<(u64, u64)>,
    flags_in: u16,
    flags_out: u16,
    /// The flow's last activity when it was last sampled.
    at: Instant,
    /// Samples in a row the flow was absent from (its final event may have been dropped).
    missing: u8,
}

/// The aggregator and the live flows' reported counters, under one lock: a final event and a
/// sample of the same flow never interleave.
struct Agg {
    aggregator: Aggregator,
    reported: HashMap<(String, u64), Reported>,
}

struct Shared {
    settings: FlowLogSettings,
    aggregator: Mutex<Agg>,
    writer_id: Mutex<String>,
    drops: Mutex<Option<DroppedFlowEvents>>,
    live: Mutex<Option<LiveFlows>>,
    stats: Mutex<FlowLogStats>,
    /// Each flow log's last delivery: `None` when it succeeded, else EC2's error message.
    delivery: Mutex<HashMap<String, Option<&'static str>>>,
    cmd: Mutex<Sender<Cmd>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent; a panic elsewhere does not spoil it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The writer; clones share it.
#[derive(Clone)]
pub struct FlowLogWriter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FlowLogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowLogWriter")
            .field("root", &self.shared.settings.root)
            .finish_non_exhaustive()
    }
}

impl FlowLogWriter {
    /// Starts the writer's thread. It writes nothing until a state names flow logs.
    pub fn start(settings: FlowLogSettings) -> std::io::Result<Self> {
        let (tx, rx) = channel();
        let shared = Arc::new(Shared {
            settings,
            aggregator: Mutex::new(Agg {
                aggregator: Aggregator::new(),
                reported: HashMap::new(),
            }),
            writer_id: Mutex::new(String::from("agent")),
            drops: Mutex::new(None),
            live: Mutex::new(None),
            stats: Mutex::new(FlowLogStats::default()),
            delivery: Mutex::default(),
            cmd: Mutex::new(tx),
            thread: Mutex::new(None),
        });
        let worker = shared.clone();
        let handle = std::thread::Builder::new()
            .name("underpass-flow-logs".into())
            .spawn(move || run(&worker, &rx))?;
        *lock(&shared.thread) = Some(handle);
        Ok(Self { shared })
    }

    /// The flow-log root.
    pub fn root(&self) -> &std::path::Path {
        &self.shared.settings.root
    }

    /// The sink to hand to [`underpass_dataplane::Dataplane::new`].
    pub fn sink(&self) -> FlowLogSink {
        FlowLogSink {
            shared: self.shared.clone(),
        }
    }

    /// Follows the data plane's count of dropped events (each drop becomes `SKIPDATA`).
    pub fn watch_drops(&self, drops: DroppedFlowEvents) {
        *lock(&self.shared.drops) = Some(drops);
    }

    /// Samples the data plane's live flows when windows close (long flows are reported in
    /// every window they move bytes in).
    pub fn watch_live_flows(&self, live: LiveFlows) {
        *lock(&self.shared.live) = Some(live);
    }

    /// Applies the flow logs of `state` (the ones this agent can write; others are logged).
    pub fn apply(&self, state: &AgentState) {
        *lock(&self.shared.writer_id) = state.agent.id.to_string();
        let specs = specs(state, self.shared.settings.interval_override);
        lock(&self.shared.delivery).retain(|id, _| {
            state
                .flow_logs
                .iter()
                .any(|f| f.flow_log_id.to_string() == *id)
        });
        lock(&self.shared.aggregator).aggregator.set_flow_logs(
            Instant::now(),
            SystemTime::now(),
            specs,
        );
        self.send(Cmd::Wake);
    }

    /// Closes every window now and writes the batches; waits up to `wait` for the writes.
    /// Returns whether they finished in time.
    pub fn flush(&self, wait: Duration) -> bool {
        let (tx, rx) = channel();
        self.send(Cmd::Flush(Some(tx)));
        rx.recv_timeout(wait).is_ok()
    }

    /// Asks for a flush without waiting (from a signal handler's task, say).
    pub fn request_flush(&self) {
        self.send(Cmd::Flush(None));
    }

    /// What the writer did so far.
    pub fn stats(&self) -> FlowLogStats {
        let skipped = lock(&self.shared.aggregator).aggregator.stats().skipped;
        FlowLogStats {
            skipped,
            ..lock(&self.shared.stats).clone()
        }
    }

    /// How each flow log's last delivery went (for the health report, and so for EC2's
    /// `DeliverLogsStatus`), by flow-log id.
    pub fn delivery(&self) -> Vec<FlowLogDelivery> {
        let mut out: Vec<FlowLogDelivery> = lock(&self.shared.delivery)
            .iter()
            .map(|(id, error)| FlowLogDelivery {
                flow_log_id: id.clone(),
                error: error.map(str::to_owned),
            })
            .collect();
        out.sort_by(|a, b| a.flow_log_id.cmp(&b.flow_log_id));
        out
    }

    /// Closes every window, writes what it can, and stops the thread (blocking).
    pub fn shutdown(&self) {
        self.send(Cmd::Stop);
        if let Some(handle) = lock(&self.shared.thread).take() {
            let _ = handle.join();
        }
    }

    fn send(&self, cmd: Cmd) {
        let _ = lock(&self.shared.cmd).send(cmd);
    }
}

/// The data plane's [`FlowSink`]: each event goes into the aggregator at once.
pub struct FlowLogSink {
    shared: Arc<Shared>,
}

impl FlowSink for FlowLogSink {
    fn record(&self, ev: FlowEvent) {
        let mut obs = observation(&ev);
        let mut agg = lock(&self.shared.aggregator);
        if let Some(r) = agg.reported.remove(&(obs.interface_id.clone(), ev.flow_id)) {
            // The rest of a flow whose earlier bytes were reported from samples.
            obs.bytes_in = obs.bytes_in.saturating_sub(r.bytes_in);
            obs.bytes_out = obs.bytes_out.saturating_sub(r.bytes_out);
            match r.segments {
                Some((segs_in, segs_out)) => {
                    obs.packets_in = obs.packets_in.map(|p| p.saturating_sub(segs_in));
                    obs.packets_out = obs.packets_out.map(|p| p.saturating_sub(segs_out));
                }
                None => (obs.packets_in, obs.packets_out) = (None, None),
            }
            obs.flags_in &= !r.flags_in;
            obs.flags_out &= !r.flags_out;
            obs.first = obs.first.max(r.at);
            obs.last = obs.last.max(obs.first);
            let sampled = r.bytes_in > 0 || r.bytes_out > 0;
            let nothing_new =
                obs.bytes_in == 0 && obs.bytes_out == 0 && obs.flags_in == 0 && obs.flags_out == 0;
            if sampled && nothing_new {
                return;
            }
        }
        agg.aggregator.handle_flow(&obs);
    }
}

/// Adds what each live flow moved since it was last sampled; forgets flows that have been gone
/// for three samples (their final event never came: the queue dropped it).
fn sample_live(agg: &mut Agg, flows: Vec<LiveFlow>) {
    let mut present = HashSet::new();
    for f in flows {
        let key = (f.interface_id.to_string(), f.flow_id);
        present.insert(key.clone());
        let r = agg.reported.entry(key).or_insert(Reported {
            bytes_in: 0,
            bytes_out: 0,
            segments: Some((0, 0)),
            flags_in: 0,
            flags_out: 0,
            at: f.start_instant,
            missing: 0,
        });
        r.missing = 0;
        let bytes_in = f.bytes_in.saturating_sub(r.bytes_in);
        let bytes_out = f.bytes_out.saturating_sub(r.bytes_out);
        if bytes_in == 0 && bytes_out == 0 {
            continue;
        }
        let flags_in = tcp_flags::SYN & !r.flags_in;
        let flags_out = tcp_flags::SYN_ACK & !r.flags_out;
        let first = r.at.max(f.start_instant);
        let segments = r.segments.zip(f.segments);
        let packets = segments.map(|((was_in, was_out), (now_in, now_out))| {
            (
                now_in.saturating_sub(was_in),
                now_out.saturating_sub(was_out),
            )
        });
        let obs = Observation {
            interface_id: f.interface_id.to_string(),
            action: Action::Accept,
            local: f.dst,
            peer: f.src,
            original_src: match f.side {
                FlowSide::Gateway { .. } => f.client.map(|c| c.ip()),
                FlowSide::Endpoint => None,
            },
            protocol: 6,
            first,
            last: f.last_instant.max(first),
            bytes_in,
            bytes_out,
            packets_in: packets.map(|p| p.0),
            packets_out: packets.map(|p| p.1),
            flags_in,
            flags_out,
        };
        *r = Reported {
            bytes_in: f.bytes_in,
            bytes_out: f.bytes_out,
            segments: segments.map(|(_, now)| now),
            flags_in: r.flags_in | flags_in,
            flags_out: r.flags_out | flags_out,
            at: f.last_instant,
            missing: 0,
        };
        agg.aggregator.handle_flow(&obs);
    }
    agg.reported.retain(|k, r| {
        if present.contains(k) {
            return true;
        }
        r.missing = r.missing.saturating_add(1);
        r.missing < 3
    });
}

/// A flow event as the aggregator sees it: the ENI's own address is the local end, its TCP peer
/// the remote one; on a gateway node the original client is the packet-level source.
fn observation(ev: &FlowEvent) -> Observation {
    Observation {
        interface_id: ev.interface_id.to_string(),
        action: match ev.action {
            FlowAction::Accept => Action::Accept,
            FlowAction::Reject => Action::Reject,
        },
        local: ev.dst,
        peer: ev.src,
        original_src: match ev.side {
            FlowSide::Gateway { .. } => ev.client.map(|c| c.ip()),
            FlowSide::Endpoint => None,
        },
        protocol: ev.protocol,
        first: ev.start_instant,
        last: ev.end_instant.max(ev.start_instant),
        bytes_in: ev.bytes_in,
        bytes_out: ev.bytes_out,
        packets_in: ev.packets_in,
        packets_out: ev.packets_out,
        flags_in: ev.tcp_flags_in,
        flags_out: ev.tcp_flags_out,
    }
}

/// The flow logs of `state` this writer serves. Each is checked again here (the control plane
/// checked it once): a bad format or a destination that could leave the root is skipped.
fn specs(state: &AgentState, interval_override: Option<Duration>) -> Vec<FlowLogSpec> {
    let mut out = Vec::new();
    for f in &state.flow_logs {
        let id = f.flow_log_id.to_string();
        let checked = (|| -> Result<FlowLogSpec, String> {
            let format = FlowLogFormat::parse(&f.log_format).map_err(|e| e.to_string())?;
            let traffic: TrafficType = f.traffic_type.parse().map_err(|e| format!("{e}"))?;
            let destination = Destination::parse(&f.destination_type, &f.destination)
                .map_err(|e| e.to_string())?;
            let options = DestinationOptions::parse(
                &f.file_format,
                f.hive_compatible_partitions,
                f.per_hour_partition,
            )
            .map_err(|e| e.to_string())?;
            Ok(FlowLogSpec {
                id: id.clone(),
                account_id: f.account.clone(),
                region: f.region.clone(),
                format,
                traffic,
                interval: interval_override
                    .unwrap_or(Duration::from_secs(u64::from(f.max_aggregation_interval))),
                destination,
                options,
                interfaces: f
                    .interfaces
                    .iter()
                    .map(|i| InterfaceInfo {
                        interface_id: i.eni_id.to_string(),
                        account_id: i.account.clone(),
                        vpc_id: Some(i.vpc_id.to_string()),
                        subnet_id: Some(i.subnet_id.to_string()),
                        az_id: Some(i.zone.clone()),
                    })
                    .collect(),
            })
        })();
        match checked {
            Ok(spec) => out.push(spec),
            Err(e) => tracing::warn!(flow_log = %id, error = %e, "flow log not written"),
        }
    }
    out
}

/// Batches waiting to be written, bounded in records.
#[derive(Default)]
struct Spool {
    batches: VecDeque<Batch>,
    records: usize,
}

fn run(shared: &Shared, rx: &Receiver<Cmd>) {
    let mut spool = Spool::default();
    let mut sinks = Sinks::default();
    let mut seen_drops = 0u64;
    let mut reported: HashSet<String> = HashSet::new();
    loop {
        let wait = lock(&shared.aggregator)
            .aggregator
            .poll_timeout()
            .map_or(TICK, |t| t.saturating_duration_since(Instant::now()))
            .min(TICK);
        let (flush, done, stop) = match rx.recv_timeout(wait) {
            Ok(Cmd::Wake) | Err(RecvTimeoutError::Timeout) => (false, None, false),
            Ok(Cmd::Flush(done)) => (true, done, false),
            Ok(Cmd::Stop) | Err(RecvTimeoutError::Disconnected) => (true, None, true),
        };
        let dropped = lock(&shared.drops)
            .as_ref()
            .map_or(0, DroppedFlowEvents::get);
        let live = lock(&shared.live).clone();
        {
            let (now, wall) = (Instant::now(), SystemTime::now());
            let mut guard = lock(&shared.aggregator);
            let agg = &mut *guard;
            if dropped > seen_drops {
                agg.aggregator.handle_lost(dropped - seen_drops);
                seen_drops = dropped;
            }
            let due = flush || agg.aggregator.poll_timeout().is_some_and(|t| t <= now);
            if let (true, Some(live)) = (due, &live) {
                sample_live(agg, live.snapshot());
            }
            let agg = &mut agg.aggregator;
            if flush {
                agg.flush(now, wall);
            } else {
                agg.handle_timeout(now, wall);
            }
            while let Some(b) = agg.poll_output() {
                spool.records += b.records.len();
                spool.batches.push_back(b);
            }
        }
        write_spool(shared, &mut spool, &mut sinks, &mut reported);
        if let Some(done) = done {
            let _ = done.send(());
        }
        if stop {
            if !spool.batches.is_empty() {
                tracing::warn!(
                    batches = spool.batches.len(),
                    "flow-log batches not written at shutdown"
                );
            }
            return;
        }
    }
}

/// The sinks built so far, by destination (an S3 client is worth keeping).
#[derive(Default)]
struct Sinks(HashMap<Destination, Arc<dyn Sink>>);

/// The most sinks kept; past it the cache starts over (destinations come and go with states).
const MAX_SINKS: usize = 64;

impl Sinks {
    fn get(
        &mut self,
        settings: &FlowLogSettings,
        destination: &Destination,
    ) -> Result<Arc<dyn Sink>, SinkError> {
        if let Some(s) = self.0.get(destination) {
            return Ok(s.clone());
        }
        let sink: Arc<dyn Sink> = match destination {
            Destination::File { .. } => Arc::new(FileSink::new(&settings.root, destination)?),
            Destination::S3 { .. } => {
                let s3 = settings
                    .s3
                    .as_ref()
                    .ok_or_else(|| SinkError::NoS3Settings(destination.value()))?;
                Arc::new(S3Sink::new(destination, s3)?)
            }
        };
        if self.0.len() >= MAX_SINKS {
            self.0.clear();
        }
        self.0.insert(destination.clone(), sink.clone());
        Ok(sink)
    }
}

/// Why a batch was not written.
#[derive(Debug, thiserror::Error)]
enum WriteError {
    /// The sink failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The Parquet encoder failed.
    #[error("encoding Parquet: {0}")]
    Parquet(#[from] ParquetError),
}

/// Writes spooled batches, oldest first; a destination that fails keeps the rest of its
/// batches for the next round (in order), others go on. Then bounds the spool.
fn write_spool(
    shared: &Shared,
    spool: &mut Spool,
    sinks: &mut Sinks,
    reported: &mut HashSet<String>,
) {
    let writer = lock(&shared.writer_id).clone();
    let mut failed: HashMap<Destination, &'static str> = HashMap::new();
    let mut i = 0;
    while let Some(batch) = spool.batches.get(i) {
        if let Some(error) = failed.get(&batch.destination) {
            // Held back behind a failed batch of the same destination: it fails alike.
            lock(&shared.delivery).insert(batch.flow_log_id.clone(), Some(*error));
            i += 1;
            continue;
        }
        match put(&shared.settings, sinks, batch, &writer) {
            Ok(()) => {
                let mut st = lock(&shared.stats);
                st.objects += 1;
                st.records += batch.records.len() as u64;
                drop(st);
                lock(&shared.delivery).insert(batch.flow_log_id.clone(), None);
                reported.remove(&batch.flow_log_id);
                spool.records -= batch.records.len();
                spool.batches.remove(i);
            }
            Err(e) => {
                let msg = e.to_string();
                if reported.insert(batch.flow_log_id.clone()) {
                    tracing::warn!(flow_log = %batch.flow_log_id, error = %msg,
                        "flow-log batch not written; retrying");
                }
                let mut st = lock(&shared.stats);
                st.write_errors += 1;
                st.last_error = Some(msg);
                drop(st);
                let error = e.deliver_logs_error();
                lock(&shared.delivery).insert(batch.flow_log_id.clone(), Some(error));
                failed.insert(batch.destination.clone(), error);
                i += 1;
            }
        }
    }
    while spool.records > shared.settings.spool_records {
        let Some(lost) = spool.batches.pop_front() else {
            break;
        };
        spool.records -= lost.records.len();
        lock(&shared.stats).dropped_batches += 1;
        tracing::warn!(flow_log = %lost.flow_log_id, records = lost.records.len(),
            "flow-log spool full: batch dropped (SKIPDATA follows)");
        lock(&shared.aggregator).aggregator.handle_lost_batch(&lost);
    }
}

impl WriteError {
    /// EC2's `DeliverLogsErrorMessage` for this failure (see [`SinkError::deliver_logs_error`]).
    fn deliver_logs_error(&self) -> &'static str {
        match self {
            Self::Parquet(_) => "Unknown error",
            Self::Sink(e) => e.deliver_logs_error(),
        }
    }
}

fn put(
    settings: &FlowLogSettings,
    sinks: &mut Sinks,
    batch: &Batch,
    writer: &str,
) -> Result<(), WriteError> {
    let sink = sinks.get(settings, &batch.destination)?;
    let body = match batch.options.file_format {
        FileFormat::PlainText => encode_text(batch),
        FileFormat::Parquet => encode_parquet(batch)?,
    };
    sink.put(&object_key(batch, writer), &body)?;
    Ok(())
}
