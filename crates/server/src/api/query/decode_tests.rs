use serde_json::json;

use super::super::form::{parse_into, Params};
use super::super::model;
use super::*;

fn params(text: &str) -> Params {
    let mut p = Params::default();
    parse_into(text.as_bytes(), true, &mut p).unwrap();
    p
}

fn run(service: &str, action: &str, text: &str) -> Result<Decoded, ApiError> {
    decode(model::for_service(service).unwrap(), action, &params(text))
}

#[test]
fn ec2_lists_filters_and_scalars() {
    let d = run(
        "ec2",
        "DescribeVpcs",
        "Action=DescribeVpcs&Version=2016-11-15&VpcId.2=vpc-b&VpcId.1=vpc-a&Filter.1.Name=cidr\
         &Filter.1.Value.1=10.*&Filter.1.Value.2=11.*&MaxResults=5&DryRun=true",
    )
    .unwrap();
    assert!(d.dry_run);
    assert_eq!(
        d.params,
        json!({"VpcIds": ["vpc-a", "vpc-b"], "Filters": [{"Name": "cidr", "Values": ["10.*", "11.*"]}], "MaxResults": 5})
    );
    let d = run(
        "ec2",
        "AuthorizeSecurityGroupIngress",
        "GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=81\
         &IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8&IpPermissions.1.IpRanges.1.Description=x",
    )
    .unwrap();
    assert!(!d.dry_run);
    assert_eq!(
        d.params,
        json!({"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 81,
               "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "x"}]}]})
    );
    // queryName / capitalized locationName: GroupDescription is the member Description.
    let d = run(
        "ec2",
        "CreateSecurityGroup",
        "GroupName=a&GroupDescription=b&VpcId=vpc-1",
    )
    .unwrap();
    assert_eq!(
        d.params,
        json!({"GroupName": "a", "Description": "b", "VpcId": "vpc-1"})
    );
}

#[test]
fn query_protocol_members() {
    let d = run(
        "elasticloadbalancing",
        "CreateLoadBalancer",
        "Name=web&Type=network&Subnets.member.1=subnet-a&Subnets.member.2=subnet-b",
    )
    .unwrap();
    assert_eq!(
        d.params,
        json!({"Name": "web", "Type": "network", "Subnets": ["subnet-a", "subnet-b"]})
    );
    let d = run(
        "elasticloadbalancing",
        "RegisterTargets",
        "TargetGroupArn=arn&Targets.member.1.Id=10.0.0.1&Targets.member.1.Port=80",
    )
    .unwrap();
    assert_eq!(
        d.params,
        json!({"TargetGroupArn": "arn", "Targets": [{"Id": "10.0.0.1", "Port": 80}]})
    );
    let d = run(
        "elasticloadbalancing",
        "CreateLoadBalancer",
        "Name=web&Subnets=",
    )
    .unwrap();
    assert_eq!(d.params, json!({"Name": "web", "Subnets": []}));
}

#[test]
fn refusals() {
    let code = |s: &str, a: &str, t: &str| run(s, a, t).unwrap_err().code;
    assert_eq!(code("ec2", "DescribeVpcs", "Nope=1"), "UnknownParameter");
    assert_eq!(code("ec2", "DescribeVpcs", "VpcId.x=1"), "UnknownParameter");
    assert_eq!(
        code("ec2", "DescribeVpcs", "VpcId.01=1"),
        "UnknownParameter"
    );
    assert_eq!(
        code("ec2", "DescribeVpcs", "VpcId.1001=1"),
        "InvalidParameterValue"
    );
    assert_eq!(
        code("ec2", "DescribeVpcs", "VpcId.1.2=1"),
        "UnknownParameter"
    );
    assert_eq!(
        code("ec2", "DescribeVpcs", "MaxResults=x"),
        "InvalidParameterValue"
    );
    assert_eq!(
        code("ec2", "DescribeVpcs", "MaxResults=99999999999"),
        "InvalidParameterValue"
    );
    assert_eq!(
        code("ec2", "DescribeVpcs", "DryRun=maybe"),
        "InvalidParameterValue"
    );
    assert_eq!(
        code("ec2", "DescribeVpcs", "Filter=x"),
        "InvalidParameterValue"
    );
    assert_eq!(
        code("ec2", "DescribeVpcs", "a.b.c.d.e.f.g.h.i.j.k.l.m=1"),
        "UnknownParameter"
    );
    let e = run("ec2", "CreateSecurityGroup", "GroupName=a").unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "MissingParameter",
            "The request must contain the parameter GroupDescription"
        )
    );
    assert_eq!(
        code(
            "elasticloadbalancing",
            "CreateLoadBalancer",
            "Name=a&Subnets.1=x"
        ),
        "ValidationError"
    );
    assert_eq!(code("iam", "CreateUser", ""), "ValidationError");
    assert_eq!(
        code("iam", "CreateUser", "UserName=a&Bogus=1"),
        "ValidationError"
    );
}

#[test]
fn explosion_is_bounded_and_fast() {
    let many: Vec<String> = (1..=1000)
        .map(|i| format!("Filter.{i}.Value.{i}=x"))
        .collect();
    let p = params(&many.join("&"));
    let d = decode(model::for_service("ec2").unwrap(), "DescribeVpcs", &p);
    // Decoded (the handler refuses filters without names), and quickly.
    let filters = d.map(|d| d.params["Filters"].as_array().map(Vec::len));
    assert_eq!(filters.ok().flatten(), Some(1000));
}
