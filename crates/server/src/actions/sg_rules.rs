//! EC2 security-group rules: `IpPermissions` in and out, authorize, revoke, describe.
//!
//! Agents enforce inbound rules (flows into the ENIs they own). Outbound rules are kept and shown
//! as EC2 keeps them, with the allow-all rule every new group starts with (Terraform and the
//! console revoke or replace it); nothing in Underpass opens connections from an ENI and replies
//! are stateful, so they never decide a flow. ICMP rules match every ICMP type and code, so a
//! rule for one type is refused rather than silently widened.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use underpass_domain::firewall::{parse_source_cidr, IngressRule, PortRange, Protocol, Source};
use underpass_domain::{SecurityGroupId, SecurityGroupRuleId};
use underpass_store::records::{Direction, SecurityGroup, SgRule};
use underpass_store::{network, StoreError};

use super::describe::{paginate, scope, Filter, Filters, PageRequest, PageStyle};
use super::lookup::{self, ec2_arn, no_duplicates, parse_id, ReturnTrue};
use super::security_groups::{own_groups, MAX_TEXT};
use super::Ctx;
use crate::api::ApiError;

/// An IPv4 source.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct IpRange {
    cidr_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// An IPv6 source.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct Ipv6Range {
    cidr_ipv6: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// A group source (another group of the caller).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct GroupPair {
    group_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// EC2's `IpPermission`, in requests and answers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct IpPermission {
    ip_protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_port: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_port: Option<i32>,
    #[serde(default)]
    ip_ranges: Vec<IpRange>,
    #[serde(default)]
    ipv6_ranges: Vec<Ipv6Range>,
    #[serde(default)]
    user_id_group_pairs: Vec<GroupPair>,
}

fn check_description(d: Option<&String>) -> Result<String, ApiError> {
    match d {
        None => Ok(String::new()),
        Some(d) if d.len() <= MAX_TEXT && !d.chars().any(char::is_control) => Ok(d.clone()),
        Some(_) => Err(ApiError::invalid(format!(
            "Rule descriptions are at most {MAX_TEXT} printable characters."
        ))),
    }
}

/// Checks permissions and turns them into rules (with their descriptions).
async fn to_rules(
    ctx: &mut Ctx<'_>,
    perms: &[IpPermission],
) -> Result<Vec<(IngressRule, String)>, ApiError> {
    if perms.is_empty() {
        return Err(ApiError::missing("IpPermissions"));
    }
    let mut out = Vec::new();
    for p in perms {
        let protocol = Protocol::parse(&p.ip_protocol)?;
        let ports = match protocol {
            Protocol::Tcp | Protocol::Udp => match (p.from_port, p.to_port) {
                (Some(f), Some(t)) => PortRange::new(protocol, f, t)?,
                _ => {
                    return Err(ApiError::invalid(format!(
                        "Invalid value for portRange. Must specify both from and to ports with {}.",
                        protocol.as_str().to_uppercase()
                    )))
                }
            },
            Protocol::Icmp | Protocol::All => {
                let any = |v: Option<i32>| v.is_none_or(|x| x == -1);
                if protocol == Protocol::Icmp
                    && p.from_port
                        .into_iter()
                        .chain(p.to_port)
                        .any(|x| !(-1..=255).contains(&x))
                {
                    return Err(ApiError::invalid(
                        "ICMP type and code must be between -1 and 255.",
                    ));
                }
                if !any(p.from_port) || !any(p.to_port) {
                    return Err(ApiError::invalid(format!(
                        "Rules for protocol {} match every port, type and code here; use -1 for FromPort and ToPort.",
                        p.ip_protocol.chars().take(16).collect::<String>()
                    )));
                }
                PortRange::new(protocol, -1, -1)?
            }
        };
        if p.ip_ranges.is_empty() && p.ipv6_ranges.is_empty() && p.user_id_group_pairs.is_empty() {
            return Err(ApiError::missing(
                "IpRanges, Ipv6Ranges or UserIdGroupPairs",
            ));
        }
        let rule = |source| IngressRule {
            protocol,
            ports,
            source,
        };
        for r in &p.ip_ranges {
            let net = parse_source_cidr(&r.cidr_ip)?;
            if !matches!(net, ipnet::IpNet::V4(_)) {
                return Err(ApiError::invalid(format!(
                    "CIDR block {} is malformed: IpRanges takes IPv4 blocks; use Ipv6Ranges.",
                    r.cidr_ip
                )));
            }
            out.push((
                rule(Source::Cidr(net)),
                check_description(r.description.as_ref())?,
            ));
        }
        for r in &p.ipv6_ranges {
            let net = parse_source_cidr(&r.cidr_ipv6)?;
            if !matches!(net, ipnet::IpNet::V6(_)) {
                return Err(ApiError::invalid(format!(
                    "CIDR block {} is malformed: Ipv6Ranges takes IPv6 blocks.",
                    r.cidr_ipv6
                )));
            }
            out.push((
                rule(Source::Cidr(net)),
                check_description(r.description.as_ref())?,
            ));
        }
        for g in &p.user_id_group_pairs {
            if g.user_id.as_ref().is_some_and(|u| *u != ctx.caller.account) {
                return Err(lookup::missing("security group", &g.group_id));
            }
            let source = lookup::group(ctx, &g.group_id).await?;
            out.push((
                rule(Source::Group(source.id)),
                check_description(g.description.as_ref())?,
            ));
        }
    }
    Ok(out)
}

/// Gives a new group EC2's default outbound rule: all traffic to `0.0.0.0/0`.
pub(crate) async fn add_default_egress(
    ctx: &mut Ctx<'_>,
    gid: &SecurityGroupId,
) -> Result<(), ApiError> {
    let rule = SgRule {
        id: SecurityGroupRuleId::from_bits(ctx.new_id()?),
        rule: IngressRule {
            protocol: Protocol::All,
            ports: PortRange::ALL,
            source: Source::Cidr(ipnet::IpNet::V4(ipnet::Ipv4Net::default())),
        },
        description: String::new(),
    };
    network::add_rules(&mut ctx.tx, gid, Direction::Egress, &[rule]).await?;
    Ok(())
}

/// One rule as `DescribeSecurityGroupRules` shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RuleView {
    security_group_rule_id: String,
    group_id: String,
    group_owner_id: String,
    is_egress: bool,
    ip_protocol: String,
    from_port: i32,
    to_port: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    cidr_ipv4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cidr_ipv6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    referenced_group_info: Option<GroupPair>,
    description: String,
}

fn ports_of(rule: &IngressRule) -> (i32, i32) {
    match rule.protocol {
        Protocol::Tcp | Protocol::Udp => (i32::from(rule.ports.from), i32::from(rule.ports.to)),
        Protocol::Icmp | Protocol::All => (-1, -1),
    }
}

fn rule_view(g: &SecurityGroup, r: &SgRule, direction: Direction) -> RuleView {
    let (from_port, to_port) = ports_of(&r.rule);
    let (mut v4, mut v6, mut group) = (None, None, None);
    match &r.rule.source {
        Source::Cidr(ipnet::IpNet::V4(n)) => v4 = Some(n.to_string()),
        Source::Cidr(ipnet::IpNet::V6(n)) => v6 = Some(n.to_string()),
        Source::Group(id) => {
            group = Some(GroupPair {
                group_id: id.to_string(),
                user_id: Some(g.account.clone()),
                description: None,
            })
        }
    }
    RuleView {
        security_group_rule_id: r.id.to_string(),
        group_id: g.id.to_string(),
        group_owner_id: g.account.clone(),
        is_egress: direction == Direction::Egress,
        ip_protocol: r.rule.protocol.as_str().into(),
        from_port,
        to_port,
        cidr_ipv4: v4,
        cidr_ipv6: v6,
        referenced_group_info: group,
        description: r.description.clone(),
    }
}

/// Rules of a group folded into EC2's `IpPermissions` (one per protocol and port range).
pub(crate) fn permissions(g: &SecurityGroup, direction: Direction) -> Vec<IpPermission> {
    let mut by_key: BTreeMap<(String, i32, i32), IpPermission> = BTreeMap::new();
    let rules = match direction {
        Direction::Ingress => &g.rules,
        Direction::Egress => &g.egress_rules,
    };
    for r in rules {
        let (from, to) = ports_of(&r.rule);
        let proto = r.rule.protocol.as_str().to_owned();
        let p = by_key
            .entry((proto.clone(), from, to))
            .or_insert_with(|| IpPermission {
                ip_protocol: proto,
                from_port: Some(from),
                to_port: Some(to),
                ip_ranges: vec![],
                ipv6_ranges: vec![],
                user_id_group_pairs: vec![],
            });
        let description = (!r.description.is_empty()).then(|| r.description.clone());
        match &r.rule.source {
            Source::Cidr(ipnet::IpNet::V4(n)) => p.ip_ranges.push(IpRange {
                cidr_ip: n.to_string(),
                description,
            }),
            Source::Cidr(ipnet::IpNet::V6(n)) => p.ipv6_ranges.push(Ipv6Range {
                cidr_ipv6: n.to_string(),
                description,
            }),
            Source::Group(id) => p.user_id_group_pairs.push(GroupPair {
                group_id: id.to_string(),
                user_id: Some(g.account.clone()),
                description,
            }),
        }
    }
    by_key.into_values().collect()
}

/// `AuthorizeSecurityGroupIngress`: all rules are added, or none (a duplicate, within the
/// request or with an existing rule, is `InvalidPermission.Duplicate`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct AuthorizeIngressRequest {
    group_id: String,
    #[serde(default)]
    ip_permissions: Vec<IpPermission>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AuthorizeIngressResponse {
    r#return: bool,
    security_group_rules: Vec<RuleView>,
}

pub(crate) async fn authorize_security_group_ingress(
    ctx: &mut Ctx<'_>,
    req: AuthorizeIngressRequest,
) -> Result<AuthorizeIngressResponse, ApiError> {
    authorize(ctx, req, Direction::Ingress).await
}

/// `AuthorizeSecurityGroupEgress`: as ingress, for outbound rules (`IpRanges` are destinations).
pub(crate) async fn authorize_security_group_egress(
    ctx: &mut Ctx<'_>,
    req: AuthorizeIngressRequest,
) -> Result<AuthorizeIngressResponse, ApiError> {
    authorize(ctx, req, Direction::Egress).await
}

async fn authorize(
    ctx: &mut Ctx<'_>,
    req: AuthorizeIngressRequest,
    direction: Direction,
) -> Result<AuthorizeIngressResponse, ApiError> {
    let gid: SecurityGroupId = parse_id(&req.group_id, "InvalidGroupId.Malformed")?;
    let action = match direction {
        Direction::Ingress => "ec2:AuthorizeSecurityGroupIngress",
        Direction::Egress => "ec2:AuthorizeSecurityGroupEgress",
    };
    ctx.authorize(action, &ec2_arn(ctx, "security-group", gid))
        .await?;
    let group = lookup::group(ctx, &req.group_id).await?;
    let mut rules = Vec::new();
    for (rule, description) in to_rules(ctx, &req.ip_permissions).await? {
        rules.push(SgRule {
            id: SecurityGroupRuleId::from_bits(ctx.new_id()?),
            rule,
            description,
        });
    }
    network::add_rules(&mut ctx.tx, &gid, direction, &rules)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::client(
                "InvalidPermission.Duplicate",
                "The specified rule already exists in the security group (or twice in the request).",
            ),
            e => e.into(),
        })?;
    Ok(AuthorizeIngressResponse {
        r#return: true,
        security_group_rules: rules
            .iter()
            .map(|r| rule_view(&group, r, direction))
            .collect(),
    })
}

/// `RevokeSecurityGroupIngress`: by rule ids, or by permissions that must each match a rule.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct RevokeIngressRequest {
    group_id: String,
    #[serde(default)]
    ip_permissions: Vec<IpPermission>,
    #[serde(default)]
    security_group_rule_ids: Vec<String>,
}

pub(crate) async fn revoke_security_group_ingress(
    ctx: &mut Ctx<'_>,
    req: RevokeIngressRequest,
) -> Result<ReturnTrue, ApiError> {
    revoke(ctx, req, Direction::Ingress).await
}

/// `RevokeSecurityGroupEgress`.
pub(crate) async fn revoke_security_group_egress(
    ctx: &mut Ctx<'_>,
    req: RevokeIngressRequest,
) -> Result<ReturnTrue, ApiError> {
    revoke(ctx, req, Direction::Egress).await
}

async fn revoke(
    ctx: &mut Ctx<'_>,
    req: RevokeIngressRequest,
    direction: Direction,
) -> Result<ReturnTrue, ApiError> {
    let gid: SecurityGroupId = parse_id(&req.group_id, "InvalidGroupId.Malformed")?;
    let action = match direction {
        Direction::Ingress => "ec2:RevokeSecurityGroupIngress",
        Direction::Egress => "ec2:RevokeSecurityGroupEgress",
    };
    ctx.authorize(action, &ec2_arn(ctx, "security-group", gid))
        .await?;
    let group = lookup::group(ctx, &req.group_id).await?;
    let ids = match (
        req.ip_permissions.is_empty(),
        req.security_group_rule_ids.is_empty(),
    ) {
        (true, true) => return Err(ApiError::missing("IpPermissions or SecurityGroupRuleIds")),
        (false, false) => {
            return Err(ApiError::client(
                "InvalidParameterCombination",
                "Specify either IpPermissions or SecurityGroupRuleIds, not both.",
            ))
        }
        (true, false) => {
            no_duplicates("SecurityGroupRuleIds", &req.security_group_rule_ids)?;
            for id in &req.security_group_rule_ids {
                parse_id::<SecurityGroupRuleId>(id, "InvalidSecurityGroupRuleId.Malformed")?;
            }
            req.security_group_rule_ids.clone()
        }
        (false, true) => {
            let mut ids = Vec::new();
            for (rule, _) in to_rules(ctx, &req.ip_permissions).await? {
                let rules = match direction {
                    Direction::Ingress => &group.rules,
                    Direction::Egress => &group.egress_rules,
                };
                let found = rules.iter().find(|r| r.rule == rule).ok_or_else(|| {
                    ApiError::client(
                        "InvalidPermission.NotFound",
                        "The specified rule does not exist in this security group.",
                    )
                })?;
                ids.push(found.id.to_string());
            }
            ids.sort();
            ids.dedup();
            ids
        }
    };
    network::remove_rules(&mut ctx.tx, &gid, direction, &ids)
        .await
        .map_err(|e| match e {
            StoreError::NotFound { id, .. } => ApiError::client(
                "InvalidSecurityGroupRuleId.NotFound",
                format!(
                    "The security group rule ID '{id}' does not exist in this group and direction"
                ),
            ),
            e => e.into(),
        })?;
    Ok(ReturnTrue::YES)
}

/// `DescribeSecurityGroupRules`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeRulesRequest {
    #[serde(default)]
    security_group_rule_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeRulesResponse {
    security_group_rules: Vec<RuleView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe_security_group_rules(
    ctx: &mut Ctx<'_>,
    req: DescribeRulesRequest,
) -> Result<DescribeRulesResponse, ApiError> {
    ctx.authorize("ec2:DescribeSecurityGroupRules", "*").await?;
    let filters = Filters::new(
        &req.filters,
        &["group-id", "security-group-rule-id", "is-egress"],
    )?;
    no_duplicates("SecurityGroupRuleIds", &req.security_group_rule_ids)?;
    let groups = own_groups(ctx).await?;
    let mut views: Vec<RuleView> = groups
        .iter()
        .flat_map(|g| {
            let inbound = g
                .rules
                .iter()
                .map(move |r| rule_view(g, r, Direction::Ingress));
            let outbound = g
                .egress_rules
                .iter()
                .map(move |r| rule_view(g, r, Direction::Egress));
            inbound.chain(outbound)
        })
        .collect();
    for id in &req.security_group_rule_ids {
        parse_id::<SecurityGroupRuleId>(id, "InvalidSecurityGroupRuleId.Malformed")?;
        if !views.iter().any(|v| &v.security_group_rule_id == id) {
            return Err(lookup::missing("security group rule", id));
        }
    }
    if !req.security_group_rule_ids.is_empty() {
        views.retain(|v| {
            req.security_group_rule_ids
                .contains(&v.security_group_rule_id)
        });
    }
    views.retain(|v| {
        filters.matches(|name| match name {
            "group-id" => vec![v.group_id.clone()],
            "security-group-rule-id" => vec![v.security_group_rule_id.clone()],
            "is-egress" => vec![v.is_egress.to_string()],
            _ => vec![],
        })
    });
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeSecurityGroupRules", &req),
        style: PageStyle::Ec2,
    };
    let (security_group_rules, next_token) =
        paginate(ctx, &page, views, |v| v.security_group_rule_id.clone())?;
    Ok(DescribeRulesResponse {
        security_group_rules,
        next_token,
    })
}
