//! The service subcommands: `underpass ec2 create-vpc --cidr-block 10.0.0.0/16`.

use underpass_cli::args::{kebab, params, pascal};
use underpass_cli::output::{render, Output};
use underpass_cli::profile::{resolve, Overrides};
use underpass_cli::{Client, ClientError};
use underpass_domain::api::serves;

use crate::exit;

/// Arguments of a service subcommand.
#[derive(clap::Args)]
#[command(
    after_help = "Parameters are the action's fields in kebab-case, as with the AWS CLI:\n  \
underpass ec2 create-vpc --cidr-block 10.0.0.0/16\n  underpass ec2 create-vpc-endpoint --vpc-id vpc-… --service-name com.… \
--subnet-ids subnet-a --subnet-ids subnet-b\n  underpass ec2 accept-vpc-endpoint-connections --service-id vpce-svc-… --vpc-endpoint-ids vpce-…\n\
Repeat a flag for a list; pass JSON for structures; --cli-input-json '{…}' for the whole request.\n\
Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, or --profile from ~/.aws/credentials.\n\
Endpoint: --endpoint-url or UNDERPASS_ENDPOINT_URL. Run with --list to see the actions."
)]
pub(crate) struct CallArgs {
    /// The action, e.g. `create-vpc` (omit with --list).
    action: Option<String>,
    /// List this service's actions.
    #[arg(long)]
    list: bool,
    /// `table` (default) or `json`.
    #[arg(long, default_value = "table")]
    output: String,
    /// Profile in the shared credentials file.
    #[arg(long)]
    profile: Option<String>,
    /// Region (default: AWS_REGION or us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// API URL, e.g. http://127.0.0.1:4510.
    #[arg(long)]
    endpoint_url: Option<String>,
    /// The action's parameters: `--param-name value …`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    params: Vec<String>,
}

/// Moves the global options (`--output`, `--profile`, `--region`, `--endpoint-url`) out of the
/// action's parameters, so they work anywhere on the line as with the AWS CLI.
fn take_globals(mut args: CallArgs) -> Result<CallArgs, String> {
    let mut rest = Vec::with_capacity(args.params.len());
    let mut it = std::mem::take(&mut args.params).into_iter();
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (flag.clone(), None),
        };
        let target: Option<&mut Option<String>> = match name.as_str() {
            "--profile" => Some(&mut args.profile),
            "--region" => Some(&mut args.region),
            "--endpoint-url" => Some(&mut args.endpoint_url),
            _ => None,
        };
        if name == "--output" || target.is_some() {
            let value = match inline {
                Some(v) => v,
                None => it.next().ok_or_else(|| format!("{name} needs a value"))?,
            };
            match target {
                Some(t) => *t = Some(value),
                None => args.output = value,
            }
            continue;
        }
        rest.push(flag);
    }
    args.params = rest;
    Ok(args)
}

pub(crate) async fn run(service: &str, args: CallArgs) -> anyhow::Result<u8> {
    let args = match take_globals(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
    };
    let actions: Vec<&str> = underpass_server::ACTIONS
        .iter()
        .copied()
        .filter(|a| serves(service, a))
        .collect();
    let Some(action) = args.action.filter(|_| !args.list) else {
        for a in &actions {
            println!("{}", kebab(a));
        }
        return Ok(if args.list { 0 } else { exit::USAGE });
    };
    let name = pascal(&action);
    if !actions.contains(&name.as_str()) {
        eprintln!("error: unknown action {action:?} for this service; `--list` shows the actions");
        return Ok(exit::USAGE);
    }
    let output = match args.output.as_str() {
        "table" | "text" => Output::Table,
        "json" => Output::Json,
        other => {
            eprintln!("error: --output must be table or json, not {other:?}");
            return Ok(exit::USAGE);
        }
    };
    let p = match params(&args.params) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
    };
    let settings = match resolve(&Overrides {
        profile: args.profile,
        region: args.region,
        endpoint: args.endpoint_url,
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
    };
    let client = Client::new(&settings.endpoint, &settings.region, settings.credentials)?;
    // Signed for this command's service: `elbv2 describe-tags` is ELBv2's DescribeTags.
    let params = serde_json::Value::Object(p);
    match client
        .call_scoped(service, &name, &params, time::OffsetDateTime::now_utc())
        .await
    {
        Ok(v) => {
            print!("{}", render(&v, output));
            Ok(0)
        }
        Err(e @ ClientError::Api { status, .. }) => {
            eprintln!("error: {e}");
            Ok(if status >= 500 {
                exit::FAILURE
            } else {
                exit::API_ERROR
            })
        }
        Err(e @ ClientError::Transport { .. }) => {
            eprintln!("error: {e}");
            Ok(exit::UNREACHABLE)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit::FAILURE)
        }
    }
}
