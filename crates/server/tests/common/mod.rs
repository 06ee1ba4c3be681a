//! What the API tests share: a real server on loopback with a real SQLite store in a temporary
//! directory, the admin's signed client, accounts, and small builders for network resources.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use serde_json::{json, Value};
use underpass_auth::credentials::SecretAccessKey;
use underpass_cli::{Client, ClientError, Credentials};
use underpass_server::{bootstrap, start, ServerConfig};

pub(crate) mod privatelink;

pub(crate) fn creds(id: &str, secret: &str, token: Option<&str>) -> Credentials {
    Credentials {
        access_key_id: id.into(),
        secret_access_key: SecretAccessKey::new(secret),
        session_token: token.map(String::from),
    }
}

/// Credentials from an `AccessKey` / `Credentials` object of a response.
pub(crate) fn key_creds(v: &Value) -> Credentials {
    creds(
        v["AccessKeyId"].as_str().unwrap(),
        v["SecretAccessKey"].as_str().unwrap(),
        v["SessionToken"].as_str(),
    )
}

pub(crate) struct Env {
    pub(crate) _dir: Option<tempfile::TempDir>,
    pub(crate) server: underpass_server::RunningServer,
    pub(crate) admin: Client,
}

/// A fresh server (region us-east-1, zones a, b, c) and the admin's client.
pub(crate) async fn env() -> Env {
    env_with(|_| {}).await
}

/// As [`env`], with the server configuration adjusted by `adjust`.
pub(crate) async fn env_with(adjust: impl FnOnce(&mut ServerConfig)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ServerConfig::with_data_dir(dir.path().join("data"));
    adjust(&mut cfg);
    let mut env = env_in(cfg).await;
    env._dir = Some(dir);
    env
}

/// A server on `cfg` (whose data dir the caller keeps, to start again on it) and the admin's
/// client, signing for the primary region.
pub(crate) async fn env_in(cfg: ServerConfig) -> Env {
    let data = cfg.data_dir.clone();
    let region = cfg.primary_region().to_owned();
    let server = start(cfg).await.unwrap();
    let text = std::fs::read_to_string(data.join(bootstrap::ADMIN_CREDENTIALS_FILE)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let admin = Client::new(
        &format!("http://{}", server.api_addr),
        &region,
        creds(
            v["access_key_id"].as_str().unwrap(),
            v["secret_access_key"].as_str().unwrap(),
            None,
        ),
    )
    .unwrap();
    Env {
        _dir: None,
        server,
        admin,
    }
}

impl Env {
    /// The administrator's account id.
    pub(crate) fn admin_account(&self) -> &'static str {
        bootstrap::ADMIN_ACCOUNT
    }
}

/// Deletes a VPC after its subnets (what EC2 asks before DeleteVpc).
pub(crate) async fn delete_vpc_with_subnets(c: &Client, vpc: &str) {
    let r = ok(
        c,
        "DescribeSubnets",
        json!({"Filters": [{"Name": "vpc-id", "Values": [vpc]}]}),
    )
    .await;
    for s in r["Subnets"].as_array().unwrap() {
        ok(c, "DeleteSubnet", json!({"SubnetId": s["SubnetId"]})).await;
    }
    ok(c, "DeleteVpc", json!({"VpcId": vpc})).await;
}

/// The error code of a call that must fail.
pub(crate) fn code(r: Result<Value, ClientError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v}"),
        Err(e) => e.code().unwrap_or("no code").to_owned(),
    }
}

/// A new account and a client signed with its root key.
pub(crate) async fn account(env: &Env, id: &str) -> Client {
    let r = env
        .admin
        .call("CreateAccount", &json!({"AccountId": id, "Name": "acct"}))
        .await
        .unwrap();
    env.admin.with_credentials(key_creds(&r["AccessKey"]))
}

/// Calls `action` and unwraps, naming the action when it fails.
pub(crate) async fn ok(c: &Client, action: &str, params: Value) -> Value {
    match c.call(action, &params).await {
        Ok(v) => v,
        Err(e) => panic!("{action} {params} failed: {e}"),
    }
}

/// Creates a VPC; returns its id.
pub(crate) async fn vpc(c: &Client, cidr: &str) -> String {
    let r = ok(c, "CreateVpc", json!({"CidrBlock": cidr})).await;
    r["Vpc"]["VpcId"].as_str().unwrap().to_owned()
}

/// Creates a subnet; returns its id.
pub(crate) async fn subnet(c: &Client, vpc: &str, cidr: &str, zone: &str) -> String {
    let r = ok(
        c,
        "CreateSubnet",
        json!({"VpcId": vpc, "CidrBlock": cidr, "AvailabilityZone": zone}),
    )
    .await;
    r["Subnet"]["SubnetId"].as_str().unwrap().to_owned()
}

/// Creates a security group; returns its id.
pub(crate) async fn group(c: &Client, vpc: &str, name: &str) -> String {
    let r = ok(
        c,
        "CreateSecurityGroup",
        json!({"GroupName": name, "Description": "test group", "VpcId": vpc}),
    )
    .await;
    r["GroupId"].as_str().unwrap().to_owned()
}

/// The `AvailableIpAddressCount` of a subnet.
pub(crate) async fn free_ips(c: &Client, subnet: &str) -> u64 {
    let r = ok(c, "DescribeSubnets", json!({"SubnetIds": [subnet]})).await;
    r["Subnets"][0]["AvailableIpAddressCount"].as_u64().unwrap()
}

/// A provider's network: a VPC with subnets in zones a and b, a network load balancer over
/// them, a target group with one target, and a TCP listener.
pub(crate) struct Provider {
    pub(crate) vpc: String,
    pub(crate) subnets: Vec<String>,
    pub(crate) lb: String,
    pub(crate) tg: String,
    pub(crate) listener: String,
}

pub(crate) async fn provider_network(c: &Client, name: &str) -> Provider {
    let vpc = vpc(c, "10.0.0.0/16").await;
    let subnets = vec![
        subnet(c, &vpc, "10.0.1.0/24", "us-east-1a").await,
        subnet(c, &vpc, "10.0.2.0/24", "us-east-1b").await,
    ];
    let lb = ok(
        c,
        "CreateLoadBalancer",
        json!({"Name": name, "Type": "network", "Scheme": "internal", "Subnets": subnets}),
    )
    .await["LoadBalancers"][0]["LoadBalancerArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let tg = ok(
        c,
        "CreateTargetGroup",
        json!({"Name": format!("{name}-tg"), "Protocol": "TCP", "Port": 8080, "VpcId": vpc, "TargetType": "ip"}),
    )
    .await["TargetGroups"][0]["TargetGroupArn"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        c,
        "RegisterTargets",
        json!({"TargetGroupArn": tg, "Targets": [{"Id": "10.0.1.10"}]}),
    )
    .await;
    let listener = ok(
        c,
        "CreateListener",
        json!({"LoadBalancerArn": lb, "Protocol": "TCP", "Port": 80,
               "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg}]}),
    )
    .await["Listeners"][0]["ListenerArn"]
        .as_str()
        .unwrap()
        .to_owned();
    Provider {
        vpc,
        subnets,
        lb,
        tg,
        listener,
    }
}
