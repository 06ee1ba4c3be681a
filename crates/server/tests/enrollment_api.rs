//! Agent enrollment over the real API: a join token buys exactly one certificate, even when ten
//! agents race with it (RELIABILITY item 55); tampered, expired-scope and oversized tokens are
//! refused (item 56); a CSR never decides the identity (item 58).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{account, env};
use serde_json::{json, Value};
use underpass_pki::LeafKey;

async fn enroll(url: &str, token: &str, csr: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/agent/v1/enroll"))
        .json(&json!({"JoinToken": token, "CsrPem": csr}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_token_one_agent() {
    let env = env().await;
    let url = format!("http://{}", env.server.api_addr);
    let root = account(&env, "111111111111").await;
    let vpc = root
        .call("CreateVpc", &json!({"CidrBlock": "10.0.0.0/16"}))
        .await
        .unwrap();
    let vpc_id = vpc["Vpc"]["VpcId"].as_str().unwrap().to_owned();
    let t = root
        .call(
            "CreateAgentJoinToken",
            &json!({"VpcId": vpc_id, "AvailabilityZone": "us-east-1a"}),
        )
        .await
        .unwrap();
    let token = t["JoinToken"].as_str().unwrap().to_owned();
    assert!(token.starts_with("upjt1."));

    // Ten agents race with one token: exactly one certificate is issued.
    let mut racers = Vec::new();
    for _ in 0..10 {
        let (url, token) = (url.clone(), token.clone());
        racers.push(tokio::spawn(async move {
            let (_key, csr) = LeafKey::generate_with_csr().unwrap();
            enroll(&url, &token, &csr).await
        }));
    }
    let mut won = Vec::new();
    for r in racers {
        let (status, body) = r.await.unwrap();
        match status {
            200 => won.push(body),
            401 => assert_eq!(body["Error"]["Code"], "InvalidJoinToken"),
            other => panic!("unexpected HTTP {other}: {body}"),
        }
    }
    assert_eq!(won.len(), 1, "{} enrollments with one token", won.len());
    let agent = &won[0];
    assert!(agent["AgentId"].as_str().unwrap().starts_with("agent-"));
    assert_eq!(agent["VpcId"], vpc_id.as_str());
    assert!(agent["CertPem"]
        .as_str()
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    let agents = root.call("DescribeAgents", &json!({})).await.unwrap();
    assert_eq!(agents["Agents"].as_array().unwrap().len(), 1);

    // Tampered, truncated and oversized tokens are refused the same way.
    let t2 = root
        .call(
            "CreateAgentJoinToken",
            &json!({"VpcId": vpc_id, "AvailabilityZone": "us-east-1a"}),
        )
        .await
        .unwrap();
    let good = t2["JoinToken"].as_str().unwrap().to_owned();
    let (_k, csr) = LeafKey::generate_with_csr().unwrap();
    let mut flipped = good.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    let huge = format!("{good}{}", "A".repeat(1 << 20));
    for bad in [
        flipped.as_str(),
        &good[..good.len() - 5],
        huge.as_str(),
        "",
        "upjt1.0000000000000000.x",
    ] {
        let (status, body) = enroll(&url, bad, &csr).await;
        assert!(
            status == 401 || status == 400 || status == 413,
            "{status} {body}"
        );
    }
    // The untouched token still works once, and only once.
    assert_eq!(enroll(&url, &good, &csr).await.0, 200);
    assert_eq!(enroll(&url, &good, &csr).await.0, 401);

    // Another account's VPC cannot get a token; a zone outside the region is refused.
    let other = account(&env, "222222222222").await;
    let err = other
        .call(
            "CreateAgentJoinToken",
            &json!({"VpcId": vpc_id, "AvailabilityZone": "us-east-1a"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidVpcID.NotFound"));
    let err = root
        .call(
            "CreateAgentJoinToken",
            &json!({"VpcId": vpc_id, "AvailabilityZone": "eu-west-1a"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
}
