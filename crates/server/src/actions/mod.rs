//! API actions, named and shaped after their EC2, ELBv2, IAM and STS originals so the AWS
//! Query-protocol front end can be a thin codec over the same handlers.
//!
//! Every action runs in one store transaction (write actions take the write lock up front) and
//! authorizes itself through [`Ctx::authorize`] with the IAM action name AWS uses
//! (`ec2:CreateVpcEndpoint`, …) before it changes anything.

mod acl_entries;
mod agents;
mod authz;
mod default_vpc;
mod describe;
mod ec2;
mod elb;
mod elb_tags;
mod enis;
mod flow_logs;
mod iam;
mod iam_attach;
mod iam_policies;
mod iam_read;
mod listeners;
mod lookup;
mod network_acls;
mod regions;
mod route_tables;
mod routes;
mod security_groups;
mod sg_rules;
mod sts;
mod tags;
mod target_groups;
mod targets;
mod util;
mod vpc_cidr_blocks;
mod vpce;
mod vpce_connections;
mod vpce_dns;
mod vpce_gateway;
pub(crate) mod vpce_items;
mod vpce_notifications;
mod vpce_permissions;
mod vpce_services;

use std::net::IpAddr;

use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;

use crate::api::{ApiError, CallerInfo};
use crate::state::AppState;
pub(crate) use authz::Ctx;
pub(crate) use default_vpc::open_regions;
pub(crate) use flow_logs::delivery_error;
pub(crate) use network_acls::star_entries as acl_star_entries;
pub(crate) use sts::session_scope;
pub(crate) use vpce_dns::verified_name as verified_private_dns_name;

/// Per-request facts the handlers need.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    /// The TCP peer's address (`aws:SourceIp`); never a forwarded header.
    pub(crate) source_ip: IpAddr,
    /// The time the request arrived.
    pub(crate) now: OffsetDateTime,
    /// EC2's `DryRun`: [`Ctx::authorize`] answers `DryRunOperation` once the caller is
    /// authorized, so the handler stops there and its transaction is dropped, uncommitted.
    pub(crate) dry_run: bool,
}

/// Parses a JSON request body; an empty body is an empty object.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::client("InvalidParameterValue", format!("invalid request: {e}")))
}

/// How a front end writes a handler's answer (any `Serialize` answer struct) in its wire
/// format: the JSON API as a JSON value, the Query protocol straight to XML. The handlers stay
/// the same for both; only this last step differs.
pub(crate) trait Answer: Sync {
    /// The written answer.
    type Out: Send;

    /// Writes `answer`, the answer to `action`.
    fn write<R: Serialize>(&self, action: &str, answer: &R) -> Result<Self::Out, ApiError>;
}

/// The JSON API's answers: a JSON value (the front end adds the request id to it).
pub(crate) struct JsonAnswer;

impl Answer for JsonAnswer {
    type Out = serde_json::Value;

    fn write<R: Serialize>(
        &self,
        _action: &str,
        answer: &R,
    ) -> Result<serde_json::Value, ApiError> {
        serde_json::to_value(answer).map_err(ApiError::internal)
    }
}

macro_rules! actions {
    ($( $kind:ident $name:literal => $handler:path ),* $(,)?) => {
        /// Every action name the API knows.
        pub const KNOWN: &[&str] = &[$($name),*];

        /// Runs `action` for `caller`.
        pub(crate) async fn dispatch<A: Answer>(
            state: &AppState,
            caller: &CallerInfo,
            action: &str,
            body: &[u8],
            meta: Meta,
            answer: &A,
        ) -> Result<A::Out, ApiError> {
            match action {
                $( $name => {
                    let req = parse_body(body)?;
                    let mut ctx = Ctx::$kind(state, caller, meta).await?;
                    let resp = $handler(&mut ctx, req).await?;
                    if ctx.meta.dry_run {
                        // A handler that never authorized: still nothing is committed.
                        return Err(ApiError::dry_run());
                    }
                    ctx.finish().await?;
                    answer.write(action, &resp)
                } )*
                _ => Err(ApiError::client(
                    "InvalidAction",
                    format!("The action {} is not valid for this web service.", action.chars().take(64).collect::<String>()),
                )),
            }
        }
    };
}

/// Whether `name` is a known action.
pub(crate) fn is_known(name: &str) -> bool {
    KNOWN.contains(&name)
}

actions! {
    write "CreateAccount" => iam::create_account,
    write "CreateUser" => iam::create_user,
    write "DeleteUser" => iam::delete_user,
    write "PutUserPolicy" => iam::put_user_policy,
    write "DeleteUserPolicy" => iam::delete_user_policy,
    write "CreateAccessKey" => iam::create_access_key,
    read "ListAccessKeys" => iam::list_access_keys,
    write "UpdateAccessKey" => iam::update_access_key,
    write "DeleteAccessKey" => iam::delete_access_key,
    write "RotateAccessKey" => iam::rotate_access_key,
    read "GetAccessKeyLastUsed" => iam::get_access_key_last_used,
    write "CreateRole" => iam::create_role,
    write "DeleteRole" => iam::delete_role,
    write "UpdateAssumeRolePolicy" => iam::update_assume_role_policy,
    write "PutRolePolicy" => iam::put_role_policy,
    write "AssumeRole" => iam::assume_role,
    read "GetCallerIdentity" => iam::get_caller_identity,
    read "GetSessionToken" => sts::get_session_token,
    read "GetUser" => iam_read::get_user,
    read "ListUsers" => iam_read::list_users,
    read "GetRole" => iam_read::get_role,
    read "ListRoles" => iam_read::list_roles,
    read "GetUserPolicy" => iam_read::get_user_policy,
    read "ListUserPolicies" => iam_read::list_user_policies,
    read "GetRolePolicy" => iam_read::get_role_policy,
    read "ListRolePolicies" => iam_read::list_role_policies,
    write "DeleteRolePolicy" => iam_read::delete_role_policy,
    // IAM managed policies.
    write "CreatePolicy" => iam_policies::create_policy,
    read "GetPolicy" => iam_policies::get_policy,
    write "DeletePolicy" => iam_policies::delete_policy,
    read "ListPolicies" => iam_policies::list_policies,
    write "CreatePolicyVersion" => iam_policies::create_policy_version,
    read "GetPolicyVersion" => iam_policies::get_policy_version,
    write "DeletePolicyVersion" => iam_policies::delete_policy_version,
    read "ListPolicyVersions" => iam_policies::list_policy_versions,
    write "SetDefaultPolicyVersion" => iam_policies::set_default_policy_version,
    write "AttachUserPolicy" => iam_attach::attach_user_policy,
    write "DetachUserPolicy" => iam_attach::detach_user_policy,
    write "AttachRolePolicy" => iam_attach::attach_role_policy,
    write "DetachRolePolicy" => iam_attach::detach_role_policy,
    read "ListAttachedUserPolicies" => iam_attach::list_attached_user_policies,
    read "ListAttachedRolePolicies" => iam_attach::list_attached_role_policies,
    // EC2 network.
    write "CreateVpc" => ec2::create_vpc,
    write "CreateDefaultVpc" => default_vpc::create_default_vpc,
    read "DescribeVpcs" => ec2::describe_vpcs,
    write "DeleteVpc" => ec2::delete_vpc,
    write "ModifyVpcAttribute" => ec2::modify_vpc_attribute,
    read "DescribeVpcAttribute" => ec2::describe_vpc_attribute,
    write "AssociateVpcCidrBlock" => vpc_cidr_blocks::associate_vpc_cidr_block,
    write "DisassociateVpcCidrBlock" => vpc_cidr_blocks::disassociate_vpc_cidr_block,
    write "CreateSubnet" => ec2::create_subnet,
    read "DescribeSubnets" => ec2::describe_subnets,
    write "DeleteSubnet" => ec2::delete_subnet,
    write "ModifySubnetAttribute" => ec2::modify_subnet_attribute,
    read "DescribeNetworkInterfaces" => enis::describe_network_interfaces,
    write "CreateSecurityGroup" => security_groups::create_security_group,
    read "DescribeSecurityGroups" => security_groups::describe_security_groups,
    write "DeleteSecurityGroup" => security_groups::delete_security_group,
    write "AuthorizeSecurityGroupIngress" => sg_rules::authorize_security_group_ingress,
    write "RevokeSecurityGroupIngress" => sg_rules::revoke_security_group_ingress,
    write "AuthorizeSecurityGroupEgress" => sg_rules::authorize_security_group_egress,
    write "RevokeSecurityGroupEgress" => sg_rules::revoke_security_group_egress,
    read "DescribeSecurityGroupRules" => sg_rules::describe_security_group_rules,
    read "DescribeRegions" => regions::describe_regions,
    read "DescribeAvailabilityZones" => regions::describe_availability_zones,
    read "DescribePrefixLists" => regions::describe_prefix_lists,
    read "DescribeManagedPrefixLists" => regions::describe_managed_prefix_lists,
    // EC2 tags (DescribeTags also answers ELBv2's, by the credential scope).
    write "CreateTags" => tags::create_tags,
    write "DeleteTags" => tags::delete_tags,
    read "DescribeTags" => tags::describe_tags,
    // Route tables and network ACLs.
    write "CreateRouteTable" => route_tables::create_route_table,
    read "DescribeRouteTables" => route_tables::describe_route_tables,
    write "DeleteRouteTable" => route_tables::delete_route_table,
    write "AssociateRouteTable" => route_tables::associate_route_table,
    write "DisassociateRouteTable" => route_tables::disassociate_route_table,
    write "CreateRoute" => routes::create_route,
    write "DeleteRoute" => routes::delete_route,
    write "CreateNetworkAcl" => network_acls::create_network_acl,
    read "DescribeNetworkAcls" => network_acls::describe_network_acls,
    write "DeleteNetworkAcl" => network_acls::delete_network_acl,
    write "CreateNetworkAclEntry" => acl_entries::create_network_acl_entry,
    write "DeleteNetworkAclEntry" => acl_entries::delete_network_acl_entry,
    write "ReplaceNetworkAclAssociation" => network_acls::replace_network_acl_association,
    // VPC Flow Logs.
    write "CreateFlowLogs" => flow_logs::create_flow_logs,
    read "DescribeFlowLogs" => flow_logs::describe_flow_logs,
    write "DeleteFlowLogs" => flow_logs::delete_flow_logs,

    // ELBv2.
    write "CreateLoadBalancer" => elb::create_load_balancer,
    read "DescribeLoadBalancers" => elb::describe_load_balancers,
    write "DeleteLoadBalancer" => elb::delete_load_balancer,
    write "ModifyLoadBalancerAttributes" => elb::modify_load_balancer_attributes,
    read "DescribeLoadBalancerAttributes" => elb::describe_load_balancer_attributes,
    write "CreateListener" => listeners::create_listener,
    read "DescribeListeners" => listeners::describe_listeners,
    write "DeleteListener" => listeners::delete_listener,
    write "CreateTargetGroup" => target_groups::create_target_group,
    read "DescribeTargetGroups" => target_groups::describe_target_groups,
    write "ModifyTargetGroup" => target_groups::modify_target_group,
    write "DeleteTargetGroup" => target_groups::delete_target_group,
    write "ModifyTargetGroupAttributes" => target_groups::modify_target_group_attributes,
    read "DescribeTargetGroupAttributes" => target_groups::describe_target_group_attributes,
    write "RegisterTargets" => targets::register_targets,
    write "DeregisterTargets" => targets::deregister_targets,
    read "DescribeTargetHealth" => targets::describe_target_health,
    write "AddTags" => elb_tags::add_tags,
    write "RemoveTags" => elb_tags::remove_tags,

    // PrivateLink.
    write "CreateVpcEndpointServiceConfiguration" => vpce_services::create_vpc_endpoint_service_configuration,
    read "DescribeVpcEndpointServiceConfigurations" => vpce_services::describe_vpc_endpoint_service_configurations,
    write "ModifyVpcEndpointServiceConfiguration" => vpce_services::modify_vpc_endpoint_service_configuration,
    write "DeleteVpcEndpointServiceConfigurations" => vpce_services::delete_vpc_endpoint_service_configurations,
    write "ModifyVpcEndpointServicePermissions" => vpce_permissions::modify_vpc_endpoint_service_permissions,
    read "DescribeVpcEndpointServicePermissions" => vpce_permissions::describe_vpc_endpoint_service_permissions,
    read "DescribeVpcEndpointServices" => vpce_permissions::describe_vpc_endpoint_services,
    read "DescribeVpcEndpointConnections" => vpce_connections::describe_vpc_endpoint_connections,
    write "AcceptVpcEndpointConnections" => vpce_connections::accept_vpc_endpoint_connections,
    write "RejectVpcEndpointConnections" => vpce_connections::reject_vpc_endpoint_connections,
    write "CreateVpcEndpoint" => vpce::create_vpc_endpoint,
    read "DescribeVpcEndpoints" => vpce::describe_vpc_endpoints,
    write "ModifyVpcEndpoint" => vpce::modify_vpc_endpoint,
    write "DeleteVpcEndpoints" => vpce::delete_vpc_endpoints,
    write "CreateVpcEndpointConnectionNotification" => vpce_notifications::create_vpc_endpoint_connection_notification,
    read "DescribeVpcEndpointConnectionNotifications" => vpce_notifications::describe_vpc_endpoint_connection_notifications,
    write "ModifyVpcEndpointConnectionNotification" => vpce_notifications::modify_vpc_endpoint_connection_notification,
    write "DeleteVpcEndpointConnectionNotifications" => vpce_notifications::delete_vpc_endpoint_connection_notifications,
    // A read action that upgrades itself: the TXT lookup runs without the write lock.
    read "StartVpcEndpointServicePrivateDnsVerification" => vpce_dns::start_vpc_endpoint_service_private_dns_verification,

    write "CreateAgentJoinToken" => agents::create_join_token,
    read "DescribeAgents" => agents::describe_agents,
    write "RevokeAgent" => agents::revoke_agent,
}
