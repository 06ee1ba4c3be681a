//! The driver: each worker is a task with its own kept-alive HTTP/1.1 connection and its own
//! access keys; all of them run on one thread, so the client's CPU stays small beside the
//! server's and is counted (by `bench/api`) as one process's.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::Request;
use hyper_util::rt::TokioIo;
use time::OffsetDateTime;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use underpass_auth::sigv4::{sign_request, HttpRequest, PayloadSigning, SigningParams};

use crate::check;
use crate::job::{Job, Kind, WorkerJob, WorkerResult};

/// The Content-Type botocore sends with a Query-protocol form body.
pub(crate) const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The bound on one call, connection included: a server that stops answering fails the call
/// instead of holding the measurement (the Python client's socket timeout).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    /// The TCP connection could not be made.
    #[error("connect: {0}")]
    Connect(#[source] std::io::Error),
    /// HTTP/1.1 failed on the connection.
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built or signed.
    #[error("request: {0}")]
    Request(String),
    /// No answer within [`CALL_TIMEOUT`].
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

impl CallError {
    /// The label a failed call is counted under.
    fn label(&self) -> &'static str {
        match self {
            Self::Connect(_) => "ConnectError",
            Self::Http(_) => "HttpError",
            Self::Request(_) => "RequestError",
            Self::Timeout(_) => "Timeout",
        }
    }
}

/// Where the calls go and how they are signed; the same for every worker.
#[derive(Debug)]
struct Target {
    host: String,
    port: u16,
    authority: String,
    region: String,
    service: String,
}

/// Builds a signed `POST /` with a form body: content-type, host and x-amz-date signed, as
/// botocore's SigV4Auth does for the Query protocol (`sign-check` lets the harness compare).
pub(crate) fn signed_request(
    authority: &str,
    key: &(String, String),
    region: &str,
    service: &str,
    body: Bytes,
    at: OffsetDateTime,
) -> Result<Request<Full<Bytes>>, CallError> {
    let headers: [(&str, &[u8]); 2] = [
        ("content-type", CONTENT_TYPE.as_bytes()),
        ("host", authority.as_bytes()),
    ];
    let signed = sign_request(
        &HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: &body,
        },
        &SigningParams {
            access_key_id: &key.0,
            secret_access_key: &key.1,
            session_token: None,
            region,
            service,
            time: at,
            payload: PayloadSigning::Hash,
            path_mode: None,
        },
    )
    .map_err(|e| CallError::Request(e.to_string()))?;
    let mut req = Request::post("/")
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, CONTENT_TYPE);
    for (name, value) in signed.headers() {
        req = req.header(name.as_str(), value.as_str());
    }
    req.body(Full::new(body))
        .map_err(|e| CallError::Request(e.to_string()))
}

/// One kept-alive connection, opened again when the server closes it.
struct Conn {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
    opened: u64,
}

impl Conn {
    /// A sender ready for the next request, on the kept connection or a new one.
    async fn ready(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, CallError> {
        if let Some(mut sender) = self.sender.take() {
            // A connection the server closed after its last answer fails here, not mid-call.
            if sender.ready().await.is_ok() {
                return Ok(self.sender.insert(sender));
            }
        }
        let stream = TcpStream::connect((self.target.host.as_str(), self.target.port))
            .await
            .map_err(CallError::Connect)?;
        stream.set_nodelay(true).map_err(CallError::Connect)?;
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // The connection's own driver; its end (or error) reaches the sender.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        sender.ready().await?;
        self.opened += 1;
        Ok(self.sender.insert(sender))
    }

    /// Sends one signed call: (status, body, send-to-last-byte time).
    async fn post(
        &mut self,
        body: Bytes,
        key: &(String, String),
    ) -> Result<(u16, Bytes, Duration), CallError> {
        let attempt = async {
            let target = Arc::clone(&self.target);
            let req = signed_request(
                &target.authority,
                key,
                &target.region,
                &target.service,
                body,
                OffsetDateTime::now_utc(),
            )?;
            let sender = self.ready().await?;
            let t0 = Instant::now();
            let resp = sender.send_request(req).await?;
            let status = resp.status().as_u16();
            let data = resp.into_body().collect().await?.to_bytes();
            Ok((status, data, t0.elapsed()))
        };
        let out = match tokio::time::timeout(CALL_TIMEOUT, attempt).await {
            Ok(out) => out,
            Err(_) => Err(CallError::Timeout(CALL_TIMEOUT)),
        };
        if out.is_err() {
            self.sender = None;
        }
        out
    }
}

/// What one timed call came to.
enum Call {
    /// HTTP 200: the body and the latency.
    Good(Bytes, Duration),
    /// A throttling error, after the back-off.
    Throttled,
    /// Any other failure, already counted.
    Failed,
}

/// One worker: its connection, its keys in turn, its figures.
struct Worker {
    conn: Conn,
    keys: Vec<(String, String)>,
    turn: usize,
    backoff: Duration,
    res: WorkerResult,
}

impl Worker {
    fn next_key(&mut self) -> usize {
        self.turn = (self.turn + 1) % self.keys.len();
        self.turn
    }

    /// An untimed call that must succeed.
    async fn warm(&mut self, body: Bytes) -> Result<Bytes, String> {
        let i = self.next_key();
        let (status, data, _) = self
            .conn
            .post(body, &self.keys[i])
            .await
            .map_err(|e| format!("warm-up call: {e}"))?;
        if status != 200 {
            return Err(format!(
                "warm-up call: {}",
                check::describe_error(status, &data)
            ));
        }
        Ok(data)
    }

    async fn call(&mut self, body: Bytes) -> Call {
        let i = self.next_key();
        match self.conn.post(body, &self.keys[i]).await {
            Err(e) => {
                self.res.error(e.label().to_owned());
                Call::Failed
            }
            Ok((200, data, dt)) => Call::Good(data, dt),
            Ok((status, data, _)) => {
                self.res.error(check::describe_error(status, &data));
                if check::is_throttle(&data) {
                    self.res.throttled += 1;
                    tokio::time::sleep(self.backoff).await;
                    Call::Throttled
                } else {
                    Call::Failed
                }
            }
        }
    }

    fn good(&mut self, dt: Duration, items: u64) {
        self.res.ok += 1;
        self.res.items += items;
        self.res.lat_us.push(dt.as_micros() as u64);
    }
}

/// A page's form body: the first page's, with the token when there is one.
fn page_body(base: &str, token: Option<&str>) -> Bytes {
    match token {
        None => Bytes::copy_from_slice(base.as_bytes()),
        Some(t) => {
            let enc: String = form_urlencoded::byte_serialize(t.as_bytes()).collect();
            Bytes::from(format!("{base}&NextToken={enc}"))
        }
    }
}

/// Runs the job: every worker warms up, then `go` is awaited, then the timed loops run.
/// `ready(n)` is called once all `n` workers are warm (or have failed).
pub(crate) async fn run(
    job: Job,
    ready: impl FnOnce(usize),
    go: impl Future<Output = ()>,
) -> Vec<WorkerResult> {
    let target = Arc::new(Target {
        authority: format!("{}:{}", job.host, job.port),
        host: job.host,
        port: job.port,
        region: job.region,
        service: job.service,
    });
    let settings = Arc::new(Settings {
        kind: job.kind,
        warmup: Bytes::from(job.warmup),
        warmup_calls: job.warmup_calls,
        seconds: Duration::from_secs_f64(job.seconds.max(0.0)),
        backoff: Duration::from_secs_f64(job.throttle_backoff.max(0.0)),
        create_attempts: job.create_attempts.max(1),
    });
    let n = job.workers.len();
    let (ready_tx, mut ready_rx) = mpsc::channel(n.max(1));
    let (go_tx, go_rx) = watch::channel(None);
    let handles: Vec<_> = job
        .workers
        .into_iter()
        .map(|w| {
            tokio::spawn(worker(
                Arc::clone(&target),
                Arc::clone(&settings),
                w,
                ready_tx.clone(),
                go_rx.clone(),
            ))
        })
        .collect();
    drop(ready_tx);
    for _ in 0..n {
        if ready_rx.recv().await.is_none() {
            break;
        }
    }
    ready(n);
    go.await;
    // Receivers that already ended (a failed worker) make `send` fail; that is fine.
    let _ = go_tx.send(Some(Instant::now()));
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.unwrap_or_else(|e| WorkerResult {
            fatal: Some(format!("worker task: {e}")),
            ..WorkerResult::default()
        }));
    }
    out
}

/// What every worker shares of the job.
struct Settings {
    kind: Kind,
    warmup: Bytes,
    warmup_calls: u32,
    seconds: Duration,
    backoff: Duration,
    create_attempts: u32,
}

async fn worker(
    target: Arc<Target>,
    settings: Arc<Settings>,
    job: WorkerJob,
    ready: mpsc::Sender<()>,
    mut go: watch::Receiver<Option<Instant>>,
) -> WorkerResult {
    if job.keys.is_empty() {
        let _ = ready.send(()).await;
        return WorkerResult {
            fatal: Some("a worker without access keys".to_owned()),
            ..WorkerResult::default()
        };
    }
    let mut w = Worker {
        conn: Conn {
            target,
            sender: None,
            opened: 0,
        },
        keys: job.keys,
        turn: 0,
        backoff: settings.backoff,
        res: WorkerResult::default(),
    };
    if let Err(e) = warm_up(&mut w, &settings).await {
        let _ = ready.send(()).await;
        w.res.fatal = Some(e);
        return w.res;
    }
    w.conn.opened = 0;
    let _ = ready.send(()).await;
    let start = match go.wait_for(Option::is_some).await {
        Ok(at) => at.unwrap_or_else(Instant::now),
        Err(_) => {
            w.res.fatal = Some("the start signal never came".to_owned());
            return w.res;
        }
    };
    let deadline = start + settings.seconds;
    w.res.t_start = start.elapsed().as_secs_f64();
    match &settings.kind {
        Kind::Create => create_loop(&mut w, job.bodies, deadline, settings.create_attempts).await,
        Kind::Regions { body, max_calls } => {
            regions_loop(&mut w, Bytes::from(body.clone()), *max_calls, deadline).await
        }
        Kind::Describe {
            base,
            expect,
            max_pagings,
        } => describe_loop(&mut w, base, expect, *max_pagings, deadline).await,
    }
    w.res.t_end = start.elapsed().as_secs_f64();
    w.res.reconnects = w.conn.opened;
    w.res
}

/// Untimed: the first use of the connection, code and pages; before DescribeVpcEndpoints, one
/// paging of the measured call itself (bounded by the page count).
async fn warm_up(w: &mut Worker, settings: &Settings) -> Result<(), String> {
    for _ in 0..settings.warmup_calls {
        w.warm(settings.warmup.clone()).await?;
    }
    if let Kind::Describe { base, expect, .. } = &settings.kind {
        let mut token = None;
        for _ in 0..=expect.len() {
            let data = w.warm(page_body(base, token.as_deref())).await?;
            token = check::next_token(&data);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(())
}

async fn create_loop(w: &mut Worker, bodies: Vec<String>, deadline: Instant, attempts: u32) {
    for body in bodies {
        let body = Bytes::from(body);
        let mut got = Call::Failed;
        for _ in 0..attempts {
            if Instant::now() >= deadline {
                break;
            }
            got = w.call(body.clone()).await;
            if !matches!(got, Call::Throttled) {
                break;
            }
        }
        let Call::Good(data, dt) = got else { continue };
        match check::created_endpoint_id(&data) {
            Some(id) => {
                w.res.ids.push(id.to_owned());
                w.good(dt, 1);
            }
            None => w.res.error("200 without a vpcEndpointId".to_owned()),
        }
    }
}

async fn regions_loop(w: &mut Worker, body: Bytes, max_calls: u64, deadline: Instant) {
    for _ in 0..max_calls {
        if Instant::now() >= deadline {
            break;
        }
        let Call::Good(data, dt) = w.call(body.clone()).await else {
            continue;
        };
        if check::names_a_region(&data) {
            w.good(dt, 0);
        } else {
            w.res.error("200 without a region".to_owned());
        }
    }
}

async fn describe_loop(
    w: &mut Worker,
    base: &str,
    expect: &[usize],
    max_pagings: u64,
    deadline: Instant,
) {
    for _ in 0..max_pagings {
        if Instant::now() >= deadline {
            break;
        }
        let mut token: Option<String> = None;
        let mut page = 0;
        while Instant::now() < deadline {
            // A paging cannot go on without its token: a failed page starts it over.
            let Call::Good(data, dt) = w.call(page_body(base, token.as_deref())).await else {
                break;
            };
            let n = check::listed_endpoints(&data);
            token = check::next_token(&data);
            let want = expect.get(page).copied().unwrap_or(0);
            let last = page + 1 == expect.len();
            if n != want || token.is_none() != last {
                let has = if token.is_some() { "a" } else { "no" };
                w.res.error(format!(
                    "page {page}: {n} endpoints (want {want}), {has} NextToken"
                ));
                break;
            }
            w.good(dt, n as u64);
            page += 1;
            if token.is_none() {
                w.res.pagings += 1;
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_page_carries_its_token_form_encoded() {
        let base = "Action=DescribeVpcEndpoints&Version=2016-11-15&MaxResults=100";
        assert_eq!(page_body(base, None), Bytes::from(base));
        assert_eq!(
            page_body(base, Some("a b+c/=&")),
            Bytes::from(format!("{base}&NextToken=a+b%2Bc%2F%3D%26"))
        );
    }

    #[test]
    fn a_signed_request_carries_the_signed_headers() -> Result<(), CallError> {
        let at = OffsetDateTime::from_unix_timestamp(1_440_938_160)
            .map_err(|e| CallError::Request(e.to_string()))?;
        let key = ("AKIDEXAMPLE".to_owned(), "secret".to_owned());
        let req = signed_request(
            "127.0.0.1:4510",
            &key,
            "us-east-1",
            "ec2",
            Bytes::from_static(b"Action=DescribeRegions&Version=2016-11-15"),
            at,
        )?;
        let h = req.headers();
        assert_eq!(h["host"], "127.0.0.1:4510");
        assert_eq!(h["content-type"], CONTENT_TYPE);
        assert_eq!(h["x-amz-date"], "20150830T123600Z");
        let auth = h["authorization"].to_str().unwrap_or_default();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature="
            ),
            "{auth}"
        );
        Ok(())
    }
}
