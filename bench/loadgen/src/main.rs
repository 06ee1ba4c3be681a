//! `underpass-loadgen`: the compiled client of `bench/api`.
//!
//! `bench/api` sets up each server with boto3, then hands the timed loops to this program: one
//! process, one thread, one kept-alive HTTP/1.1 connection per worker, every call SigV4-signed
//! and its answer checked. A Python worker spends about 100 us of CPU on each call, a third of
//! what Underpass's server spends on a CreateVpcEndpoint; on a machine where client and server
//! share the cores that measured the client as much as the server. The same program drives
//! moto_server, so the comparison stays one client against two servers.
//!
//! Protocol (one JSON line each way, so the harness can time and bound every step):
//!   stdin  line 1: the job (`job::Job`)
//!   stdout line 1: `{"ready": N}` once the N workers are connected and warm
//!   stdin  line 2: `go`
//!   stdout line 2: `{"workers": [...]}`, one `job::WorkerResult` each
//!
//! `underpass-loadgen sign-check` reads one `job::SignCheck` and prints the Authorization
//! header it would send, for the harness to compare with botocore's.

mod check;
mod job;
mod run;

use std::io::{BufRead, Write};
use std::process::ExitCode;

use bytes::Bytes;
use time::macros::format_description;
use time::PrimitiveDateTime;

const USAGE: &str = "\
underpass-loadgen: the client of bench/api (signed AWS Query calls, timed and checked)

usage:
  underpass-loadgen              run one job: the job as a JSON line on stdin, then `go`
  underpass-loadgen sign-check   print the Authorization header for one request (JSON on stdin)

bench/api starts it; see bench/README.md and the module doc of src/main.rs for the protocol.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => run_job(),
        ["sign-check"] => sign_check(),
        ["-h" | "--help"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown arguments {args:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("underpass-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_line() -> Result<String, String> {
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("stdin: {e}"))?;
    if n == 0 {
        return Err("stdin closed".to_owned());
    }
    Ok(line)
}

fn say(value: &serde_json::Value) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))
}

fn run_job() -> Result<(), String> {
    let job: job::Job = serde_json::from_str(&read_line()?).map_err(|e| format!("the job: {e}"))?;
    // One thread: the workers' tasks take turns on it, as the server's requests would wait
    // for one client core; the CPU bench/api charges to the client is this process's.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let mut said = Ok(());
    let mut heard = Ok(());
    let results = rt.block_on(run::run(
        job,
        |n| said = say(&serde_json::json!({ "ready": n })),
        async {
            // The harness reads its figures of the server between `ready` and `go`.
            heard = match tokio::task::spawn_blocking(read_line).await {
                Ok(Ok(line)) if line.trim() == "go" => Ok(()),
                Ok(Ok(line)) => Err(format!("expected `go`, got {:?}", line.trim())),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(format!("stdin reader: {e}")),
            };
        },
    ));
    said?;
    heard?;
    say(&serde_json::json!({ "workers": results }))
}

fn sign_check() -> Result<(), String> {
    let c: job::SignCheck =
        serde_json::from_str(&read_line()?).map_err(|e| format!("the request: {e}"))?;
    let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
    let at = PrimitiveDateTime::parse(&c.amz_date, &fmt)
        .map_err(|e| format!("amz_date {:?}: {e}", c.amz_date))?
        .assume_utc();
    let req = run::signed_request(
        &c.host,
        &(c.access_key_id, c.secret_access_key),
        &c.region,
        &c.service,
        Bytes::from(c.body),
        at,
    )
    .map_err(|e| e.to_string())?;
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("no Authorization header")?;
    say(&serde_json::json!({ "authorization": auth }))
}
