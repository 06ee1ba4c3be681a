//! Running the real `underpass` binary on loopback (STYLE pattern 8): spawn, read the line that
//! says where it listens (bounded wait), kill on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A child process that is killed when dropped.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) lines: mpsc::Receiver<String>,
}

impl Running {
    /// The next stdout line, within `wait`.
    pub(crate) fn line(&self, wait: Duration) -> String {
        self.lines
            .recv_timeout(wait)
            .unwrap_or_else(|e| panic!("no output line within {wait:?}: {e}"))
    }

    /// `kill -9`.
    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (bounded) for a clean exit; returns the exit status.
    pub(crate) fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns the binary with `args`, capturing stdout line by line.
pub(crate) fn spawn(args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_underpass"));
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .env("UNDERPASS_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn underpass");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Running { child, lines }
}

/// Runs the CLI to completion: (exit code, stdout, stderr).
pub(crate) fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_underpass"));
    cmd.args(args)
        .env_remove("AWS_PROFILE")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run underpass");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One HTTP/1.0 GET over a fresh connection from `from` (a loopback source address); returns
/// the status line and body, or the I/O error text.
pub(crate) async fn http_get(
    addr: std::net::SocketAddr,
    from: Option<std::net::IpAddr>,
) -> Result<(String, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
        if let Some(ip) = from {
            socket.bind((ip, 0).into()).map_err(|e| e.to_string())?;
        }
        let mut s = socket.connect(addr).await.map_err(|e| e.to_string())?;
        s.write_all(b"GET / HTTP/1.0\r\nHost: demo\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text.lines().next().unwrap_or("").to_owned();
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .map_err(|_| "timed out".to_owned())?
}

/// Polls `check` every 200 ms until it returns true, for at most `wait`.
pub(crate) async fn eventually(wait: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// A free TCP port on loopback.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A temporary directory path inside `dir`.
pub(crate) fn sub(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// A `underpass server` process on loopback ports chosen by the OS.
pub(crate) struct Server {
    pub(crate) process: Running,
    pub(crate) url: String,
    pub(crate) data: String,
}

/// Starts `underpass server` on `data` with `extra` flags and waits for its address line.
pub(crate) fn start_server(data: &str, extra: &[&str]) -> Server {
    let mut args = vec![
        "server",
        "--data-dir",
        data,
        "--listen",
        "127.0.0.1:0",
        "--agent-listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let process = spawn(&args, &[]);
    let line = process.line(Duration::from_secs(30));
    let api = line
        .split_whitespace()
        .nth(3)
        .expect("api listening on ADDR agents on ADDR")
        .to_owned();
    Server {
        process,
        url: format!("http://{api}"),
        data: data.to_owned(),
    }
}

impl Server {
    /// A client signed with the administrator's key from the data dir.
    pub(crate) fn admin(&self) -> underpass_cli::Client {
        let text = std::fs::read_to_string(format!("{}/admin-credentials.json", self.data))
            .expect("admin credentials");
        let v: serde_json::Value = serde_json::from_str(&text).expect("admin credentials JSON");
        let pair = (
            v["access_key_id"].as_str().unwrap_or_default().to_owned(),
            v["secret_access_key"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        underpass_cli::Client::new(
            &self.url,
            "us-east-1",
            underpass_cli::walkthrough::creds(&pair),
        )
        .expect("client")
    }
}

/// A small HTTP service standing in for the provider's: HTTP/1.0 requests get one answer and
/// a close, HTTP/1.1 ones keep the connection (for live-flow tests).
pub(crate) async fn http_backend(addr: &str) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind the backend");
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                // HTTP/1.0 requests get one answer and a close; HTTP/1.1 ones keep the connection.
                while let Ok(n) = s.read(&mut buf).await {
                    let reply = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n");
                    if n == 0
                        || reply.await.is_err()
                        || buf[..n].windows(8).any(|w| w == b"HTTP/1.0")
                    {
                        return;
                    }
                }
            });
        }
    })
}

/// Replaces the inbound rules of security group `sg` with one: TCP `port` from `cidr` only
/// (the new rule first, then the old ones revoked, as an operator would).
#[allow(dead_code)] // not every test binary that includes this module narrows a group
pub(crate) async fn admit_only(consumer: &underpass_cli::Client, sg: &str, port: u16, cidr: &str) {
    let rules = consumer
        .call(
            "DescribeSecurityGroupRules",
            &serde_json::json!({"Filters": [{"Name": "group-id", "Values": [sg]}, {"Name": "is-egress", "Values": ["false"]}]}),
        )
        .await
        .unwrap();
    let rule_ids: Vec<&str> = rules["SecurityGroupRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["SecurityGroupRuleId"].as_str().unwrap())
        .collect();
    consumer
        .call(
            "AuthorizeSecurityGroupIngress",
            &serde_json::json!({"GroupId": sg, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}]}),
        )
        .await
        .unwrap();
    consumer
        .call(
            "RevokeSecurityGroupIngress",
            &serde_json::json!({"GroupId": sg, "SecurityGroupRuleIds": rule_ids}),
        )
        .await
        .unwrap();
}
