//! What `bench/api` asks for (one JSON line on stdin) and what it gets back (one on stdout).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One measurement: every worker runs the same kind of loop on its own connection.
#[derive(Debug, Deserialize)]
pub(crate) struct Job {
    /// The server's address (a loopback address: `bench/api` starts both servers there).
    pub(crate) host: String,
    /// The server's port.
    pub(crate) port: u16,
    /// The region of the signing scope.
    pub(crate) region: String,
    /// The service of the signing scope (`ec2`).
    pub(crate) service: String,
    /// What each worker does (`"kind": "create" | "regions" | "describe"` and its fields).
    #[serde(flatten)]
    pub(crate) kind: Kind,
    /// The bound of the timed loop, seconds.
    pub(crate) seconds: f64,
    /// A cheap call's form body, sent a few times untimed before the measurement.
    pub(crate) warmup: String,
    /// How many untimed warm-up calls each worker makes.
    pub(crate) warmup_calls: u32,
    /// Seconds a worker waits after a throttling answer, as an SDK would.
    pub(crate) throttle_backoff: f64,
    /// Tries of one CreateVpcEndpoint while it is throttled.
    pub(crate) create_attempts: u32,
    /// One entry per worker (and connection).
    pub(crate) workers: Vec<WorkerJob>,
}

/// The loop a worker runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Kind {
    /// Send each of the worker's `bodies` once (tried again while throttled); each answer must
    /// name the endpoint it made.
    Create,
    /// Send `body` up to `max_calls` times; each answer must name a region.
    Regions {
        /// The form body.
        body: String,
        /// The bound on calls per worker.
        max_calls: u64,
    },
    /// Full pagings, following `nextToken`; page `i` must list `expect[i]` endpoints and only
    /// the last page has no token.
    Describe {
        /// The form body of the first page; later pages add `&NextToken=…`.
        base: String,
        /// The number of endpoints on each page of a full paging.
        expect: Vec<usize>,
        /// The bound on full pagings per worker.
        max_pagings: u64,
    },
}

/// One worker's share.
#[derive(Debug, Deserialize)]
pub(crate) struct WorkerJob {
    /// The access keys (id, secret) it signs with, in turn, as that many clients would.
    pub(crate) keys: Vec<(String, String)>,
    /// For `create`: the form bodies to send, one endpoint each.
    #[serde(default)]
    pub(crate) bodies: Vec<String>,
}

/// One worker's figures, in the shape of the Python workers' (`bench/api`'s `worker`).
#[derive(Debug, Default, Serialize)]
pub(crate) struct WorkerResult {
    /// Latency of each good call, microseconds, send to last byte read.
    pub(crate) lat_us: Vec<u64>,
    /// Good calls.
    pub(crate) ok: u64,
    /// Failed calls by kind.
    pub(crate) errors: BTreeMap<String, u64>,
    /// Calls answered with a throttling error.
    pub(crate) throttled: u64,
    /// Full pagings completed.
    pub(crate) pagings: u64,
    /// Endpoints created (create only).
    pub(crate) ids: Vec<String>,
    /// Endpoints created or listed by good calls.
    pub(crate) items: u64,
    /// Seconds from the start signal to this worker's first call.
    pub(crate) t_start: f64,
    /// Seconds from the start signal to this worker's end.
    pub(crate) t_end: f64,
    /// Connections opened during the timed loop.
    pub(crate) reconnects: u64,
    /// Set when the worker could not run at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fatal: Option<String>,
}

impl WorkerResult {
    /// Counts one failed call of kind `why`.
    pub(crate) fn error(&mut self, why: String) {
        *self.errors.entry(why).or_insert(0) += 1;
    }
}

/// A request for the Authorization header of one fixed request (`sign-check`), so the harness
/// can compare it with botocore's before it trusts this client's signatures.
#[derive(Debug, Deserialize)]
pub(crate) struct SignCheck {
    /// The access key id.
    pub(crate) access_key_id: String,
    /// The secret access key.
    pub(crate) secret_access_key: String,
    /// The Host header.
    pub(crate) host: String,
    /// The form body.
    pub(crate) body: String,
    /// `X-Amz-Date`, `YYYYMMDDTHHMMSSZ`.
    pub(crate) amz_date: String,
    /// The region of the scope.
    pub(crate) region: String,
    /// The service of the scope.
    pub(crate) service: String,
}
