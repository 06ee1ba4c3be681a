//! Default VPCs, as EC2 gives every account in each region: `172.31.0.0/16` with a default
//! subnet (a `/20`, public addresses on launch, `DefaultForAz`) in each of the region's zones,
//! and what every VPC has (default security group, main route table, default network ACL).
//! One is made in each served region with each new account, and for every account in a region
//! added to the configuration, unless the server runs with `--no-default-vpc`
//! ([`crate::ServerConfig::default_vpc`]); like any VPC it can be deleted (subnets first), and
//! `CreateDefaultVpc` makes it again.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use underpass_domain::{AccountId, PrincipalArn, SubnetId, VpcId};
use underpass_store::records::{Subnet, SubnetAttributes, Vpc};
use underpass_store::{network, regions};

use super::ec2::{provision_vpc, VpcView};
use super::{Ctx, Meta};
use crate::api::{ApiError, CallerInfo};
use crate::state::AppState;

/// The default VPC's block, as in EC2.
const DEFAULT_VPC_BLOCK: [u8; 2] = [172, 31];
/// Default subnets are `/20`s: 16 of them fill the block, one per zone.
const SUBNET_PREFIX: u8 = 20;
const MAX_ZONES: usize = 16;

/// The `i`-th default subnet's block: `172.31.(16 i).0/20`.
fn subnet_block(i: usize) -> Option<Ipv4Net> {
    let third = u8::try_from(i.checked_mul(16)?).ok()?;
    let [a, b] = DEFAULT_VPC_BLOCK;
    Ipv4Net::new(Ipv4Addr::new(a, b, third, 0), SUBNET_PREFIX).ok()
}

/// Makes `account`'s default VPC in `region` with its default subnets, inside the action's
/// transaction; refused with `DefaultVpcAlreadyExists` when the account has one there.
pub(crate) async fn make(ctx: &mut Ctx<'_>, account: &str, region: &str) -> Result<Vpc, ApiError> {
    if network::default_vpc(&mut ctx.tx, account, region)
        .await?
        .is_some()
    {
        return Err(ApiError::client(
            "DefaultVpcAlreadyExists",
            "A Default VPC already exists for this account in this region.",
        ));
    }
    let [a, b] = DEFAULT_VPC_BLOCK;
    let vpc = Vpc {
        id: VpcId::from_bits(ctx.new_id()?),
        account: account.to_owned(),
        region: region.to_owned(),
        cidr: Ipv4Net::new(Ipv4Addr::new(a, b, 0, 0), 16)
            .map_err(|_| ApiError::internal("default VPC block"))?,
        dns_support: true,
        dns_hostnames: true,
        is_default: true,
    };
    provision_vpc(ctx, &vpc).await?;
    let zones: Vec<String> = ctx
        .state
        .cfg
        .zones(region)
        .iter()
        .take(MAX_ZONES)
        .cloned()
        .collect();
    for (i, zone) in zones.into_iter().enumerate() {
        let cidr = subnet_block(i).ok_or_else(|| ApiError::internal("default subnet block"))?;
        let subnet = Subnet {
            id: SubnetId::from_bits(ctx.new_id()?),
            vpc: vpc.id,
            account: account.to_owned(),
            region: region.to_owned(),
            zone,
            cidr,
            attributes: SubnetAttributes {
                map_public_ip_on_launch: true,
                ..SubnetAttributes::default()
            },
            default_for_az: true,
        };
        network::insert_subnet(&mut ctx.tx, &subnet, ctx.meta.now).await?;
        super::network_acls::associate_default(ctx, &subnet).await?;
    }
    Ok(vpc)
}

/// Opens every account in every served region it has not been opened in: its default VPC
/// there (unless the server runs with `--no-default-vpc`), made and recorded in one
/// transaction per account and region. This covers the administrator's account at first start
/// and every account when a region is added to the configuration. Run at start, before the API
/// serves.
pub(crate) async fn open_regions(state: &AppState) -> Result<(), ApiError> {
    let names: Vec<String> = state.cfg.regions.iter().map(|r| r.name.clone()).collect();
    let pending = {
        let mut tx = state.store.read().await?;
        regions::unopened(&mut tx, &names).await?
    };
    for (account, region) in pending {
        let id: AccountId = account.parse()?;
        let principal = PrincipalArn::Root { account: id };
        let caller = CallerInfo {
            arn: principal.to_string(),
            principal,
            account: account.clone(),
            role_arn: None,
            userid: Some(account.clone()),
            service: "ec2".into(),
            region: region.clone(),
            access_key_id: String::new(),
            user_session: false,
        };
        let meta = Meta {
            source_ip: IpAddr::from([127, 0, 0, 1]),
            now: OffsetDateTime::now_utc(),
            dry_run: false,
        };
        let mut ctx = Ctx::write(state, &caller, meta).await?;
        let made = open_region(&mut ctx, &account, &region).await?;
        ctx.finish().await?;
        if made {
            tracing::info!(%account, %region, "default VPC made");
        }
    }
    Ok(())
}

/// Opens `account` in `region` inside the action's transaction: its default VPC there, when
/// the server gives new accounts one and it has none, and the record that the region is
/// settled. Returns whether a VPC was made.
pub(crate) async fn open_region(
    ctx: &mut Ctx<'_>,
    account: &str,
    region: &str,
) -> Result<bool, ApiError> {
    let make_vpc = ctx.state.cfg.default_vpc
        && network::default_vpc(&mut ctx.tx, account, region)
            .await?
            .is_none();
    if make_vpc {
        make(ctx, account, region).await?;
    }
    regions::open(&mut ctx.tx, account, region).await?;
    Ok(make_vpc)
}

/// `CreateDefaultVpc`: the caller's default VPC, after the old one was deleted.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateDefaultVpcRequest {}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateDefaultVpcResponse {
    vpc: VpcView,
}

pub(crate) async fn create_default_vpc(
    ctx: &mut Ctx<'_>,
    _req: CreateDefaultVpcRequest,
) -> Result<CreateDefaultVpcResponse, ApiError> {
    ctx.authorize("ec2:CreateDefaultVpc", "*").await?;
    let account = ctx.caller.account.clone();
    let region = ctx.region().to_owned();
    let vpc = make(ctx, &account, &region).await?;
    Ok(CreateDefaultVpcResponse {
        vpc: VpcView::new(&vpc, &[], &[]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_subnets_tile_the_block_in_20s() {
        let blocks: Vec<String> = (0..MAX_ZONES)
            .map(|i| subnet_block(i).map(|b| b.to_string()).unwrap_or_default())
            .collect();
        assert_eq!(blocks[0], "172.31.0.0/20");
        assert_eq!(blocks[1], "172.31.16.0/20");
        assert_eq!(blocks[15], "172.31.240.0/20");
        assert_eq!(subnet_block(MAX_ZONES), None, "a 17th does not fit");
    }
}
