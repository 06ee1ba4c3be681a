//! Private DNS names over the API (RELIABILITY items 85 and 86): names checked against hostname
//! rules, the TXT verification against a real hickory authoritative server on loopback
//! (missing record, wrong value, right value, a resolver that never answers), the first
//! verified owner keeping the name, and endpoints with private DNS (EC2's VPC attribute check,
//! one name per VPC, `DnsEntries`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::privatelink::{allow, consumer_network, endpoint_params, CONSUMER, PROVIDER, STRANGER};
use common::{account, code, env_with, ok, provider_network};
use serde_json::{json, Value};
use underpass_cli::Client;
use underpass_dns::StaticAuthority;

const NAME: &str = "web.service.provider.local";

async fn config(c: &Client, sid: &str) -> Value {
    ok(
        c,
        "DescribeVpcEndpointServiceConfigurations",
        json!({"ServiceIds": [sid]}),
    )
    .await["ServiceConfigurations"][0]
        .clone()
}

async fn verify(c: &Client, sid: &str) -> String {
    let r = ok(
        c,
        "StartVpcEndpointServicePrivateDnsVerification",
        json!({"ServiceId": sid}),
    )
    .await;
    assert_eq!(r["ReturnValue"], true);
    config(c, sid).await["PrivateDnsNameConfiguration"]["State"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn err_message(r: Result<Value, underpass_cli::ClientError>) -> (String, String) {
    match r {
        Ok(v) => panic!("expected an error, got {v}"),
        Err(e) => (e.code().unwrap_or("").to_owned(), e.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_dns_names_are_checked_verified_and_owned_once() {
    let public_dns = StaticAuthority::start("127.0.0.1:0".parse().unwrap(), "provider.local")
        .await
        .unwrap();
    let resolver = public_dns.addr();
    let env = env_with(|cfg| {
        cfg.dns_verification_resolver = vec![resolver];
        cfg.dns_verification_timeout = Duration::from_secs(2);
    })
    .await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;
    let stranger = account(&env, STRANGER).await;
    let p = provider_network(&provider, "dns-nlb").await;

    // Injection and hostname rules (item 86): a table of refused names.
    let too_long = format!("{}.example.com", "a".repeat(243));
    for bad in [
        "web.example.com.",
        "*.example.com",
        "web\n.example.com",
        "web;.example.com",
        "web example.com",
        "web.example.com\nevil. 60 IN A 6.6.6.6",
        "localhost",
        "xn--.example.com",
        "xn--abc.example.com",
        &too_long,
        "",
    ] {
        let r = provider
            .call(
                "CreateVpcEndpointServiceConfiguration",
                &json!({"NetworkLoadBalancerArns": [p.lb], "PrivateDnsName": bad}),
            )
            .await;
        assert_eq!(code(r), "InvalidParameterValue", "{bad:?} accepted");
    }
    // The endpoint-name domain is not anyone's to claim.
    let r = provider
        .call(
            "CreateVpcEndpointServiceConfiguration",
            &json!({"NetworkLoadBalancerArns": [p.lb], "PrivateDnsName": "x.us-east-1.vpce.underpass.internal"}),
        )
        .await;
    assert_eq!(code(r), "InvalidParameter");
    // Nothing half-made was left behind by the refusals.
    let listed = ok(
        &provider,
        "DescribeVpcEndpointServiceConfigurations",
        json!({}),
    )
    .await;
    assert_eq!(listed["ServiceConfigurations"].as_array().unwrap().len(), 0);

    // A good name: lowercased, pendingVerification, a random TXT record to publish.
    let r = ok(
        &provider,
        "CreateVpcEndpointServiceConfiguration",
        json!({"NetworkLoadBalancerArns": [p.lb], "PrivateDnsName": "Web.Service.Provider.Local"}),
    )
    .await;
    let cfg = &r["ServiceConfiguration"];
    let sid = cfg["ServiceId"].as_str().unwrap().to_owned();
    let service_name = cfg["ServiceName"].as_str().unwrap().to_owned();
    assert_eq!(cfg["PrivateDnsName"], NAME);
    let pdc = &cfg["PrivateDnsNameConfiguration"];
    assert_eq!(pdc["State"], "pendingVerification");
    assert_eq!(pdc["Type"], "TXT");
    let txt_name = pdc["Name"].as_str().unwrap().to_owned();
    let txt_value = pdc["Value"].as_str().unwrap().to_owned();
    assert!(
        txt_name.starts_with('_') && txt_name.ends_with(&format!(".{NAME}")),
        "{txt_name}"
    );
    assert!(
        txt_value.starts_with("vpce:") && txt_value.len() > 20,
        "{txt_value}"
    );
    assert_eq!(
        cfg["BaseEndpointDnsNames"],
        json!([format!("{sid}.us-east-1.vpce.underpass.internal")])
    );
    allow(&provider, &sid, &format!("arn:aws:iam::{CONSUMER}:root")).await;

    // Consumers cannot use an unverified name.
    let con = consumer_network(&consumer).await;
    let mut params = endpoint_params(&con, &service_name);
    params["PrivateDnsEnabled"] = json!(true);
    let (c, m) = err_message(consumer.call("CreateVpcEndpoint", &params).await);
    assert_eq!(c, "InvalidParameter");
    assert!(m.contains("not verified"), "{m}");
    let seen = ok(
        &consumer,
        "DescribeVpcEndpointServices",
        json!({"ServiceNames": [service_name]}),
    )
    .await;
    assert_eq!(seen["ServiceDetails"][0]["PrivateDnsName"], NAME);
    assert_eq!(
        seen["ServiceDetails"][0]["PrivateDnsNameVerificationState"],
        "pendingVerification"
    );

    // A second provider may claim the name while nobody has verified it; it publishes its
    // own record (its value differs: random per service).
    let sp = provider_network(&stranger, "dns-nlb-2").await;
    let r = ok(
        &stranger,
        "CreateVpcEndpointServiceConfiguration",
        json!({"NetworkLoadBalancerArns": [sp.lb], "PrivateDnsName": NAME}),
    )
    .await;
    let stranger_sid = r["ServiceConfiguration"]["ServiceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let spdc = &r["ServiceConfiguration"]["PrivateDnsNameConfiguration"];
    assert_ne!(spdc["Name"], pdc["Name"]);
    assert_ne!(spdc["Value"], pdc["Value"]);

    // Verification: no record, then a wrong value: failed.
    assert_eq!(verify(&provider, &sid).await, "failed");
    public_dns
        .add_txt(&txt_name, "vpce:not-the-value")
        .await
        .unwrap();
    assert_eq!(verify(&provider, &sid).await, "failed");
    // The right value: verified.
    public_dns.add_txt(&txt_name, &txt_value).await.unwrap();
    assert_eq!(verify(&provider, &sid).await, "verified");
    let seen = ok(
        &consumer,
        "DescribeVpcEndpointServices",
        json!({"ServiceNames": [service_name]}),
    )
    .await;
    assert_eq!(
        seen["ServiceDetails"][0]["PrivateDnsNameVerificationState"],
        "verified"
    );

    // First verified owner wins (item 85): the stranger's record is right, and still it fails;
    // a new claim of the name by the stranger is refused outright.
    public_dns
        .add_txt(
            spdc["Name"].as_str().unwrap(),
            spdc["Value"].as_str().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(verify(&stranger, &stranger_sid).await, "failed");
    let (c, m) = err_message(
        stranger
            .call(
                "CreateVpcEndpointServiceConfiguration",
                &json!({"NetworkLoadBalancerArns": [sp.lb], "PrivateDnsName": NAME}),
            )
            .await,
    );
    assert_eq!(c, "InvalidParameter");
    assert!(m.contains("already verified by another account"), "{m}");
    let (c, _) = err_message(
        stranger
            .call(
                "ModifyVpcEndpointServiceConfiguration",
                &json!({"ServiceId": stranger_sid, "PrivateDnsName": "WEB.service.provider.local"}),
            )
            .await,
    );
    assert_eq!(c, "InvalidParameter");

    // EC2's VPC attribute check.
    ok(
        &consumer,
        "ModifyVpcAttribute",
        json!({"VpcId": con.vpc, "EnableDnsHostnames": {"Value": false}}),
    )
    .await;
    let (c, m) = err_message(consumer.call("CreateVpcEndpoint", &params).await);
    assert_eq!(c, "InvalidParameter");
    assert!(m.contains("enableDnsHostnames and enableDnsSupport"), "{m}");
    ok(
        &consumer,
        "ModifyVpcAttribute",
        json!({"VpcId": con.vpc, "EnableDnsHostnames": {"Value": true}}),
    )
    .await;

    // With private DNS: DnsEntries are the regional name, one zonal name per zone, the
    // private name.
    let ep = ok(&consumer, "CreateVpcEndpoint", params.clone()).await;
    let ep = &ep["VpcEndpoint"];
    let eid = ep["VpcEndpointId"].as_str().unwrap().to_owned();
    assert_eq!(ep["PrivateDnsEnabled"], true);
    let names: Vec<&str> = ep["DnsEntries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["DnsName"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    let regional = names[0].to_owned();
    let suffix = format!(".{sid}.us-east-1.vpce.underpass.internal");
    assert!(
        regional.starts_with(&format!("{eid}-")) && regional.ends_with(&suffix),
        "{regional}"
    );
    let token = regional
        .strip_prefix(&format!("{eid}-"))
        .unwrap()
        .strip_suffix(&suffix)
        .unwrap();
    assert_eq!(token.len(), 8);
    assert_eq!(names[1], format!("{eid}-{token}-us-east-1a{suffix}"));
    assert_eq!(names[2], format!("{eid}-{token}-us-east-1b{suffix}"));
    assert_eq!(names[3], NAME);
    assert!(ep["DnsEntries"][0]["HostedZoneId"]
        .as_str()
        .unwrap()
        .starts_with('Z'));
    // The same names on every describe.
    let again = ok(
        &consumer,
        "DescribeVpcEndpoints",
        json!({"VpcEndpointIds": [eid]}),
    )
    .await;
    assert_eq!(again["VpcEndpoints"][0]["DnsEntries"], ep["DnsEntries"]);
    // One private name per VPC.
    let (c, m) = err_message(consumer.call("CreateVpcEndpoint", &params).await);
    assert_eq!(c, "InvalidParameter");
    assert!(m.contains("conflicting DNS domain"), "{m}");
    // Private DNS off: the private name leaves DnsEntries; on again: back.
    ok(
        &consumer,
        "ModifyVpcEndpoint",
        json!({"VpcEndpointId": eid, "PrivateDnsEnabled": false}),
    )
    .await;
    let d = ok(
        &consumer,
        "DescribeVpcEndpoints",
        json!({"VpcEndpointIds": [eid]}),
    )
    .await;
    assert_eq!(d["VpcEndpoints"][0]["PrivateDnsEnabled"], false);
    assert_eq!(
        d["VpcEndpoints"][0]["DnsEntries"].as_array().unwrap().len(),
        3
    );
    ok(
        &consumer,
        "ModifyVpcEndpoint",
        json!({"VpcEndpointId": eid, "PrivateDnsEnabled": true}),
    )
    .await;
    // Without private DNS, endpoints have their names all the same.
    let plain = ok(
        &consumer,
        "CreateVpcEndpoint",
        endpoint_params(&con, &service_name),
    )
    .await;
    assert_eq!(plain["VpcEndpoint"]["PrivateDnsEnabled"], false);
    assert_eq!(
        plain["VpcEndpoint"]["DnsEntries"].as_array().unwrap().len(),
        3
    );

    // The provider removes the name: a listing (served from the items kept since the last
    // one, see `vpce_items.rs`) drops it from the endpoint's DnsEntries.
    let listed_names = |list: Value| -> Vec<String> {
        list["VpcEndpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["VpcEndpointId"] == eid.as_str())
            .unwrap()["DnsEntries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["DnsName"].as_str().unwrap().to_owned())
            .collect()
    };
    let before = listed_names(ok(&consumer, "DescribeVpcEndpoints", json!({})).await);
    assert_eq!(before.last().map(String::as_str), Some(NAME), "{before:?}");
    ok(
        &provider,
        "ModifyVpcEndpointServiceConfiguration",
        json!({"ServiceId": sid, "RemovePrivateDnsName": true}),
    )
    .await;
    let cfg = config(&provider, &sid).await;
    assert!(cfg.get("PrivateDnsName").is_none(), "{cfg}");
    let after = listed_names(ok(&consumer, "DescribeVpcEndpoints", json!({})).await);
    assert_eq!(after, before[..3], "{after:?}");
    let (c, _) = err_message(
        provider
            .call(
                "StartVpcEndpointServicePrivateDnsVerification",
                &json!({"ServiceId": sid}),
            )
            .await,
    );
    assert_eq!(c, "InvalidParameter");
    env.server.stop().await;
    public_dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolver_that_never_answers_fails_the_verification_in_time() {
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let env = env_with(|cfg| {
        cfg.dns_verification_resolver = vec![addr];
        cfg.dns_verification_timeout = Duration::from_millis(700);
    })
    .await;
    let provider = account(&env, PROVIDER).await;
    let p = provider_network(&provider, "dns-silent").await;
    let r = ok(
        &provider,
        "CreateVpcEndpointServiceConfiguration",
        json!({"NetworkLoadBalancerArns": [p.lb], "PrivateDnsName": NAME}),
    )
    .await;
    let sid = r["ServiceConfiguration"]["ServiceId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(verify(&provider, &sid).await, "failed");
    // Other calls were not held up meanwhile: the write lock is not held across the lookup.
    let p2 = provider.clone();
    let sid2 = sid.clone();
    let slow = tokio::spawn(async move { verify(&p2, &sid2).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    ok(&provider, "CreateVpc", json!({"CidrBlock": "10.9.0.0/16"})).await;
    // The write finished while the lookup was still waiting for its silent resolver.
    assert!(!slow.is_finished(), "a write waited for the lookup");
    assert_eq!(slow.await.unwrap(), "failed");
    env.server.stop().await;
}
