//! Facts about the API's names that the server and its clients must agree on.

/// The SigV4 service (and IAM prefix) an action belongs to: `ec2`, `elasticloadbalancing`,
/// `iam`, `sts`, or `underpass` for Underpass's own actions.
pub fn service_of(action: &str) -> &'static str {
    match action {
        "AssumeRole" | "GetCallerIdentity" => "sts",
        "CreateAccount" | "CreateAgentJoinToken" | "DescribeAgents" | "RevokeAgent" => "underpass",
        a if a.contains("LoadBalancer")
            || a.contains("TargetGroup")
            || a.contains("Targets")
            || a.contains("TargetHealth")
            || a.contains("Listener") =>
        {
            "elasticloadbalancing"
        }
        a if a.contains("User") || a.contains("AccessKey") || a.contains("Role") => "iam",
        _ => "ec2",
    }
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
    }
}
