//! `underpass`: the one binary. `server` runs the control plane, `agent` runs inside a network,
//! `dev` runs everything on loopback, and the service subcommands (`ec2`, `elbv2`, `iam`, `sts`,
//! `admin`) call the API. anyhow lives only here, at the edge.
#![forbid(unsafe_code)]

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc instead of glibc's malloc: DataFusion's scans and the API's many short-lived
/// buffers allocate and free large blocks at a high rate, and glibc returns each one to the
/// kernel (munmap, then page faults on the next); `flowlogs query` spent a third of its time
/// there (bench/flowlogs, REJECT query 0.80 s → 0.48 s with the allocator keeping memory).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes scripts can rely on.
pub(crate) mod exit {
    /// The API refused the call (4xx: bad input, not found, not authorized).
    pub(crate) const API_ERROR: u8 = 1;
    /// The command line was wrong.
    pub(crate) const USAGE: u8 = 2;
    /// The server could not be reached.
    pub(crate) const UNREACHABLE: u8 = 3;
    /// The server failed (5xx) or a local fault stopped the command.
    pub(crate) const FAILURE: u8 = 4;
}

#[derive(Parser)]
#[command(
    name = "underpass",
    version,
    about = "Private service connectivity you run yourself, in the style of AWS PrivateLink.",
    long_about = "Private service connectivity you run yourself, in the style of AWS PrivateLink.\n\n\
A provider publishes a service from its network behind a load balancer; a consumer in another network reaches it \
through an interface endpoint, a private address of its own. Every hop is mutually authenticated TLS 1.3, the \
provider accepts each connection, and every call to the API is SigV4-signed and IAM-authorized.",
    after_help = "Start here:\n  underpass dev                      everything on loopback, with a working endpoint\n  \
underpass ec2 describe-vpc-endpoints   (after exporting the variables `underpass dev` prints)\n\n\
Exit codes: 0 ok, 1 the API refused the call, 2 usage error, 3 server unreachable, 4 server or local failure."
)]
struct Cli {
    /// Log format on stderr (text is coloured only on a terminal, and not when NO_COLOR is
    /// non-empty).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "UNDERPASS_LOG_FORMAT")]
    log_format: LogFormat,
    /// Threads that run connections and requests (default: one per core). With 1, everything
    /// runs on one thread, as a single nginx worker or `haproxy nbthread 1` does: no flow's
    /// bytes hop between cores, which on a small machine shared with other processes gives
    /// the most throughput per core and the lowest latency.
    #[arg(long, global = true, env = "UNDERPASS_WORKER_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    worker_threads: Option<u16>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane: API, certificate authority, agent sync.
    Server(cmd::server::ServerArgs),
    /// Run everything on loopback: control plane, a provider and a consumer network, two agents,
    /// a demo backend, and an endpoint that works.
    Dev(cmd::dev::DevArgs),
    /// Run an agent inside a network (enrolls with a join token on first start).
    Agent(cmd::agent::AgentArgs),
    /// EC2 actions: VPCs, subnets, security groups, endpoint services, endpoints, connections.
    Ec2(cmd::call::CallArgs),
    /// ELBv2 actions: load balancers, target groups, targets, listeners.
    Elbv2(cmd::call::CallArgs),
    /// IAM actions: users, access keys, roles, policies.
    Iam(cmd::call::CallArgs),
    /// STS actions: AssumeRole, GetCallerIdentity.
    Sts(cmd::call::CallArgs),
    /// Underpass actions: accounts, agent join tokens, agents.
    Admin(cmd::call::CallArgs),
    /// Flow logs: `query "<SQL>"` over the objects of a destination (a directory or S3).
    Flowlogs(cmd::flowlogs::FlowLogsArgs),
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("UNDERPASS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour_logs(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Whether text logs are coloured: only on a terminal, and not when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>). Logs sent to a file, a pipe or
/// journald stay plain text.
fn colour_logs(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut builder = match cli.worker_threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(usize::from(n));
            b
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let is_call = matches!(
        cli.command,
        Command::Ec2(_) | Command::Elbv2(_) | Command::Iam(_) | Command::Sts(_) | Command::Admin(_)
    );
    if !is_call {
        init_logs(cli.log_format);
    }
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Server(a) => cmd::server::run(a).await,
            Command::Dev(a) => cmd::dev::run(a).await,
            Command::Agent(a) => cmd::agent::run(a).await,
            Command::Ec2(a) => cmd::call::run("ec2", a).await,
            Command::Elbv2(a) => cmd::call::run("elasticloadbalancing", a).await,
            Command::Iam(a) => cmd::call::run("iam", a).await,
            Command::Sts(a) => cmd::call::run("sts", a).await,
            Command::Admin(a) => cmd::call::run("underpass", a).await,
            Command::Flowlogs(a) => cmd::flowlogs::run(a).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::colour_logs;

    #[test]
    fn logs_are_coloured_only_on_a_terminal_and_without_no_color() {
        assert!(colour_logs(true, None));
        assert!(colour_logs(true, Some(OsStr::new(""))));
        assert!(!colour_logs(true, Some(OsStr::new("1"))));
        assert!(!colour_logs(false, None));
        assert!(!colour_logs(false, Some(OsStr::new(""))));
    }
}
