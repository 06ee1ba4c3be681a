//! A VPC's secondary IPv4 blocks: `AssociateVpcCidrBlock`, `DisassociateVpcCidrBlock`, and the
//! `CidrBlockAssociationSet` of `DescribeVpcs`.
//!
//! EC2's rules: /16 to /28, no overlap with the VPC's other blocks, five blocks in all (the
//! default quota, `CidrLimitExceeded`); the primary block cannot be removed, nor a block that
//! still holds subnets. Every route table of the VPC has a `local` route per block, added and
//! removed with it. IPv6 blocks (Amazon-provided or from a pool) are not offered.

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};
use underpass_domain::net::{overlaps, parse_block};
use underpass_domain::VpcId;
use underpass_store::network::{self, CidrBlock};
use underpass_store::records::Vpc;
use underpass_store::routing::{self, Route, RouteTarget};

use super::lookup::{self, ec2_arn, parse_id};
use super::Ctx;
use crate::api::ApiError;

/// Blocks a VPC may hold, the primary one included.
const MAX_BLOCKS: usize = 5;

/// The association id of a VPC's primary block: stable, derived from the VPC id.
pub(crate) fn primary_association(vpc: &VpcId) -> String {
    let id = vpc.to_string();
    format!("vpc-cidr-assoc-{}", id.strip_prefix("vpc-").unwrap_or(&id))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BlockState {
    state: &'static str,
}

/// One `CidrBlockAssociation`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BlockView {
    association_id: String,
    cidr_block: String,
    cidr_block_state: BlockState,
}

/// The VPC's blocks as `DescribeVpcs` lists them: the primary first.
pub(crate) fn association_set(vpc: &Vpc, secondary: &[CidrBlock]) -> Vec<BlockView> {
    let mut out = vec![BlockView {
        association_id: primary_association(&vpc.id),
        cidr_block: vpc.cidr.to_string(),
        cidr_block_state: BlockState {
            state: "associated",
        },
    }];
    out.extend(secondary.iter().map(|b| BlockView {
        association_id: b.association_id.clone(),
        cidr_block: b.cidr.to_string(),
        cidr_block_state: BlockState {
            state: "associated",
        },
    }));
    out
}

/// Every IPv4 block of `vpc`: the primary first.
pub(crate) async fn blocks(ctx: &mut Ctx<'_>, vpc: &Vpc) -> Result<Vec<Ipv4Net>, ApiError> {
    let mut out = vec![vpc.cidr];
    out.extend(
        network::cidr_blocks(&mut ctx.tx, &vpc.id)
            .await?
            .into_iter()
            .map(|b| b.cidr),
    );
    Ok(out)
}

/// `AssociateVpcCidrBlock`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct AssociateRequest {
    vpc_id: String,
    cidr_block: Option<String>,
    amazon_provided_ipv6_cidr_block: Option<bool>,
    ipv6_cidr_block: Option<String>,
    ipv6_pool: Option<String>,
    ipv6_cidr_block_network_border_group: Option<String>,
    ipv4_ipam_pool_id: Option<String>,
    ipv4_netmask_length: Option<i64>,
    ipv6_ipam_pool_id: Option<String>,
    ipv6_netmask_length: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssociateResponse {
    cidr_block_association: BlockView,
    vpc_id: String,
}

pub(crate) async fn associate_vpc_cidr_block(
    ctx: &mut Ctx<'_>,
    req: AssociateRequest,
) -> Result<AssociateResponse, ApiError> {
    let id: VpcId = parse_id(&req.vpc_id, "InvalidVpcID.Malformed")?;
    ctx.authorize("ec2:AssociateVpcCidrBlock", &ec2_arn(ctx, "vpc", id))
        .await?;
    let vpc = lookup::vpc(ctx, &req.vpc_id).await?;
    if req.amazon_provided_ipv6_cidr_block == Some(true)
        || req.ipv6_cidr_block.is_some()
        || req.ipv6_pool.is_some()
        || req.ipv6_ipam_pool_id.is_some()
        || req.ipv6_netmask_length.is_some()
        || req.ipv6_cidr_block_network_border_group.is_some()
        || req.ipv4_ipam_pool_id.is_some()
        || req.ipv4_netmask_length.is_some()
    {
        return Err(ApiError::invalid(
            "Underpass VPCs take IPv4 blocks given by CidrBlock only (no IPv6 blocks, no IPAM pools).",
        ));
    }
    let cidr = parse_block(
        req.cidr_block
            .as_deref()
            .ok_or_else(|| ApiError::missing("CidrBlock"))?,
    )
    .map_err(|e| ApiError::client("InvalidVpc.Range", e.to_string()))?;
    let existing = blocks(ctx, &vpc).await?;
    if let Some(other) = existing.iter().find(|b| overlaps(b, &cidr)) {
        return Err(ApiError::client(
            "InvalidVpc.Range",
            format!("The CIDR '{cidr}' conflicts with the VPC's block '{other}'."),
        ));
    }
    if existing.len() >= MAX_BLOCKS {
        return Err(ApiError::client(
            "CidrLimitExceeded",
            format!(
                "This network '{}' has met its maximum number of allowed CIDRs: {MAX_BLOCKS}",
                vpc.id
            ),
        ));
    }
    let block = CidrBlock {
        association_id: format!(
            "vpc-cidr-assoc-{:017x}",
            ctx.random()? & ((1u128 << 68) - 1)
        ),
        vpc: vpc.id,
        cidr,
    };
    network::add_cidr_block(&mut ctx.tx, &block, ctx.meta.now).await?;
    for rt in routing::list_route_tables(&mut ctx.tx, None, Some(&vpc.id)).await? {
        routing::add_route(
            &mut ctx.tx,
            &rt.id,
            &Route {
                destination: IpNet::V4(cidr),
                target: RouteTarget::Local,
                origin: "CreateRouteTable".into(),
            },
        )
        .await?;
    }
    Ok(AssociateResponse {
        cidr_block_association: BlockView {
            association_id: block.association_id,
            cidr_block: cidr.to_string(),
            cidr_block_state: BlockState {
                state: "associated",
            },
        },
        vpc_id: vpc.id.to_string(),
    })
}

/// `DisassociateVpcCidrBlock`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DisassociateRequest {
    association_id: String,
}

pub(crate) async fn disassociate_vpc_cidr_block(
    ctx: &mut Ctx<'_>,
    req: DisassociateRequest,
) -> Result<AssociateResponse, ApiError> {
    let not_found = || {
        ApiError::client(
            "InvalidVpcCidrBlockAssociationID.NotFound",
            format!(
                "The vpc CIDR block association ID '{}' does not exist",
                req.association_id.chars().take(64).collect::<String>()
            ),
        )
    };
    let block = network::get_cidr_block(&mut ctx.tx, &req.association_id).await?;
    let vpc_id = match &block {
        Some(b) => b.vpc,
        None => {
            // The primary block's association: refused, if it is the caller's VPC's.
            let Some(vpc) = req
                .association_id
                .strip_prefix("vpc-cidr-assoc-")
                .and_then(|hex| format!("vpc-{hex}").parse::<VpcId>().ok())
            else {
                return Err(not_found());
            };
            vpc
        }
    };
    ctx.authorize("ec2:DisassociateVpcCidrBlock", &ec2_arn(ctx, "vpc", vpc_id))
        .await?;
    let vpc = lookup::vpc(ctx, &vpc_id.to_string())
        .await
        .map_err(|_| not_found())?;
    let Some(block) = block else {
        return Err(ApiError::client(
            "OperationNotPermitted",
            format!(
                "The vpc CIDR block with association ID {} may not be disassociated. It is the primary IPv4 CIDR block of the VPC",
                req.association_id
            ),
        ));
    };
    let used = network::list_subnets(&mut ctx.tx, Some(&vpc.id), None)
        .await?
        .iter()
        .any(|s| block.cidr.contains(&s.cidr));
    if used {
        return Err(ApiError::client(
            "InvalidCidrBlock.InUse",
            format!(
                "The CIDR block {} holds subnets of {}: delete them first",
                block.cidr, vpc.id
            ),
        ));
    }
    for rt in routing::list_route_tables(&mut ctx.tx, None, Some(&vpc.id)).await? {
        routing::delete_route(&mut ctx.tx, &rt.id, &IpNet::V4(block.cidr)).await?;
    }
    network::remove_cidr_block(&mut ctx.tx, &block.association_id).await?;
    Ok(AssociateResponse {
        cidr_block_association: BlockView {
            association_id: block.association_id,
            cidr_block: block.cidr.to_string(),
            cidr_block_state: BlockState {
                state: "disassociated",
            },
        },
        vpc_id: vpc.id.to_string(),
    })
}
