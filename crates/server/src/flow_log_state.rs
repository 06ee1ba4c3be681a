//! The flow logs an agent writes: those on its ENIs, their subnets or their VPC, each with the
//! agent's ENIs it covers (and nothing of other agents').

use std::collections::BTreeSet;

use underpass_domain::EniId;
use underpass_proto::sync::{FlowLogConfig, FlowLogInterface};
use underpass_store::flow_logs::{self, FlowLog};
use underpass_store::records::Eni;
use underpass_store::{network, Tx};

use crate::api::ApiError;

/// The flow logs covering `enis` (the agent's endpoint ENIs and load-balancer nodes).
pub(crate) async fn for_agent(
    tx: &mut Tx,
    region: &str,
    enis: &[EniId],
) -> Result<Vec<FlowLogConfig>, ApiError> {
    if enis.is_empty() {
        return Ok(Vec::new());
    }
    let mine: Vec<Eni> = network::list_enis(tx, None)
        .await?
        .into_iter()
        .filter(|e| enis.contains(&e.id))
        .collect();
    let mut resources = BTreeSet::new();
    for e in &mine {
        resources.insert(e.id.to_string());
        resources.insert(e.subnet.to_string());
        resources.insert(e.vpc.to_string());
    }
    let resources: Vec<String> = resources.into_iter().collect();
    let logs = flow_logs::on_resources(tx, &resources).await?;
    Ok(covering(&logs, &mine, region))
}

/// Pairs flow logs with the ENIs they cover; a flow log that covers none is left out.
pub(crate) fn covering(logs: &[FlowLog], enis: &[Eni], region: &str) -> Vec<FlowLogConfig> {
    let mut out: Vec<FlowLogConfig> = logs
        .iter()
        .filter_map(|f| {
            let interfaces: Vec<FlowLogInterface> = enis
                .iter()
                .filter(|e| match f.resource_type.as_str() {
                    "VPC" => e.vpc.to_string() == f.resource_id,
                    "Subnet" => e.subnet.to_string() == f.resource_id,
                    _ => e.id.to_string() == f.resource_id,
                })
                .map(|e| FlowLogInterface {
                    eni_id: e.id,
                    account: e.account.clone(),
                    vpc_id: e.vpc,
                    subnet_id: e.subnet,
                    zone: e.zone.clone(),
                })
                .collect();
            (!interfaces.is_empty()).then(|| FlowLogConfig {
                flow_log_id: f.id,
                account: f.account.clone(),
                region: region.to_owned(),
                traffic_type: f.traffic_type.clone(),
                max_aggregation_interval: f.max_aggregation_interval,
                log_format: f.log_format.clone(),
                destination_type: f.destination_type.clone(),
                destination: f.destination.clone(),
                file_format: f.file_format.clone(),
                hive_compatible_partitions: f.hive_compatible_partitions,
                per_hour_partition: f.per_hour_partition,
                interfaces,
            })
        })
        .collect();
    out.sort_by_key(|c| c.flow_log_id);
    out.dedup_by_key(|c| c.flow_log_id);
    out
}

#[cfg(test)]
mod tests {
    use underpass_domain::{FlowLogId, SubnetId, VpcId};
    use underpass_store::records::EniKind;

    use super::*;

    fn eni(n: u128, vpc: VpcId, subnet: SubnetId) -> Eni {
        Eni {
            id: EniId::from_bits(n),
            account: "222222222222".into(),
            region: "us-east-1".into(),
            vpc,
            subnet,
            zone: "us-east-1a".into(),
            ip: [127, 20, 1, 4].into(),
            kind: EniKind::Endpoint,
            owner: "vpce-00000000000000001".into(),
        }
    }

    fn log(n: u128, kind: &str, resource: String) -> FlowLog {
        FlowLog {
            id: FlowLogId::from_bits(n),
            account: "222222222222".into(),
            region: "us-east-1".into(),
            resource_id: resource,
            resource_type: kind.into(),
            traffic_type: "ALL".into(),
            max_aggregation_interval: 60,
            log_format: underpass_flowlogs::DEFAULT_FORMAT.into(),
            destination_type: "file".into(),
            destination: "dev".into(),
            file_format: "plain-text".into(),
            hive_compatible_partitions: false,
            per_hour_partition: false,
            created: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn flow_logs_cover_enis_by_vpc_subnet_or_id() {
        let (vpc, other_vpc) = (VpcId::from_bits(1), VpcId::from_bits(2));
        let (s1, s2) = (SubnetId::from_bits(1), SubnetId::from_bits(2));
        let a = eni(1, vpc, s1);
        let b = eni(2, vpc, s2);
        let logs = vec![
            log(1, "VPC", vpc.to_string()),
            log(2, "Subnet", s2.to_string()),
            log(3, "NetworkInterface", a.id.to_string()),
            log(4, "VPC", other_vpc.to_string()),
        ];
        let got = covering(&logs, &[a.clone(), b.clone()], "us-east-1");
        let by: Vec<(FlowLogId, Vec<EniId>)> = got
            .iter()
            .map(|c| {
                (
                    c.flow_log_id,
                    c.interfaces.iter().map(|i| i.eni_id).collect(),
                )
            })
            .collect();
        let mut want = vec![
            (FlowLogId::from_bits(1), vec![a.id, b.id]),
            (FlowLogId::from_bits(2), vec![b.id]),
            (FlowLogId::from_bits(3), vec![a.id]),
        ];
        want.sort_by_key(|w| w.0);
        assert_eq!(by, want);
        assert_eq!(got[0].region, "us-east-1");
        assert_eq!(got[0].interfaces[0].subnet_id, s1);
        assert!(covering(&logs, &[], "us-east-1").is_empty());
    }
}
