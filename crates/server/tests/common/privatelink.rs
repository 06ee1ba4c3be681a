//! Builders and checks shared by the PrivateLink tests.

use serde_json::{json, Value};
use underpass_cli::Client;
use underpass_domain::{ConnEvent, ConnState, EndpointId};
use underpass_store::services::{history, HistoryEntry};

use super::{group, ok, subnet, vpc, Env};

pub(crate) const PROVIDER: &str = "111111111111";
pub(crate) const CONSUMER: &str = "222222222222";
pub(crate) const STRANGER: &str = "333333333333";

/// A consumer's network: a VPC (the same CIDR as the provider's), subnets in zones a and b,
/// and a security group.
pub(crate) struct Consumer {
    pub(crate) vpc: String,
    pub(crate) subnets: Vec<String>,
    pub(crate) sg: String,
}

pub(crate) async fn consumer_network(c: &Client) -> Consumer {
    let vpc = vpc(c, "10.0.0.0/16").await;
    let subnets = vec![
        subnet(c, &vpc, "10.0.1.0/24", "us-east-1a").await,
        subnet(c, &vpc, "10.0.2.0/24", "us-east-1b").await,
    ];
    let sg = group(c, &vpc, "endpoint").await;
    Consumer { vpc, subnets, sg }
}

/// A service in front of the provider's load balancer; returns (service id, service name).
pub(crate) async fn service(c: &Client, lb: &str, acceptance: bool) -> (String, String) {
    let r = ok(
        c,
        "CreateVpcEndpointServiceConfiguration",
        json!({"NetworkLoadBalancerArns": [lb], "AcceptanceRequired": acceptance}),
    )
    .await;
    let s = &r["ServiceConfiguration"];
    (
        s["ServiceId"].as_str().unwrap().to_owned(),
        s["ServiceName"].as_str().unwrap().to_owned(),
    )
}

pub(crate) async fn allow(c: &Client, service: &str, principal: &str) {
    ok(
        c,
        "ModifyVpcEndpointServicePermissions",
        json!({"ServiceId": service, "AddAllowedPrincipals": [principal]}),
    )
    .await;
}

pub(crate) fn endpoint_params(con: &Consumer, name: &str) -> Value {
    json!({"VpcEndpointType": "Interface", "VpcId": con.vpc, "ServiceName": name,
           "SubnetIds": con.subnets, "SecurityGroupIds": [con.sg]})
}

pub(crate) async fn create_endpoint(c: &Client, params: Value) -> Value {
    ok(c, "CreateVpcEndpoint", params).await["VpcEndpoint"].clone()
}

pub(crate) async fn endpoint_state(c: &Client, id: &str) -> String {
    let r = ok(c, "DescribeVpcEndpoints", json!({"VpcEndpointIds": [id]})).await;
    r["VpcEndpoints"][0]["State"].as_str().unwrap().to_owned()
}

pub(crate) fn unsuccessful(r: &Value) -> Vec<(String, String)> {
    r["Unsuccessful"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["ResourceId"].as_str().unwrap().to_owned(),
                u["Error"]["Code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub(crate) async fn history_of(env: &Env, id: &str) -> Vec<HistoryEntry> {
    let id: EndpointId = id.parse().unwrap();
    let mut tx = env.server.state.store.read().await.unwrap();
    history(&mut tx, &id).await.unwrap()
}

/// Replays a recorded history through the domain state machine: it must start with a creation
/// and every later entry must be a legal move from the state the previous one left.
pub(crate) fn check_history(h: &[HistoryEntry]) -> ConnState {
    let first = h.first().expect("a created endpoint has history");
    assert_eq!(first.from, None);
    assert!(
        matches!(
            first.event.as_str(),
            "CreateWithAcceptance" | "CreateAutoAccept"
        ),
        "{first:?}"
    );
    let mut state = first.to;
    for e in &h[1..] {
        assert_eq!(e.from, Some(state), "history is not a chain: {h:?}");
        let event = ConnEvent::ALL
            .into_iter()
            .find(|ev| format!("{ev:?}") == e.event)
            .unwrap_or_else(|| panic!("unknown event {}", e.event));
        assert_eq!(state.apply(event), Ok(e.to), "illegal move recorded: {e:?}");
        state = e.to;
    }
    state
}
