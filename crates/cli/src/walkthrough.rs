//! The seed-003 walkthrough through the API: a provider publishes a service, a consumer creates
//! an endpoint, the provider accepts it. `underpass dev` and the end-to-end tests share it.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use underpass_auth::credentials::SecretAccessKey;

use crate::{Client, ClientError, Credentials};

/// The region of the walkthrough.
pub const REGION: &str = "us-east-1";
/// The zone both agents run in.
pub const ZONE: &str = "us-east-1a";
/// The provider account.
pub const PROVIDER: &str = "111111111111";
/// The consumer account.
pub const CONSUMER: &str = "222222222222";
/// The demo backend: inside the provider VPC, outside its subnet's allocation range.
pub const BACKEND: &str = "127.10.200.10:8080";
/// The service's port (listener and endpoint).
pub const SERVICE_PORT: u16 = 8080;
/// The provider's loopback VPC.
pub const PROVIDER_CIDR: &str = "127.10.0.0/16";
/// The consumer's loopback VPC.
pub const CONSUMER_CIDR: &str = "127.20.0.0/16";
/// The private DNS name the provider sets on its service and proves with a TXT record.
pub const PRIVATE_DNS_NAME: &str = "web.service.provider.local";
/// The provider's public DNS zone, where the TXT record is published.
pub const PROVIDER_ZONE: &str = "provider.local";

/// What the walkthrough created (it holds secrets: store it 0600).
#[derive(Serialize, Deserialize)]
pub struct DevState {
    /// The provider's (access key id, secret).
    pub provider_key: (String, String),
    /// The consumer's (access key id, secret).
    pub consumer_key: (String, String),
    /// provider vpc.
    pub provider_vpc: String,
    /// consumer vpc.
    pub consumer_vpc: String,
    /// service id.
    pub service_id: String,
    /// service name.
    pub service_name: String,
    /// endpoint id.
    pub endpoint_id: String,
    /// The endpoint ENI's address.
    pub endpoint_ip: String,
    /// Join token for the provider VPC's agent.
    pub provider_token: String,
    /// Join token for the consumer VPC's agent.
    pub consumer_token: String,
    /// The service's verified private DNS name (empty in states made before DNS).
    #[serde(default)]
    pub private_dns_name: String,
    /// The TXT record that proves it: (name, value).
    #[serde(default)]
    pub txt_record: (String, String),
    /// The endpoint's regional DNS name.
    #[serde(default)]
    pub endpoint_dns_name: String,
}

/// Credentials from an (access key id, secret) pair.
pub fn creds(k: &(String, String)) -> Credentials {
    Credentials {
        access_key_id: k.0.clone(),
        secret_access_key: SecretAccessKey::new(k.1.clone()),
        session_token: None,
    }
}

fn key_of(v: &Value) -> Result<(String, String), WalkthroughError> {
    Ok((str_at(v, "/AccessKeyId")?, str_at(v, "/SecretAccessKey")?))
}

/// The string at a JSON pointer, or an error naming it.
pub fn str_at(v: &Value, pointer: &str) -> Result<String, WalkthroughError> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| WalkthroughError::msg(format!("response has no {pointer}: {v}")))
}

async fn call(c: &Client, action: &str, params: Value) -> Result<Value, WalkthroughError> {
    c.call(action, &params)
        .await
        .map_err(|source| WalkthroughError::Call {
            action: action.to_owned(),
            source,
        })
}

/// Where the walkthrough publishes the TXT record that proves the private DNS name: the
/// provider's DNS (in `underpass dev`, an authoritative server of its own on loopback).
pub trait TxtPublisher: Sync {
    /// Publishes `name` TXT `value`.
    fn publish<'a>(
        &'a self,
        name: &'a str,
        value: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

/// The walkthrough of seed 003, through the API, without a private DNS name.
pub async fn set_up(admin: &Client) -> Result<DevState, WalkthroughError> {
    set_up_inner(admin, None).await
}

/// The walkthrough with the private DNS name [`PRIVATE_DNS_NAME`] on the service: its TXT
/// record goes to `publisher`, the name is verified, and the endpoint has private DNS on.
pub async fn set_up_with_private_dns(
    admin: &Client,
    publisher: &dyn TxtPublisher,
) -> Result<DevState, WalkthroughError> {
    set_up_inner(admin, Some(publisher)).await
}

async fn set_up_inner(
    admin: &Client,
    publisher: Option<&dyn TxtPublisher>,
) -> Result<DevState, WalkthroughError> {
    let provider_key = key_of(
        &call(
            admin,
            "CreateAccount",
            json!({"AccountId": PROVIDER, "Name": "provider"}),
        )
        .await?["AccessKey"],
    )?;
    let consumer_key = key_of(
        &call(
            admin,
            "CreateAccount",
            json!({"AccountId": CONSUMER, "Name": "consumer"}),
        )
        .await?["AccessKey"],
    )?;
    let p = admin.with_credentials(creds(&provider_key));
    let c = admin.with_credentials(creds(&consumer_key));

    // Provider: a network, a load balancer in front of the backend, an endpoint service.
    let pvpc = str_at(
        &call(&p, "CreateVpc", json!({"CidrBlock": PROVIDER_CIDR})).await?,
        "/Vpc/VpcId",
    )?;
    let psub = str_at(
        &call(
            &p,
            "CreateSubnet",
            json!({"VpcId": pvpc, "CidrBlock": "127.10.1.0/24", "AvailabilityZone": ZONE}),
        )
        .await?,
        "/Subnet/SubnetId",
    )?;
    let lb = str_at(
        &call(
            &p,
            "CreateLoadBalancer",
            json!({"Name": "demo-nlb", "Type": "network", "Scheme": "internal", "Subnets": [psub]}),
        )
        .await?,
        "/LoadBalancers/0/LoadBalancerArn",
    )?;
    let tg = str_at(
        &call(
            &p,
            "CreateTargetGroup",
            json!({"Name": "demo-targets", "Protocol": "TCP", "Port": SERVICE_PORT, "VpcId": pvpc, "TargetType": "ip",
                   "HealthCheckProtocol": "TCP", "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 4, "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2}),
        )
        .await?,
        "/TargetGroups/0/TargetGroupArn",
    )?;
    let backend: SocketAddr = BACKEND
        .parse()
        .map_err(|e| WalkthroughError::msg(format!("{e}")))?;
    call(&p, "RegisterTargets", json!({"TargetGroupArn": tg, "Targets": [{"Id": backend.ip().to_string(), "Port": backend.port()}]})).await?;
    call(
        &p,
        "CreateListener",
        json!({"LoadBalancerArn": lb, "Protocol": "TCP", "Port": SERVICE_PORT, "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg}]}),
    )
    .await?;
    let mut params = json!({"NetworkLoadBalancerArns": [lb], "AcceptanceRequired": true});
    if publisher.is_some() {
        params["PrivateDnsName"] = json!(PRIVATE_DNS_NAME);
    }
    let svc = call(&p, "CreateVpcEndpointServiceConfiguration", params).await?;
    let service_id = str_at(&svc, "/ServiceConfiguration/ServiceId")?;
    let service_name = str_at(&svc, "/ServiceConfiguration/ServiceName")?;
    let mut txt_record = (String::new(), String::new());
    if let Some(publisher) = publisher {
        // Prove control of the private DNS name: publish the TXT record, then verify.
        txt_record = (
            str_at(
                &svc,
                "/ServiceConfiguration/PrivateDnsNameConfiguration/Name",
            )?,
            str_at(
                &svc,
                "/ServiceConfiguration/PrivateDnsNameConfiguration/Value",
            )?,
        );
        publisher
            .publish(&txt_record.0, &txt_record.1)
            .await
            .map_err(|e| WalkthroughError::msg(format!("publishing the TXT record: {e}")))?;
        call(
            &p,
            "StartVpcEndpointServicePrivateDnsVerification",
            json!({"ServiceId": service_id}),
        )
        .await?;
        let described = call(
            &p,
            "DescribeVpcEndpointServiceConfigurations",
            json!({"ServiceIds": [service_id]}),
        )
        .await?;
        let dns_state = str_at(
            &described,
            "/ServiceConfigurations/0/PrivateDnsNameConfiguration/State",
        )?;
        if dns_state != "verified" {
            return Err(WalkthroughError::msg(format!(
                "the private DNS name {PRIVATE_DNS_NAME} is {dns_state} after verification"
            )));
        }
    }
    call(
        &p,
        "ModifyVpcEndpointServicePermissions",
        json!({"ServiceId": service_id, "AddAllowedPrincipals": [format!("arn:aws:iam::{CONSUMER}:root")]}),
    )
    .await?;

    // Consumer: its own network, a security group, and an endpoint to the service.
    let cvpc = str_at(
        &call(&c, "CreateVpc", json!({"CidrBlock": CONSUMER_CIDR})).await?,
        "/Vpc/VpcId",
    )?;
    let csub = str_at(
        &call(
            &c,
            "CreateSubnet",
            json!({"VpcId": cvpc, "CidrBlock": "127.20.1.0/24", "AvailabilityZone": ZONE}),
        )
        .await?,
        "/Subnet/SubnetId",
    )?;
    let sg = str_at(
        &call(&c, "CreateSecurityGroup", json!({"GroupName": "endpoint-clients", "Description": "who may use the endpoint", "VpcId": cvpc}))
            .await?,
        "/GroupId",
    )?;
    call(
        &c,
        "AuthorizeSecurityGroupIngress",
        json!({"GroupId": sg, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": SERVICE_PORT, "ToPort": SERVICE_PORT,
               "IpRanges": [{"CidrIp": "127.0.0.0/8", "Description": "loopback clients"}]}]}),
    )
    .await?;
    let ep = call(
        &c,
        "CreateVpcEndpoint",
        json!({"VpcEndpointType": "Interface", "VpcId": cvpc, "ServiceName": service_name, "SubnetIds": [csub], "SecurityGroupIds": [sg],
               "PrivateDnsEnabled": publisher.is_some()}),
    )
    .await?;
    let endpoint_id = str_at(&ep, "/VpcEndpoint/VpcEndpointId")?;
    let endpoint_dns_name = str_at(&ep, "/VpcEndpoint/DnsEntries/0/DnsName")?;
    let eni = str_at(&ep, "/VpcEndpoint/NetworkInterfaceIds/0")?;
    let enis = call(
        &c,
        "DescribeNetworkInterfaces",
        json!({"NetworkInterfaceIds": [eni]}),
    )
    .await?;
    let endpoint_ip = str_at(&enis, "/NetworkInterfaces/0/PrivateIpAddress")?;

    // Provider accepts the connection request.
    call(
        &p,
        "AcceptVpcEndpointConnections",
        json!({"ServiceId": service_id, "VpcEndpointIds": [endpoint_id]}),
    )
    .await?;

    let provider_token = str_at(
        &call(
            &p,
            "CreateAgentJoinToken",
            json!({"VpcId": pvpc, "AvailabilityZone": ZONE}),
        )
        .await?,
        "/JoinToken",
    )?;
    let consumer_token = str_at(
        &call(
            &c,
            "CreateAgentJoinToken",
            json!({"VpcId": cvpc, "AvailabilityZone": ZONE}),
        )
        .await?,
        "/JoinToken",
    )?;
    Ok(DevState {
        provider_key,
        consumer_key,
        provider_vpc: pvpc,
        consumer_vpc: cvpc,
        service_id,
        service_name,
        endpoint_id,
        endpoint_ip,
        provider_token,
        consumer_token,
        private_dns_name: if publisher.is_some() {
            PRIVATE_DNS_NAME.to_owned()
        } else {
            String::new()
        },
        txt_record,
        endpoint_dns_name,
    })
}

/// Why the walkthrough stopped.
#[derive(Debug, thiserror::Error)]
pub enum WalkthroughError {
    /// An API call failed.
    #[error("{action} failed: {source}")]
    Call {
        /// The action.
        action: String,
        /// The error.
        source: ClientError,
    },
    /// A response lacked what was expected.
    #[error("{0}")]
    Unexpected(String),
}

impl WalkthroughError {
    fn msg(m: impl Into<String>) -> Self {
        Self::Unexpected(m.into())
    }
}
