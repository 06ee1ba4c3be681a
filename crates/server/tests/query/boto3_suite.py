"""The Query protocol through the real boto3/botocore: the seed-003 calls and their errors.

Run by crates/server/tests/query_protocol.rs against a server it started, with the endpoint
and two accounts' root keys in the environment. Exits non-zero, naming the check, on the first
failure.
"""

import datetime
import json
import os
import sys

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["UP_ENDPOINT"]
REGION = "us-east-1"
PROVIDER = (os.environ["UP_PROVIDER_KEY"], os.environ["UP_PROVIDER_SECRET"])
CONSUMER = (os.environ["UP_CONSUMER_KEY"], os.environ["UP_CONSUMER_SECRET"])
PROVIDER_ACCOUNT = os.environ["UP_PROVIDER_ACCOUNT"]
CONSUMER_ACCOUNT = os.environ["UP_CONSUMER_ACCOUNT"]
CHECKS = 0


def client(service, creds, session_token=None, validate=True):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=creds[0],
        aws_secret_access_key=creds[1],
        aws_session_token=session_token,
        config=Config(retries={"max_attempts": 1}, parameter_validation=validate),
    )


def check(cond, what):
    global CHECKS
    CHECKS += 1
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def error_of(call, *args, **kwargs):
    """The (code, message, HTTP status) of a call that must fail with a ClientError."""
    try:
        out = call(*args, **kwargs)
    except ClientError as e:
        err = e.response["Error"]
        return err.get("Code"), err.get("Message"), e.response["ResponseMetadata"]["HTTPStatusCode"]
    print(f"FAILED: expected an error from {call.__name__}, got {out}", file=sys.stderr)
    sys.exit(1)


def expect_error(code, call, *args, **kwargs):
    got = error_of(call, *args, **kwargs)
    check(got[0] == code, f"{call.__name__}: expected {code}, got {got}")
    return got


def main():
    print("boto3", boto3.__version__, "botocore", botocore.__version__)
    p_ec2, p_elb, p_iam = client("ec2", PROVIDER), client("elbv2", PROVIDER), client("iam", PROVIDER)
    c_ec2 = client("ec2", CONSUMER)

    # --- EC2 network, provider side ------------------------------------------------------
    r = p_ec2.create_vpc(CidrBlock="10.1.0.0/16")
    vpc = r["Vpc"]
    check(vpc["VpcId"].startswith("vpc-"), f"VpcId {vpc}")
    check(vpc["CidrBlock"] == "10.1.0.0/16", "CidrBlock")
    check(vpc["State"] == "available", "State")
    check(vpc["OwnerId"] == PROVIDER_ACCOUNT, "OwnerId")
    check(vpc["IsDefault"] is False, "IsDefault parsed as a boolean")
    check(len(r["ResponseMetadata"]["RequestId"]) == 36, "requestId")
    vpc_id = vpc["VpcId"]
    more = [p_ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"] for i in range(2, 8)]

    r = p_ec2.describe_vpcs(VpcIds=[vpc_id])
    check([v["VpcId"] for v in r["Vpcs"]] == [vpc_id], "DescribeVpcs by id")
    r = p_ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.1.*", "10.2.*"]}])
    check(sorted(v["VpcId"] for v in r["Vpcs"]) == sorted([vpc_id, more[0]]), "wildcard filter")
    r = p_ec2.describe_vpcs(
        Filters=[{"Name": "cidr", "Values": ["10.*"]}, {"Name": "owner-id", "Values": [PROVIDER_ACCOUNT]}],
        MaxResults=5,
    )
    check(len(r["Vpcs"]) == 5 and "NextToken" in r, f"first page {len(r['Vpcs'])}")
    r2 = p_ec2.describe_vpcs(
        Filters=[{"Name": "cidr", "Values": ["10.*"]}, {"Name": "owner-id", "Values": [PROVIDER_ACCOUNT]}],
        MaxResults=5,
        NextToken=r["NextToken"],
    )
    check(len(r2["Vpcs"]) == 2 and "NextToken" not in r2, "second page")
    pages = list(p_ec2.get_paginator("describe_vpcs").paginate(PaginationConfig={"PageSize": 5}))
    check(sum(len(p["Vpcs"]) for p in pages) == 7 and len(pages) == 2, "paginator")

    r = p_ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.1.0/24", AvailabilityZone="us-east-1a")
    subnet = r["Subnet"]
    check(subnet["SubnetId"].startswith("subnet-") and subnet["VpcId"] == vpc_id, "subnet")
    check(subnet["AvailabilityZone"] == "us-east-1a", "zone")
    check(subnet["AvailableIpAddressCount"] == 251, f"free ips {subnet['AvailableIpAddressCount']}")
    subnet_id = subnet["SubnetId"]
    r = p_ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    check([s["SubnetId"] for s in r["Subnets"]] == [subnet_id], "DescribeSubnets filter")

    groups = p_ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    check([g["GroupName"] for g in groups["SecurityGroups"]] == ["default"], f"default group {groups}")
    default = groups["SecurityGroups"][0]
    check(default["Description"] == "default VPC security group", "default description")
    pairs = default["IpPermissions"][0]["UserIdGroupPairs"]
    check(pairs[0]["GroupId"] == default["GroupId"], "default group admits its members")

    # --- ELBv2 ---------------------------------------------------------------------------
    r = p_elb.create_load_balancer(Name="web-nlb", Type="network", Scheme="internal", Subnets=[subnet_id])
    lb = r["LoadBalancers"][0]
    check(lb["Type"] == "network" and lb["Scheme"] == "internal", f"lb {lb}")
    check(lb["LoadBalancerArn"].startswith("arn:aws:elasticloadbalancing:us-east-1:"), "lb arn")
    check(lb["VpcId"] == vpc_id, "lb vpc")
    check(lb["AvailabilityZones"][0]["SubnetId"] == subnet_id, "lb zones")
    check(lb["State"]["Code"] in ("provisioning", "active"), f"lb state {lb['State']}")
    lb_arn = lb["LoadBalancerArn"]
    r = p_elb.create_target_group(Name="web", Protocol="TCP", Port=9000, VpcId=vpc_id, TargetType="ip")
    tg = r["TargetGroups"][0]
    check(tg["Port"] == 9000 and tg["Protocol"] == "TCP" and tg["TargetType"] == "ip", f"tg {tg}")
    tg_arn = tg["TargetGroupArn"]
    p_elb.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.1.1.10", "Port": 9000}])
    r = p_elb.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="TCP",
        Port=9000,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )
    listener = r["Listeners"][0]
    check(listener["Port"] == 9000 and listener["DefaultActions"][0]["TargetGroupArn"] == tg_arn, "listener")
    r = p_elb.describe_target_health(TargetGroupArn=tg_arn)
    th = r["TargetHealthDescriptions"]
    check(len(th) == 1 and th[0]["Target"]["Id"] == "10.1.1.10" and th[0]["Target"]["Port"] == 9000, f"{th}")
    check(th[0]["TargetHealth"]["State"] in ("initial", "healthy", "unhealthy", "unused"), "health state")
    r = p_elb.describe_load_balancers(Names=["web-nlb"])
    check([x["LoadBalancerArn"] for x in r["LoadBalancers"]] == [lb_arn], "DescribeLoadBalancers by name")
    r = p_elb.modify_target_group_attributes(
        TargetGroupArn=tg_arn, Attributes=[{"Key": "proxy_protocol_v2.enabled", "Value": "true"}]
    )
    attrs = {a["Key"]: a["Value"] for a in r["Attributes"]}
    check(attrs.get("proxy_protocol_v2.enabled") == "true", f"tg attributes {attrs}")

    # --- PrivateLink ---------------------------------------------------------------------
    r = p_ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[lb_arn], AcceptanceRequired=True)
    svc = r["ServiceConfiguration"]
    check(svc["ServiceId"].startswith("vpce-svc-") and svc["AcceptanceRequired"] is True, f"svc {svc}")
    check(svc["NetworkLoadBalancerArns"] == [lb_arn], "service NLBs")
    service_id, service_name = svc["ServiceId"], svc["ServiceName"]
    r = p_ec2.modify_vpc_endpoint_service_permissions(
        ServiceId=service_id, AddAllowedPrincipals=[f"arn:aws:iam::{CONSUMER_ACCOUNT}:root"]
    )
    check(r["ReturnValue"] is True, f"permissions {r}")
    r = p_ec2.describe_vpc_endpoint_service_permissions(ServiceId=service_id)
    check(r["AllowedPrincipals"][0]["Principal"] == f"arn:aws:iam::{CONSUMER_ACCOUNT}:root", "principals")

    r = c_ec2.describe_vpc_endpoint_services(ServiceNames=[service_name])
    check(r["ServiceNames"] == [service_name], f"service names {r}")
    check(r["ServiceDetails"][0]["AcceptanceRequired"] is True, "service details")
    c_vpc = c_ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    c_subnet = c_ec2.create_subnet(VpcId=c_vpc, CidrBlock="10.1.1.0/24", AvailabilityZone="us-east-1a")[
        "Subnet"
    ]["SubnetId"]
    r = c_ec2.create_security_group(GroupName="clients", Description="who may use the endpoint", VpcId=c_vpc)
    sg = r["GroupId"]
    check(sg.startswith("sg-"), "GroupId")
    r = c_ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 9000,
                "ToPort": 9000,
                "IpRanges": [{"CidrIp": "127.0.0.0/8", "Description": "loopback <&> clients"}],
            }
        ],
    )
    check(r["Return"] is True, f"authorize {r}")
    g = c_ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]
    perm = g["IpPermissions"][0]
    check(perm["IpProtocol"] == "tcp" and perm["FromPort"] == 9000 and perm["ToPort"] == 9000, f"{perm}")
    check(perm["IpRanges"] == [{"CidrIp": "127.0.0.0/8", "Description": "loopback <&> clients"}], "escaped text")
    names = [x["GroupName"] for x in c_ec2.describe_security_groups()["SecurityGroups"]]
    check(sorted(names) == ["clients", "default"], f"consumer groups {names}")

    r = c_ec2.create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=c_vpc,
        ServiceName=service_name,
        SubnetIds=[c_subnet],
        SecurityGroupIds=[sg],
    )
    ep = r["VpcEndpoint"]
    check(ep["State"] == "pendingAcceptance" and ep["VpcEndpointType"] == "Interface", f"endpoint {ep}")
    check(ep["SubnetIds"] == [c_subnet] and ep["Groups"][0]["GroupId"] == sg, "endpoint subnets and groups")
    check(isinstance(ep["CreationTimestamp"], datetime.datetime), "CreationTimestamp")
    ep_id = ep["VpcEndpointId"]

    r = p_ec2.describe_vpc_endpoint_connections()
    conns = r["VpcEndpointConnections"]
    check(len(conns) == 1, f"connections {conns}")
    check(conns[0]["VpcEndpointId"] == ep_id and conns[0]["VpcEndpointOwner"] == CONSUMER_ACCOUNT, "conn ids")
    check(conns[0]["VpcEndpointState"] == "pendingAcceptance", "conn state")
    r = p_ec2.accept_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[ep_id])
    check(r.get("Unsuccessful", []) == [], f"accept {r}")
    r = c_ec2.describe_vpc_endpoints(VpcEndpointIds=[ep_id])
    ep = r["VpcEndpoints"][0]
    check(ep["State"] == "available", f"accepted endpoint {ep}")
    check(len(ep["NetworkInterfaceIds"]) == 1 and ep["NetworkInterfaceIds"][0].startswith("eni-"), "ENIs")
    r = c_ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-endpoint-state", "Values": ["available"]}])
    check([e["VpcEndpointId"] for e in r["VpcEndpoints"]] == [ep_id], "endpoint state filter")

    # --- IAM and STS ---------------------------------------------------------------------
    user = p_iam.create_user(UserName="alice")["User"]
    check(user["UserName"] == "alice" and user["Arn"] == f"arn:aws:iam::{PROVIDER_ACCOUNT}:user/alice", f"{user}")
    check(isinstance(user["CreateDate"], datetime.datetime), "CreateDate")
    key = p_iam.create_access_key(UserName="alice")["AccessKey"]
    check(key["Status"] == "Active" and key["AccessKeyId"].startswith("AKIA"), f"key {key['AccessKeyId']}")
    alice = (key["AccessKeyId"], key["SecretAccessKey"])
    keys = p_iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    check([k["AccessKeyId"] for k in keys] == [alice[0]], "ListAccessKeys")
    ident = client("sts", alice).get_caller_identity()
    check(ident["Arn"] == user["Arn"] and ident["Account"] == PROVIDER_ACCOUNT, f"identity {ident}")
    check(ident["UserId"] == user["UserId"], "UserId")

    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}],
    }
    role = p_iam.create_role(RoleName="ops", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    check(role["Arn"] == f"arn:aws:iam::{PROVIDER_ACCOUNT}:role/ops", f"role {role}")
    p_iam.put_role_policy(
        RoleName="ops",
        PolicyName="read",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}
        ),
    )
    r = client("sts", alice).assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=900)
    creds = r["Credentials"]
    check(creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"], "session credentials")
    check(isinstance(creds["Expiration"], datetime.datetime), "Expiration")
    check(r["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{PROVIDER_ACCOUNT}:assumed-role/ops/s1", f"{r}")
    session = (creds["AccessKeyId"], creds["SecretAccessKey"])
    ident = client("sts", session, creds["SessionToken"]).get_caller_identity()
    check(ident["Arn"] == r["AssumedRoleUser"]["Arn"], "session identity")
    s_ec2 = client("ec2", session, creds["SessionToken"])
    check(len(s_ec2.describe_vpcs()["Vpcs"]) == 7, "the role's policy lets the session describe")

    # --- errors as botocore parses them ---------------------------------------------------
    wrong = client("ec2", (PROVIDER[0], "x" * 40))
    code, msg, status = expect_error("SignatureDoesNotMatch", wrong.describe_vpcs)
    check(status == 403 and "signature we calculated does not match" in msg, f"{status} {msg}")
    check("x" * 40 not in msg, "no secret in the message")
    code, msg, status = expect_error("AuthFailure", client("ec2", ("AKIA" + "Z" * 16, "y" * 40)).describe_vpcs)
    check(status == 401 and msg == "AWS was not able to validate the provided access credentials", msg)
    expect_error("InvalidClientTokenId", client("sts", ("AKIA" + "Z" * 16, "y" * 40)).get_caller_identity)
    expect_error("SignatureDoesNotMatch", client("iam", (PROVIDER[0], "x" * 40)).list_access_keys)

    # An action the service does not have: the body is rewritten before it is signed.
    def renamer(action):
        def rename(request, **_):
            if isinstance(request.data, dict):
                request.data["Action"] = action
            else:
                request.data = request.data.replace(b"Action=DescribeVpcs", f"Action={action}".encode())

        return rename

    odd = client("ec2", PROVIDER)
    odd.meta.events.register("before-sign.ec2.DescribeVpcs", renamer("DescribeNothing"))
    code, msg, status = expect_error("InvalidAction", odd.describe_vpcs)
    check(status == 400 and "DescribeNothing" in msg, msg)
    # An ELBv2 action with an EC2-scoped signature does not exist in EC2.
    odd2 = client("ec2", PROVIDER)
    odd2.meta.events.register("before-sign.ec2.DescribeVpcs", renamer("DescribeLoadBalancers"))
    expect_error("InvalidAction", odd2.describe_vpcs)

    loose = client("ec2", PROVIDER, validate=False)
    code, msg, status = expect_error("MissingParameter", loose.create_security_group, GroupName="x", VpcId=vpc_id)
    check(msg == "The request must contain the parameter GroupDescription" and status == 400, msg)
    expect_error("ValidationError", client("iam", PROVIDER, validate=False).create_user)
    code, msg, _ = expect_error(
        "InvalidParameterValue", p_ec2.describe_vpcs, Filters=[{"Name": "no-such-filter", "Values": ["x"]}]
    )
    check(msg == "The filter 'no-such-filter' is invalid", msg)
    expect_error("InvalidParameterValue", p_ec2.describe_vpcs, Filters=[{"Name": "cidr", "Values": []}])
    expect_error("InvalidParameterValue", loose.describe_vpcs, MaxResults="many")
    expect_error("InvalidPaginationToken", p_ec2.describe_vpcs, MaxResults=5, NextToken="forged")

    before = len(p_ec2.describe_vpcs()["Vpcs"])
    code, msg, status = expect_error("DryRunOperation", p_ec2.create_vpc, CidrBlock="10.99.0.0/16", DryRun=True)
    check(status == 412 and msg == "Request would have succeeded, but DryRun flag is set.", f"{status} {msg}")
    check(len(p_ec2.describe_vpcs()["Vpcs"]) == before, "a dry run creates nothing")
    expect_error("DryRunOperation", p_ec2.describe_vpcs, DryRun=True)
    code, msg, status = expect_error(
        "UnauthorizedOperation", client("ec2", alice).create_vpc, CidrBlock="10.99.0.0/16", DryRun=True
    )
    check(status == 403 and "ec2:CreateVpc" in msg, msg)
    expect_error("UnauthorizedOperation", s_ec2.create_vpc, CidrBlock="10.99.0.0/16", DryRun=True)
    check(len(p_ec2.describe_vpcs()["Vpcs"]) == before, "still nothing created")
    check(p_ec2.describe_vpcs(DryRun=False)["Vpcs"], "DryRun=false runs the call")

    code, msg, _ = expect_error("InvalidVpcID.NotFound", p_ec2.describe_vpcs, VpcIds=["vpc-0123456789abcdef0"])
    check("vpc-0123456789abcdef0" in msg, msg)
    expect_error("InvalidSubnetID.NotFound", p_ec2.describe_subnets, SubnetIds=["subnet-0123456789abcdef0"])
    expect_error("InvalidGroup.NotFound", p_ec2.describe_security_groups, GroupIds=["sg-0123456789abcdef0"])
    expect_error("InvalidVpcEndpointId.NotFound", c_ec2.describe_vpc_endpoints, VpcEndpointIds=["vpce-0123456789abcdef0"])
    expect_error("CannotDelete", p_ec2.delete_security_group, GroupId=default["GroupId"])
    expect_error("DependencyViolation", p_ec2.delete_vpc, VpcId=vpc_id)
    # A second account cannot see the first one's VPC.
    expect_error("InvalidVpcID.NotFound", c_ec2.describe_vpcs, VpcIds=[vpc_id])
    code, msg, status = expect_error(
        "TargetGroupNotFound",
        p_elb.describe_target_groups,
        TargetGroupArns=[tg_arn.rsplit("/", 1)[0] + "/0123456789abcdef"],
    )
    check(status == 400, f"{status}")
    expect_error("DuplicateLoadBalancerName", p_elb.create_load_balancer, Name="web-nlb", Type="network",
                 Scheme="internal", Subnets=[subnet_id])
    expect_error("NoSuchEntity", p_iam.delete_user, UserName="nobody")
    expect_error("EntityAlreadyExists", p_iam.create_user, UserName="alice")
    expect_error("AccessDenied", client("sts", CONSUMER).assume_role, RoleArn=role["Arn"], RoleSessionName="xx")

    # Clean-up through the Query protocol too: the VPC goes with its default group.
    p_ec2.delete_vpc(VpcId=more[-1])
    check(len(p_ec2.describe_vpcs()["Vpcs"]) == 6, "DeleteVpc")

    print(f"boto3 suite: {CHECKS} checks passed")


if __name__ == "__main__":
    main()
