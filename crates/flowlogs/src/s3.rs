//! The S3 sink: objects into an S3 bucket or an S3-compatible store (MinIO, moto, Ceph…),
//! through `object_store`'s `AmazonS3`.
//!
//! Each object is one `PutObject`: S3 makes it visible whole or not at all, and a retry of the
//! same key replaces it, so the deterministic keys of [`crate::object_key`] make delivery
//! exactly-once. Requests are retried with capped, jittered exponential backoff for a bounded
//! time, and every put has an overall deadline: a store that is down or stalled makes `put`
//! return an error within seconds, and the caller's spool and retry loop take over
//! (RELIABILITY item 89). The async client runs on a small current-thread tokio runtime owned
//! by the sink, so callers are plain threads (and must not be tokio tasks).

use std::fmt;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as StorePath;
use object_store::{BackoffConfig, ClientOptions, ObjectStoreExt as _, PutPayload, RetryConfig};
use zeroize::Zeroizing;

use crate::sink::{checked_key, Sink, SinkError};
use crate::spec::Destination;

/// The longest a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest one request may take (a large Parquet object on a slow link).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// No retry starts later than this after the first attempt.
const RETRY_TIMEOUT: Duration = Duration::from_secs(4);
/// The overall bound of one put, retries included.
pub const PUT_DEADLINE: Duration = Duration::from_secs(60);

/// How to reach an S3-compatible store. The secret and the session token are zeroed on drop and
/// never printed (`Debug` shows `***`).
#[derive(Clone)]
pub struct S3Settings {
    /// The store's URL (`http://127.0.0.1:9000`, `https://minio.example`); `None` for AWS S3
    /// itself. With an endpoint, requests are path-style (`<endpoint>/<bucket>/<key>`).
    pub endpoint: Option<String>,
    /// The signing region (`us-east-1` for most S3-compatible stores).
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Zeroizing<String>,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<Zeroizing<String>>,
    /// Whether a plain `http://` endpoint is accepted (loopback stores in tests and dev).
    pub allow_http: bool,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// A bucket (and key prefix) of an S3-compatible store.
pub struct S3Sink {
    store: AmazonS3,
    bucket: String,
    prefix: String,
    rt: tokio::runtime::Runtime,
}

impl fmt::Debug for S3Sink {
    // Not derived: the client holds the credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Sink")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl S3Sink {
    /// The sink of an `s3` destination (`arn:aws:s3:::bucket[/prefix]`), with `settings`.
    pub fn new(destination: &Destination, settings: &S3Settings) -> Result<Self, SinkError> {
        let Destination::S3 { bucket, prefix } = destination else {
            return Err(SinkError::Unsupported(destination.value()));
        };
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
            },
            max_retries: 4,
            retry_timeout: RETRY_TIMEOUT,
        };
        let client = ClientOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT)
            .with_allow_http(settings.allow_http);
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(settings.secret_access_key.as_str())
            .with_allow_http(settings.allow_http)
            .with_retry(retry)
            .with_client_options(client);
        if let Some(token) = &settings.session_token {
            b = b.with_token(token.as_str());
        }
        if let Some(endpoint) = &settings.endpoint {
            b = b
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        let store = b.build().map_err(|e| SinkError::S3Config(e.to_string()))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("underpass-s3-sink")
            .build()
            .map_err(|source| SinkError::Io {
                op: "starting the S3 client runtime for",
                path: destination.value(),
                source,
            })?;
        Ok(Self {
            store,
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            rt,
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The full key of `key` in the bucket (under the destination's prefix).
    pub fn full_key(&self, key: &str) -> Result<StorePath, SinkError> {
        let key = checked_key(key)?;
        if self.prefix.is_empty() {
            return Ok(key);
        }
        let full = format!("{}/{key}", self.prefix);
        StorePath::parse(&full).map_err(|_| SinkError::BadPath(full.chars().take(128).collect()))
    }
}

impl Sink for S3Sink {
    fn put(&self, key: &str, body: &[u8]) -> Result<(), SinkError> {
        let path = self.full_key(key)?;
        let payload = PutPayload::from(bytes::Bytes::copy_from_slice(body));
        let put = self.rt.block_on(async {
            // Built inside the runtime: the timer needs its context.
            tokio::time::timeout(PUT_DEADLINE, self.store.put(&path, payload)).await
        });
        match put {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(source)) => Err(SinkError::Store {
                op: "putting",
                key: format!("s3://{}/{path}", self.bucket),
                source,
            }),
            Err(_) => Err(SinkError::TimedOut {
                op: "putting",
                key: format!("s3://{}/{path}", self.bucket),
                secs: PUT_DEADLINE.as_secs(),
            }),
        }
    }
}
