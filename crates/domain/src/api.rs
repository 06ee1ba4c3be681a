//! Facts about the API's names that the server and its clients must agree on.

/// The SigV4 service (and IAM prefix) an action belongs to: `ec2`, `elasticloadbalancing`,
/// `iam`, `sts`, or `underpass` for Underpass's own actions.
pub fn service_of(action: &str) -> &'static str {
    match action {
        "AssumeRole" | "GetCallerIdentity" | "GetSessionToken" => "sts",
        "CreateAccount" | "CreateAgentJoinToken" | "DescribeAgents" | "RevokeAgent" => "underpass",
        // ELBv2's tag actions (its `DescribeTags` shares EC2's name: see [`serves`]).
        "AddTags" | "RemoveTags" => "elasticloadbalancing",
        a if a.contains("LoadBalancer")
            || a.contains("TargetGroup")
            || a.contains("Targets")
            || a.contains("TargetHealth")
            || a.contains("Listener") =>
        {
            "elasticloadbalancing"
        }
        a if a.contains("User")
            || a.contains("AccessKey")
            || a.contains("Role")
            || a.contains("Polic") =>
        {
            "iam"
        }
        _ => "ec2",
    }
}

/// Whether the SigV4 service `service` has `action`: the service [`service_of`] names, and for
/// `DescribeTags`, which EC2 and ELBv2 both have, either of them (the credential scope picks
/// whose request and answer shapes apply).
pub fn serves(service: &str, action: &str) -> bool {
    service_of(action) == service || (action == "DescribeTags" && service == "elasticloadbalancing")
}

#[cfg(test)]
mod tests {
    use super::service_of;

    #[test]
    fn services() {
        assert_eq!(service_of("CreateVpcEndpoint"), "ec2");
        assert_eq!(service_of("DescribeTargetHealth"), "elasticloadbalancing");
        assert_eq!(service_of("RegisterTargets"), "elasticloadbalancing");
        assert_eq!(service_of("CreateListener"), "elasticloadbalancing");
        assert_eq!(service_of("PutRolePolicy"), "iam");
        assert_eq!(service_of("AssumeRole"), "sts");
        assert_eq!(service_of("CreateAgentJoinToken"), "underpass");
        assert_eq!(service_of("DescribeNetworkInterfaces"), "ec2");
        assert_eq!(service_of("CreatePolicyVersion"), "iam");
        assert_eq!(service_of("ListAttachedRolePolicies"), "iam");
        assert_eq!(service_of("GetSessionToken"), "sts");
        assert_eq!(service_of("AddTags"), "elasticloadbalancing");
        assert_eq!(service_of("CreateRouteTable"), "ec2");
        assert_eq!(service_of("DescribeNetworkAcls"), "ec2");
        assert_eq!(service_of("DescribeTags"), "ec2");
        assert!(super::serves("elasticloadbalancing", "DescribeTags"));
        assert!(super::serves("ec2", "DescribeTags"));
        assert!(!super::serves("iam", "DescribeTags"));
        assert!(!super::serves("ec2", "AddTags"));
    }
}
