//! EC2's catalogue actions: `DescribeRegions`, `DescribeAvailabilityZones`, and the prefix-list
//! reads `DescribePrefixLists` / `DescribeManagedPrefixLists`.
//!
//! A server serves the regions it is configured with (`--region`), each with its zones; a
//! request sees the region its signature names. Zone ids are
//! derived from the names the way AWS shapes them (`us-east-1a` → `use1-az1`). Prefix lists:
//! in AWS these name the address ranges of the services that gateway endpoints reach (S3,
//! DynamoDB) and the lists customers manage. Underpass has the former, one per gateway service
//! ([`gateway_services`]); no action makes a customer-managed list yet.

use serde::{Deserialize, Serialize};

use super::describe::{Filter, Filters};
use super::Ctx;
use crate::api::ApiError;

/// `DescribeRegions`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeRegionsRequest {
    #[serde(default)]
    region_names: Vec<String>,
    all_regions: Option<bool>,
    #[serde(default)]
    filters: Vec<Filter>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RegionView {
    region_name: String,
    opt_in_status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeRegionsResponse {
    regions: Vec<RegionView>,
}

/// The server's regions, enabled (`opt-in-not-required`), in the configured order.
/// `AllRegions=true` asks for the disabled regions too; a server has none, so the answer is the
/// same.
pub(crate) async fn describe_regions(
    ctx: &mut Ctx<'_>,
    req: DescribeRegionsRequest,
) -> Result<DescribeRegionsResponse, ApiError> {
    ctx.authorize("ec2:DescribeRegions", "*").await?;
    let filters = Filters::new(&req.filters, &["region-name", "opt-in-status", "endpoint"])?;
    let _all = req.all_regions.unwrap_or(false);
    let served: Vec<&str> = ctx
        .state
        .cfg
        .regions
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    if let Some(name) = req
        .region_names
        .iter()
        .find(|n| !served.contains(&n.as_str()))
    {
        return Err(ApiError::invalid(format!(
            "Invalid region name: {} (this server serves {})",
            name.chars().take(64).collect::<String>(),
            served.join(", ")
        )));
    }
    let regions = served
        .iter()
        .filter(|r| req.region_names.is_empty() || req.region_names.iter().any(|n| n == *r))
        .filter(|r| {
            filters.matches(|name| match name {
                "region-name" => vec![(**r).to_owned()],
                "opt-in-status" => vec!["opt-in-not-required".to_owned()],
                _ => vec![],
            })
        })
        .map(|r| RegionView {
            region_name: (*r).to_owned(),
            opt_in_status: "opt-in-not-required",
        })
        .collect();
    Ok(DescribeRegionsResponse { regions })
}

/// The id AWS would give a zone: the region's short form (`us-east-1` → `use1`,
/// `ap-southeast-2` → `apse2`) and `az` with the zone letter's position (`a` → 1). Names that
/// are not AWS-shaped get the region without punctuation and the zone's position in the list.
pub(crate) fn zone_id(region: &str, zone: &str, index: usize) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    let short = match parts.as_slice() {
        [area, direction, number] if number.chars().all(|c| c.is_ascii_digit()) => {
            let d = match *direction {
                "east" => "e",
                "west" => "w",
                "north" => "n",
                "south" => "s",
                "central" => "c",
                "northeast" => "ne",
                "northwest" => "nw",
                "southeast" => "se",
                "southwest" => "sw",
                other => other,
            };
            format!("{area}{d}{number}")
        }
        _ => region.chars().filter(char::is_ascii_alphanumeric).collect(),
    };
    let n = match zone.strip_prefix(region).map(str::as_bytes) {
        Some([letter]) if letter.is_ascii_lowercase() => usize::from(letter - b'a') + 1,
        _ => index + 1,
    };
    format!("{short}-az{n}")
}

/// `DescribeAvailabilityZones`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeZonesRequest {
    #[serde(default)]
    zone_names: Vec<String>,
    #[serde(default)]
    zone_ids: Vec<String>,
    all_availability_zones: Option<bool>,
    #[serde(default)]
    filters: Vec<Filter>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ZoneView {
    zone_name: String,
    zone_id: String,
    zone_type: &'static str,
    region_name: String,
    state: &'static str,
    opt_in_status: &'static str,
    group_name: String,
    network_border_group: String,
    messages: Vec<()>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeZonesResponse {
    availability_zones: Vec<ZoneView>,
}

const ZONE_FILTERS: &[&str] = &[
    "zone-name",
    "zone-id",
    "zone-type",
    "region-name",
    "state",
    "opt-in-status",
    "group-name",
    "network-border-group",
];

pub(crate) async fn describe_availability_zones(
    ctx: &mut Ctx<'_>,
    req: DescribeZonesRequest,
) -> Result<DescribeZonesResponse, ApiError> {
    ctx.authorize("ec2:DescribeAvailabilityZones", "*").await?;
    let filters = Filters::new(&req.filters, ZONE_FILTERS)?;
    let _all = req.all_availability_zones.unwrap_or(false);
    let region = ctx.region().to_owned();
    let zones: Vec<ZoneView> = ctx
        .zones()
        .iter()
        .enumerate()
        .map(|(i, z)| ZoneView {
            zone_name: z.clone(),
            zone_id: zone_id(&region, z, i),
            zone_type: "availability-zone",
            region_name: region.clone(),
            state: "available",
            opt_in_status: "opt-in-not-required",
            group_name: region.clone(),
            network_border_group: region.clone(),
            messages: vec![],
        })
        .collect();
    for name in &req.zone_names {
        if !zones.iter().any(|z| z.zone_name == *name) {
            return Err(ApiError::invalid(format!(
                "The zone '{}' does not exist in region {region}",
                name.chars().take(64).collect::<String>()
            )));
        }
    }
    for id in &req.zone_ids {
        if !zones.iter().any(|z| z.zone_id == *id) {
            return Err(ApiError::invalid(format!(
                "The zone id '{}' does not exist in region {region}",
                id.chars().take(64).collect::<String>()
            )));
        }
    }
    let availability_zones = zones
        .into_iter()
        .filter(|z| req.zone_names.is_empty() || req.zone_names.contains(&z.zone_name))
        .filter(|z| req.zone_ids.is_empty() || req.zone_ids.contains(&z.zone_id))
        .filter(|z| {
            filters.matches(|name| match name {
                "zone-name" => vec![z.zone_name.clone()],
                "zone-id" => vec![z.zone_id.clone()],
                "zone-type" => vec![z.zone_type.to_owned()],
                "region-name" => vec![z.region_name.clone()],
                "state" => vec![z.state.to_owned()],
                "opt-in-status" => vec![z.opt_in_status.to_owned()],
                "group-name" => vec![z.group_name.clone()],
                "network-border-group" => vec![z.network_border_group.clone()],
                _ => vec![],
            })
        })
        .collect();
    Ok(DescribeZonesResponse { availability_zones })
}

/// `DescribePrefixLists` / `DescribeManagedPrefixLists` (see the module documentation).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribePrefixListsRequest {
    #[serde(default)]
    prefix_list_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// `DescribePrefixLists`' item: an AWS-managed list of a gateway service.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PrefixListView {
    prefix_list_id: String,
    prefix_list_name: String,
    cidrs: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribePrefixListsResponse {
    prefix_lists: Vec<PrefixListView>,
}

/// `DescribeManagedPrefixLists`' item.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ManagedPrefixListView {
    prefix_list_id: String,
    address_family: &'static str,
    state: &'static str,
    prefix_list_arn: String,
    prefix_list_name: String,
    owner_id: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeManagedPrefixListsResponse {
    prefix_lists: Vec<ManagedPrefixListView>,
}

/// The AWS-managed prefix lists (one per gateway service) the request selects.
async fn prefix_lists(
    ctx: &mut Ctx<'_>,
    action: &str,
    req: &DescribePrefixListsRequest,
    known: &[&str],
) -> Result<Vec<GatewayService>, ApiError> {
    ctx.authorize(action, "*").await?;
    let filters = Filters::new(&req.filters, known)?;
    if let Some(n) = req.max_results {
        if !(1..=1000).contains(&n) {
            return Err(ApiError::invalid(format!(
                "Value ( {n} ) for parameter maxResults is invalid. Expecting a value between 1 and 1000."
            )));
        }
    }
    if req.next_token.is_some() {
        // Two lists always fit one page: no listing ever has a next page.
        return Err(ApiError::client(
            "InvalidPaginationToken",
            "The pagination token is invalid, expired, or was issued for other parameters.",
        ));
    }
    let all = gateway_services(&ctx.state.cfg, ctx.region());
    for id in &req.prefix_list_ids {
        if !all.iter().any(|g| g.prefix_list_id == *id) {
            return Err(ApiError::client(
                "InvalidPrefixListID.NotFound",
                format!(
                    "The prefix list ID '{}' does not exist",
                    id.chars().take(64).collect::<String>()
                ),
            ));
        }
    }
    Ok(all
        .into_iter()
        .filter(|g| {
            req.prefix_list_ids.is_empty() || req.prefix_list_ids.contains(&g.prefix_list_id)
        })
        .filter(|g| {
            filters.matches(|name| match name {
                "prefix-list-id" => vec![g.prefix_list_id.clone()],
                "prefix-list-name" => vec![g.name.clone()],
                "owner-id" => vec!["AWS".into()],
                _ => vec![],
            })
        })
        .collect())
}

pub(crate) async fn describe_prefix_lists(
    ctx: &mut Ctx<'_>,
    req: DescribePrefixListsRequest,
) -> Result<DescribePrefixListsResponse, ApiError> {
    let lists = prefix_lists(
        ctx,
        "ec2:DescribePrefixLists",
        &req,
        &["prefix-list-id", "prefix-list-name"],
    )
    .await?;
    Ok(DescribePrefixListsResponse {
        prefix_lists: lists
            .into_iter()
            .map(|g| PrefixListView {
                prefix_list_id: g.prefix_list_id,
                prefix_list_name: g.name,
                cidrs: vec![],
            })
            .collect(),
    })
}

pub(crate) async fn describe_managed_prefix_lists(
    ctx: &mut Ctx<'_>,
    req: DescribePrefixListsRequest,
) -> Result<DescribeManagedPrefixListsResponse, ApiError> {
    let lists = prefix_lists(
        ctx,
        "ec2:DescribeManagedPrefixLists",
        &req,
        &["owner-id", "prefix-list-id", "prefix-list-name"],
    )
    .await?;
    let region = ctx.region().to_owned();
    Ok(DescribeManagedPrefixListsResponse {
        prefix_lists: lists
            .into_iter()
            .map(|g| ManagedPrefixListView {
                prefix_list_arn: format!(
                    "arn:aws:ec2:{region}:aws:prefix-list/{}",
                    g.prefix_list_id
                ),
                prefix_list_id: g.prefix_list_id,
                address_family: "IPv4",
                state: "create-complete",
                prefix_list_name: g.name,
                owner_id: "AWS",
            })
            .collect(),
    })
}

/// A regional service reached through gateway endpoints, as EC2 offers S3 and DynamoDB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GatewayService {
    /// `com.<prefix>.<region>.s3`: the service name and its prefix list's name.
    pub(crate) name: String,
    /// `s3` or `dynamodb`.
    pub(crate) short: &'static str,
    /// `pl-` and 8 hex digits, stable for the name (AWS's lists have such ids).
    pub(crate) prefix_list_id: String,
}

/// The gateway services of `region`. Underpass hosts neither service: a gateway
/// endpoint is the route-table state AWS tooling expects (the route to the service's prefix
/// list), and the lists hold no addresses until an operator's service sits behind them.
pub(crate) fn gateway_services(cfg: &crate::ServerConfig, region: &str) -> Vec<GatewayService> {
    ["dynamodb", "s3"]
        .into_iter()
        .map(|short| {
            let name = format!("com.{}.{region}.{short}", cfg.service_name_prefix);
            let mut h: u32 = 0x811c_9dc5;
            for b in name.bytes() {
                h ^= u32::from(b);
                h = h.wrapping_mul(0x0100_0193);
            }
            GatewayService {
                prefix_list_id: format!("pl-{h:08x}"),
                name,
                short,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::zone_id;

    #[test]
    fn zone_ids_in_aws_shape() {
        assert_eq!(zone_id("us-east-1", "us-east-1a", 0), "use1-az1");
        assert_eq!(zone_id("us-east-1", "us-east-1c", 0), "use1-az3");
        assert_eq!(zone_id("ap-southeast-2", "ap-southeast-2b", 5), "apse2-az2");
        assert_eq!(zone_id("eu-central-1", "eu-central-1a", 0), "euc1-az1");
        assert_eq!(zone_id("dc1", "rack-7", 2), "dc1-az3");
    }
}
