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
SECOND_REGION = "eu-west-1"  # the server under test serves both
PROVIDER = (os.environ["UP_PROVIDER_KEY"], os.environ["UP_PROVIDER_SECRET"])
CONSUMER = (os.environ["UP_CONSUMER_KEY"], os.environ["UP_CONSUMER_SECRET"])
PROVIDER_ACCOUNT = os.environ["UP_PROVIDER_ACCOUNT"]
CONSUMER_ACCOUNT = os.environ["UP_CONSUMER_ACCOUNT"]
CHECKS = 0


def client(service, creds, session_token=None, validate=True, region=REGION):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=region,
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


# --- IAM reads, managed policies, STS GetSessionToken ---------------------------------------
def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def iam_reads(p_iam, user, role, trust):
    me = p_iam.get_user()["User"]
    check(me["Arn"] == f"arn:aws:iam::{PROVIDER_ACCOUNT}:root" and me["UserId"] == PROVIDER_ACCOUNT, f"root {me}")
    u = p_iam.get_user(UserName="alice")["User"]
    check(u["UserId"] == user["UserId"] and u["Path"] == "/" and u["Arn"] == user["Arn"], f"GetUser {u}")
    code, _, status = expect_error("NoSuchEntity", p_iam.get_user, UserName="nobody")
    check(status == 404, f"NoSuchEntity is a 404: {status}")
    for name in ("bob", "carol", "dave"):
        p_iam.create_user(UserName=name, Path="/team/" if name != "dave" else "/")
    r = p_iam.list_users(MaxItems=2)
    check([x["UserName"] for x in r["Users"]] == ["alice", "bob"] and r["IsTruncated"] is True, f"page 1 {r}")
    r2 = p_iam.list_users(MaxItems=2, Marker=r["Marker"])
    check([x["UserName"] for x in r2["Users"]] == ["carol", "dave"] and r2["IsTruncated"] is False, f"page 2 {r2}")
    pages = list(p_iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 3}))
    check(sum(len(p["Users"]) for p in pages) == 4 and len(pages) == 2, "ListUsers paginator")
    r = p_iam.list_users(PathPrefix="/team/")
    check(sorted(x["UserName"] for x in r["Users"]) == ["bob", "carol"], f"PathPrefix {r}")
    expect_error("InvalidInput", p_iam.list_users, Marker="forged")
    expect_error("ValidationError", client("iam", PROVIDER, validate=False).list_users, MaxItems=0)

    g = p_iam.get_role(RoleName="ops")["Role"]
    check(g["RoleId"] == role["RoleId"] and g["MaxSessionDuration"] == 3600, f"GetRole {g}")
    check(g["AssumeRolePolicyDocument"] == trust, f"trust policy decoded by botocore: {g['AssumeRolePolicyDocument']}")
    check([x["RoleName"] for x in p_iam.list_roles()["Roles"]] == ["ops"], "ListRoles")
    expect_error("NoSuchEntity", p_iam.get_role, RoleName="nope")

    read = {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}
    check(p_iam.list_role_policies(RoleName="ops")["PolicyNames"] == ["read"], "ListRolePolicies")
    r = p_iam.get_role_policy(RoleName="ops", PolicyName="read")
    check(r["PolicyDocument"]["Statement"] == [read] and r["RoleName"] == "ops", f"GetRolePolicy {r}")
    p_iam.put_user_policy(UserName="bob", PolicyName="p1", PolicyDocument=doc(read))
    r = p_iam.get_user_policy(UserName="bob", PolicyName="p1")
    check(r["PolicyDocument"]["Statement"] == [read], f"GetUserPolicy {r}")
    check(p_iam.list_user_policies(UserName="bob")["PolicyNames"] == ["p1"], "ListUserPolicies")
    expect_error("NoSuchEntity", p_iam.get_user_policy, UserName="bob", PolicyName="p2")
    expect_error("NoSuchEntity", p_iam.list_user_policies, UserName="nobody")
    p_iam.put_role_policy(RoleName="ops", PolicyName="extra", PolicyDocument=doc(read))
    p_iam.delete_role_policy(RoleName="ops", PolicyName="extra")
    expect_error("NoSuchEntity", p_iam.delete_role_policy, RoleName="ops", PolicyName="extra")
    expect_error("NoSuchEntity", p_iam.get_role_policy, RoleName="ops", PolicyName="extra")


def managed_policies(p_iam, alice, vpc_id, subnet_id):
    a_ec2 = client("ec2", alice)
    expect_error("UnauthorizedOperation", a_ec2.describe_vpcs)
    describe = {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}
    pol = p_iam.create_policy(
        PolicyName="describe", Path="/team/", PolicyDocument=doc(describe), Description="read the network",
        Tags=[{"Key": "team", "Value": "net"}],
    )["Policy"]
    arn = f"arn:aws:iam::{PROVIDER_ACCOUNT}:policy/team/describe"
    check(pol["Arn"] == arn and pol["PolicyId"].startswith("ANPA") and len(pol["PolicyId"]) == 21, f"policy {pol}")
    check(pol["DefaultVersionId"] == "v1" and pol["AttachmentCount"] == 0 and pol["Path"] == "/team/", f"{pol}")
    check(pol["IsAttachable"] is True and isinstance(pol["CreateDate"], datetime.datetime), f"{pol}")
    code, _, status = expect_error("EntityAlreadyExists", p_iam.create_policy, PolicyName="describe",
                                   PolicyDocument=doc(describe))
    check(status == 409, f"EntityAlreadyExists is a 409: {status}")
    expect_error("MalformedPolicyDocument", p_iam.create_policy, PolicyName="bad", PolicyDocument='{"Statement": 5}')
    g = p_iam.get_policy(PolicyArn=arn)["Policy"]
    check(g["PolicyName"] == "describe" and g["Description"] == "read the network", f"GetPolicy {g}")
    check(g["Tags"] == [{"Key": "team", "Value": "net"}], f"policy tags {g}")
    expect_error("NoSuchEntity", p_iam.get_policy, PolicyArn=arn + "-nope")
    expect_error("InvalidInput", client("iam", PROVIDER, validate=False).get_policy, PolicyArn="not-an-arn")
    local = p_iam.list_policies(Scope="Local")["Policies"]
    check([x["Arn"] for x in local] == [arn], f"ListPolicies Local {local}")
    check(p_iam.list_policies(Scope="AWS")["Policies"] == [], "no AWS managed policies")
    check(p_iam.list_policies(OnlyAttached=True)["Policies"] == [], "OnlyAttached before attaching")

    # Attached to alice, the policy grants; a Deny in its new default version wins.
    p_iam.attach_user_policy(UserName="alice", PolicyArn=arn)
    p_iam.attach_user_policy(UserName="alice", PolicyArn=arn)  # again: nothing changes
    att = p_iam.list_attached_user_policies(UserName="alice")["AttachedPolicies"]
    check(att == [{"PolicyName": "describe", "PolicyArn": arn}], f"attached {att}")
    check(p_iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1, "AttachmentCount")
    check(vpc_id in [v["VpcId"] for v in a_ec2.describe_vpcs()["Vpcs"]], "the managed policy grants")
    deny = {"Effect": "Deny", "Action": "ec2:DescribeVpcs", "Resource": "*"}
    v2 = p_iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(describe, deny), SetAsDefault=True)
    check(v2["PolicyVersion"]["VersionId"] == "v2" and v2["PolicyVersion"]["IsDefaultVersion"] is True, f"{v2}")
    code, msg, _ = expect_error("UnauthorizedOperation", a_ec2.describe_vpcs)
    check(arn in msg, f"the decision names the managed policy: {msg}")
    check([s["SubnetId"] for s in a_ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]] == [subnet_id],
          "the rest of the policy still grants")
    r = p_iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    check(r["Document"]["Statement"] == [describe, deny] and r["IsDefaultVersion"] is True, f"v2 {r}")
    check(p_iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["IsDefaultVersion"] is False, "v1")
    expect_error("NoSuchEntity", p_iam.get_policy_version, PolicyArn=arn, VersionId="v9")
    for _ in range(3):
        p_iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(describe))
    code, _, status = expect_error("LimitExceeded", p_iam.create_policy_version, PolicyArn=arn,
                                   PolicyDocument=doc(describe))
    check(status == 409, f"LimitExceeded is a 409: {status}")
    versions = p_iam.list_policy_versions(PolicyArn=arn)["Versions"]
    check([v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"], f"versions {versions}")
    p_iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    check(vpc_id in [v["VpcId"] for v in a_ec2.describe_vpcs()["Vpcs"]], "v1 is the default again")
    expect_error("DeleteConflict", p_iam.delete_policy_version, PolicyArn=arn, VersionId="v1")

    # Roles too, and detaching.
    p_iam.attach_role_policy(RoleName="ops", PolicyArn=arn)
    att = p_iam.list_attached_role_policies(RoleName="ops")["AttachedPolicies"]
    check([x["PolicyArn"] for x in att] == [arn], f"role attached {att}")
    check([x["Arn"] for x in p_iam.list_policies(OnlyAttached=True)["Policies"]] == [arn], "OnlyAttached")
    code, _, status = expect_error("DeleteConflict", p_iam.delete_policy, PolicyArn=arn)
    check(status == 409, f"DeleteConflict is a 409: {status}")
    p_iam.detach_role_policy(RoleName="ops", PolicyArn=arn)
    p_iam.detach_user_policy(UserName="alice", PolicyArn=arn)
    expect_error("NoSuchEntity", p_iam.detach_user_policy, UserName="alice", PolicyArn=arn)
    expect_error("NoSuchEntity", p_iam.attach_user_policy, UserName="nobody", PolicyArn=arn)
    expect_error("UnauthorizedOperation", a_ec2.describe_vpcs)
    expect_error("DeleteConflict", p_iam.delete_policy, PolicyArn=arn)  # other versions remain
    for v in ("v2", "v3", "v4", "v5"):
        p_iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    p_iam.delete_policy(PolicyArn=arn)
    expect_error("NoSuchEntity", p_iam.get_policy, PolicyArn=arn)
    # IAM refuses an unauthorized caller with AccessDenied (EC2 says UnauthorizedOperation).
    code, _, status = expect_error("AccessDenied", client("iam", alice).list_users)
    check(status == 403, f"AccessDenied is a 403: {status}")


def session_tokens(p_iam, alice, user, role_session):
    sts = client("sts", alice)
    r = sts.get_session_token(DurationSeconds=900)["Credentials"]
    check(r["AccessKeyId"].startswith("ASIA") and r["SessionToken"], "GetSessionToken credentials")
    check(isinstance(r["Expiration"], datetime.datetime), "Expiration")
    session = (r["AccessKeyId"], r["SecretAccessKey"])
    ident = client("sts", session, r["SessionToken"]).get_caller_identity()
    check(ident["Arn"] == user["Arn"] and ident["UserId"] == user["UserId"], f"the user itself {ident}")
    s_ec2 = client("ec2", session, r["SessionToken"])
    expect_error("UnauthorizedOperation", s_ec2.describe_vpcs)
    p_iam.put_user_policy(UserName="alice", PolicyName="vpcs", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"}))
    check(len(s_ec2.describe_vpcs()["Vpcs"]) >= 1, "the session has the user's policies")
    p_iam.delete_user_policy(UserName="alice", PolicyName="vpcs")
    # As in AWS without MFA: no IAM calls, no STS calls but AssumeRole and GetCallerIdentity.
    expect_error("InvalidClientTokenId", client("iam", session, r["SessionToken"]).list_access_keys)
    expect_error("AccessDenied", client("sts", session, r["SessionToken"]).get_session_token)
    expect_error("AccessDenied", role_session.get_session_token)
    expect_error("ValidationError", client("sts", alice, validate=False).get_session_token, DurationSeconds=899)
    root = client("sts", PROVIDER).get_session_token()["Credentials"]
    ident = client("sts", (root["AccessKeyId"], root["SecretAccessKey"]), root["SessionToken"]).get_caller_identity()
    check(ident["Arn"] == f"arn:aws:iam::{PROVIDER_ACCOUNT}:root", f"root session {ident}")


# --- EC2: regions and zones, tags, route tables, network ACLs, prefix lists -----------------
def ec2_catalogue(p_ec2):
    r = p_ec2.describe_regions()["Regions"]
    check([(x["RegionName"], x["OptInStatus"]) for x in r] ==
          [(REGION, "opt-in-not-required"), (SECOND_REGION, "opt-in-not-required")], f"regions {r}")
    r = p_ec2.describe_regions(RegionNames=[SECOND_REGION])["Regions"]
    check([x["RegionName"] for x in r] == [SECOND_REGION], f"RegionNames {r}")
    check(p_ec2.describe_regions(AllRegions=True)["Regions"][0]["RegionName"] == REGION, "AllRegions")
    expect_error("InvalidParameterValue", p_ec2.describe_regions, RegionNames=["mars-north-1"])
    z = p_ec2.describe_availability_zones()["AvailabilityZones"]
    check([(x["ZoneName"], x["ZoneId"], x["State"]) for x in z] ==
          [("us-east-1a", "use1-az1", "available"), ("us-east-1b", "use1-az2", "available"),
           ("us-east-1c", "use1-az3", "available")], f"zones {z}")
    z = p_ec2.describe_availability_zones(Filters=[{"Name": "zone-id", "Values": ["use1-az2"]}])
    check([x["ZoneName"] for x in z["AvailabilityZones"]] == ["us-east-1b"], "zone-id filter")
    expect_error("InvalidParameterValue", p_ec2.describe_availability_zones, ZoneNames=["us-east-1z"])
    pls = p_ec2.describe_prefix_lists()["PrefixLists"]
    check([x["PrefixListName"] for x in pls] == ["com.underpass.us-east-1.dynamodb", "com.underpass.us-east-1.s3"],
          f"gateway services' prefix lists {pls}")
    check(all(x["PrefixListId"].startswith("pl-") and len(x["PrefixListId"]) == 11 for x in pls), f"{pls}")
    one = p_ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": ["*.s3"]}])["PrefixLists"]
    check([x["PrefixListId"] for x in one] == [pls[1]["PrefixListId"]], f"name filter {one}")
    managed = p_ec2.describe_managed_prefix_lists(PrefixListIds=[pls[1]["PrefixListId"]])["PrefixLists"]
    check(len(managed) == 1 and managed[0]["OwnerId"] == "AWS" and managed[0]["AddressFamily"] == "IPv4"
          and managed[0]["PrefixListArn"].endswith(pls[1]["PrefixListId"]), f"managed {managed}")
    expect_error("InvalidPrefixListID.NotFound", p_ec2.describe_managed_prefix_lists,
                 PrefixListIds=["pl-0123456789abcdef0"])


def ec2_tags(p_ec2, c_ec2, vpc_id, subnet_id, service_id):
    name = [{"Key": "Name", "Value": "web"}]
    v = p_ec2.create_vpc(CidrBlock="10.50.0.0/16",
                         TagSpecifications=[{"ResourceType": "vpc", "Tags": name + [{"Key": "env", "Value": "test"}]}])
    tagged = v["Vpc"]["VpcId"]
    check(sorted(t["Key"] for t in v["Vpc"]["Tags"]) == ["Name", "env"], f"tags on create {v['Vpc']}")
    r = p_ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["w*"]}])
    check([x["VpcId"] for x in r["Vpcs"]] == [tagged], "tag: filter")
    r = p_ec2.describe_vpcs(Filters=[{"Name": "tag-key", "Values": ["env"]}])
    check([x["VpcId"] for x in r["Vpcs"]] == [tagged], "tag-key filter")
    s = p_ec2.create_subnet(VpcId=tagged, CidrBlock="10.50.1.0/24",
                            TagSpecifications=[{"ResourceType": "subnet", "Tags": name}])["Subnet"]
    check(s["Tags"] == name, f"subnet tags {s}")
    g = p_ec2.create_security_group(GroupName="tagged", Description="d", VpcId=tagged,
                                    TagSpecifications=[{"ResourceType": "security-group", "Tags": name}])
    check(g["Tags"] == name, f"group tags {g}")
    expect_error("InvalidParameterValue", p_ec2.create_vpc, CidrBlock="10.51.0.0/16",
                 TagSpecifications=[{"ResourceType": "subnet", "Tags": name}])
    check(len(p_ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.51.0.0/16"]}])["Vpcs"]) == 0,
          "a refused create leaves nothing")

    p_ec2.create_tags(Resources=[vpc_id, subnet_id, service_id], Tags=[{"Key": "team", "Value": "net"}])
    r = p_ec2.describe_tags(Filters=[{"Name": "key", "Values": ["team"]}])["Tags"]
    check(sorted((t["ResourceId"], t["ResourceType"]) for t in r) ==
          sorted([(vpc_id, "vpc"), (subnet_id, "subnet"), (service_id, "vpc-endpoint-service")]), f"DescribeTags {r}")
    svc = p_ec2.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])["ServiceConfigurations"][0]
    check(svc["Tags"] == [{"Key": "team", "Value": "net"}], f"service tags {svc}")
    r = p_ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [tagged]}], MaxResults=5)
    check(sorted(t["Key"] for t in r["Tags"]) == ["Name", "env"], f"by resource {r}")
    p_ec2.create_tags(Resources=[tagged], Tags=[{"Key": "env", "Value": "prod"}])  # overwrite
    p_ec2.delete_tags(Resources=[tagged], Tags=[{"Key": "Name", "Value": "not-web"}])  # value differs: kept
    p_ec2.delete_tags(Resources=[tagged], Tags=[{"Key": "Name"}])
    r = p_ec2.describe_vpcs(VpcIds=[tagged])["Vpcs"][0]
    check(r["Tags"] == [{"Key": "env", "Value": "prod"}], f"after delete {r}")
    p_ec2.delete_tags(Resources=[tagged])
    check("Tags" not in p_ec2.describe_vpcs(VpcIds=[tagged])["Vpcs"][0], "all tags deleted")
    code, msg, _ = expect_error("InvalidParameterValue", p_ec2.create_tags, Resources=[vpc_id],
                                Tags=[{"Key": "aws:owner", "Value": "x"}])
    check("aws:" in msg, msg)
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    expect_error("TagLimitExceeded", p_ec2.create_tags, Resources=[vpc_id], Tags=many)
    check(len(p_ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["Tags"]) == 1,
          "a refused CreateTags changes nothing")
    expect_error("InvalidVpcID.NotFound", p_ec2.create_tags, Resources=["vpc-0123456789abcdef0"], Tags=name)
    expect_error("InvalidVpcID.NotFound", c_ec2.create_tags, Resources=[vpc_id], Tags=name)
    expect_error("InvalidID", p_ec2.create_tags, Resources=["i-0123456789abcdef0"], Tags=name)
    expect_error("MissingParameter", client("ec2", PROVIDER, validate=False).create_tags, Resources=[vpc_id])
    p_ec2.delete_security_group(GroupId=g["GroupId"])
    p_ec2.delete_subnet(SubnetId=s["SubnetId"])
    p_ec2.delete_vpc(VpcId=tagged)
    check(p_ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [tagged, s["SubnetId"]]}])["Tags"] == [],
          "tags go with their resources")


def route_tables(p_ec2, vpc_id, subnet_id):
    r = p_ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    check(len(r) == 1, f"the main route table {r}")
    main = r[0]
    check(main["Associations"][0]["Main"] is True and "SubnetId" not in main["Associations"][0], f"{main}")
    check(main["Associations"][0]["AssociationState"]["State"] == "associated", "association state")
    check(main["Routes"] == [{"DestinationCidrBlock": "10.1.0.0/16", "GatewayId": "local",
                              "Origin": "CreateRouteTable", "State": "active"}], f"local route {main['Routes']}")
    r = p_ec2.describe_route_tables(Filters=[{"Name": "association.main", "Values": ["true"]},
                                             {"Name": "vpc-id", "Values": [vpc_id]}])
    check([x["RouteTableId"] for x in r["RouteTables"]] == [main["RouteTableId"]], "association.main filter")
    expect_error("DependencyViolation", p_ec2.delete_route_table, RouteTableId=main["RouteTableId"])

    rt = p_ec2.create_route_table(VpcId=vpc_id, ClientToken="rt-1",
                                  TagSpecifications=[{"ResourceType": "route-table",
                                                      "Tags": [{"Key": "Name", "Value": "private"}]}])
    rt_id = rt["RouteTable"]["RouteTableId"]
    check(rt_id.startswith("rtb-") and rt["RouteTable"]["Associations"] == [], f"new table {rt}")
    check(rt["RouteTable"]["Tags"] == [{"Key": "Name", "Value": "private"}], "route table tags")
    again = p_ec2.create_route_table(VpcId=vpc_id, ClientToken="rt-1",
                                     TagSpecifications=[{"ResourceType": "route-table",
                                                         "Tags": [{"Key": "Name", "Value": "private"}]}])
    check(again["RouteTable"]["RouteTableId"] == rt_id, "ClientToken replay")
    expect_error("IdempotentParameterMismatch", p_ec2.create_route_table, VpcId=vpc_id, ClientToken="rt-1")
    a = p_ec2.associate_route_table(RouteTableId=rt_id, SubnetId=subnet_id)
    check(a["AssociationId"].startswith("rtbassoc-") and a["AssociationState"]["State"] == "associated", f"{a}")
    expect_error("Resource.AlreadyAssociated", p_ec2.associate_route_table, RouteTableId=rt_id, SubnetId=subnet_id)
    expect_error("DependencyViolation", p_ec2.delete_route_table, RouteTableId=rt_id)
    r = p_ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    check([x["RouteTableId"] for x in r["RouteTables"]] == [rt_id], "association.subnet-id filter")

    eni = p_ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet_id]}])
    eni_id = eni["NetworkInterfaces"][0]["NetworkInterfaceId"]
    check(p_ec2.create_route(RouteTableId=rt_id, DestinationCidrBlock="192.168.0.0/16",
                             NetworkInterfaceId=eni_id)["Return"] is True, "CreateRoute")
    expect_error("RouteAlreadyExists", p_ec2.create_route, RouteTableId=rt_id,
                 DestinationCidrBlock="192.168.0.0/16", NetworkInterfaceId=eni_id)
    expect_error("InvalidGatewayID.NotFound", p_ec2.create_route, RouteTableId=rt_id,
                 DestinationCidrBlock="0.0.0.0/0", GatewayId="igw-0123456789abcdef0")
    expect_error("InvalidNetworkInterfaceID.NotFound", p_ec2.create_route, RouteTableId=rt_id,
                 DestinationCidrBlock="0.0.0.0/0", NetworkInterfaceId="eni-0123456789abcdef0")
    expect_error("InvalidParameterValue", p_ec2.create_route, RouteTableId=rt_id,
                 DestinationCidrBlock="300.0.0.0/8", NetworkInterfaceId=eni_id)
    routes = p_ec2.describe_route_tables(RouteTableIds=[rt_id])["RouteTables"][0]["Routes"]
    check({"DestinationCidrBlock": "192.168.0.0/16", "NetworkInterfaceId": eni_id, "Origin": "CreateRoute",
           "State": "active"} in routes and len(routes) == 2, f"routes {routes}")
    expect_error("InvalidParameterValue", p_ec2.delete_route, RouteTableId=rt_id, DestinationCidrBlock="10.1.0.0/16")
    p_ec2.delete_route(RouteTableId=rt_id, DestinationCidrBlock="192.168.0.0/16")
    expect_error("InvalidRoute.NotFound", p_ec2.delete_route, RouteTableId=rt_id,
                 DestinationCidrBlock="192.168.0.0/16")
    expect_error("InvalidRouteTableID.NotFound", p_ec2.describe_route_tables, RouteTableIds=["rtb-0123456789abcdef0"])
    expect_error("InvalidRouteTableID.NotFound", p_ec2.create_route, RouteTableId="rtb-0123456789abcdef0",
                 DestinationCidrBlock="0.0.0.0/0", NetworkInterfaceId=eni_id)
    expect_error("InvalidRouteTableID.Malformed", p_ec2.delete_route_table, RouteTableId="rtb-zz")
    expect_error("DependencyViolation", p_ec2.delete_vpc, VpcId=vpc_id)
    p_ec2.disassociate_route_table(AssociationId=a["AssociationId"])
    expect_error("InvalidAssociationID.NotFound", p_ec2.disassociate_route_table, AssociationId=a["AssociationId"])
    expect_error("InvalidParameterValue", p_ec2.disassociate_route_table,
                 AssociationId=main["Associations"][0]["RouteTableAssociationId"])
    check(p_ec2.delete_route_table(RouteTableId=rt_id)["ResponseMetadata"]["HTTPStatusCode"] == 200, "delete")
    expect_error("InvalidRouteTableID.NotFound", p_ec2.delete_route_table, RouteTableId=rt_id)
    # A VPC goes away with its main table and default ACL, not with tables and ACLs made for it.
    fresh = p_ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    tables = p_ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [fresh]}])["RouteTables"]
    extra = p_ec2.create_route_table(VpcId=fresh)["RouteTable"]["RouteTableId"]
    expect_error("DependencyViolation", p_ec2.delete_vpc, VpcId=fresh)
    p_ec2.delete_route_table(RouteTableId=extra)
    extra = p_ec2.create_network_acl(VpcId=fresh)["NetworkAcl"]["NetworkAclId"]
    expect_error("DependencyViolation", p_ec2.delete_vpc, VpcId=fresh)
    p_ec2.delete_network_acl(NetworkAclId=extra)
    p_ec2.delete_vpc(VpcId=fresh)
    expect_error("InvalidRouteTableID.NotFound", p_ec2.describe_route_tables,
                 RouteTableIds=[tables[0]["RouteTableId"]])


def gateway_endpoints(p_ec2, c_ec2, vpc_id):
    """Seed 004's S3 gateway endpoint: a route to the service's prefix list in chosen tables."""
    s3 = "com.underpass.us-east-1.s3"
    svc = p_ec2.describe_vpc_endpoint_services(ServiceNames=[s3])["ServiceDetails"][0]
    check(svc["ServiceType"] == [{"ServiceType": "Gateway"}] and svc["Owner"] == "amazon", f"{svc}")
    pl = p_ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [s3]}])["PrefixLists"][0]
    a = p_ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    b = p_ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    e = p_ec2.create_vpc_endpoint(VpcEndpointType="Gateway", VpcId=vpc_id, ServiceName=s3, RouteTableIds=[a],
                                  TagSpecifications=[{"ResourceType": "vpc-endpoint",
                                                      "Tags": [{"Key": "Name", "Value": "s3"}]}])["VpcEndpoint"]
    check(e["VpcEndpointType"] == "Gateway" and e["State"] == "available" and e["RouteTableIds"] == [a]
          and e["SubnetIds"] == [] and json.loads(e["PolicyDocument"])["Statement"][0]["Effect"] == "Allow",
          f"created {e}")
    eid = e["VpcEndpointId"]
    routes = p_ec2.describe_route_tables(RouteTableIds=[a])["RouteTables"][0]["Routes"]
    check({"DestinationPrefixListId": pl["PrefixListId"], "GatewayId": eid, "Origin": "CreateRoute",
           "State": "active"} in routes, f"route to the prefix list {routes}")
    # One route per prefix list and table; the route is the endpoint's, not DeleteRoute's.
    expect_error("RouteAlreadyExists", p_ec2.create_vpc_endpoint, VpcEndpointType="Gateway", VpcId=vpc_id,
                 ServiceName=s3, RouteTableIds=[a])
    expect_error("InvalidParameterValue", p_ec2.delete_route, RouteTableId=a,
                 DestinationPrefixListId=pl["PrefixListId"])
    expect_error("InvalidServiceName", p_ec2.create_vpc_endpoint, VpcEndpointType="Gateway", VpcId=vpc_id,
                 ServiceName="com.underpass.us-east-1.sqs")
    expect_error("InvalidVpcID.NotFound", c_ec2.create_vpc_endpoint, VpcEndpointType="Gateway",
                 VpcId=vpc_id, ServiceName=s3)  # the consumer does not own the VPC
    p_ec2.modify_vpc_endpoint(VpcEndpointId=eid, AddRouteTableIds=[b], RemoveRouteTableIds=[a],
                              PolicyDocument=doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                  "Resource": "*"}))
    got = p_ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-endpoint-type", "Values": ["Gateway"]}])
    got = got["VpcEndpoints"]
    check([x["VpcEndpointId"] for x in got] == [eid] and got[0]["RouteTableIds"] == [b]
          and "s3:GetObject" in got[0]["PolicyDocument"] and got[0]["Tags"] == [{"Key": "Name", "Value": "s3"}],
          f"modified {got}")
    check(all(r.get("GatewayId") != eid for r in
              p_ec2.describe_route_tables(RouteTableIds=[a])["RouteTables"][0]["Routes"]), "route left table a")
    p_ec2.modify_vpc_endpoint(VpcEndpointId=eid, ResetPolicy=True)
    got = p_ec2.describe_vpc_endpoints(VpcEndpointIds=[eid])["VpcEndpoints"][0]
    check("s3:GetObject" not in got["PolicyDocument"], f"reset {got}")
    r = p_ec2.delete_vpc_endpoints(VpcEndpointIds=[eid])
    check(r["Unsuccessful"] == [], f"delete {r}")
    check(all(r.get("GatewayId") != eid for r in
              p_ec2.describe_route_tables(RouteTableIds=[b])["RouteTables"][0]["Routes"]), "route gone")
    expect_error("InvalidVpcEndpointId.NotFound", p_ec2.describe_vpc_endpoints, VpcEndpointIds=[eid])
    p_ec2.delete_route_table(RouteTableId=a)
    p_ec2.delete_route_table(RouteTableId=b)


def vpc_blocks_subnet_attributes_egress(p_ec2):
    """AssociateVpcCidrBlock, ModifySubnetAttribute and outbound rules, as Terraform uses them."""
    vpc = p_ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]
    vid = vpc["VpcId"]
    check([b["CidrBlock"] for b in vpc["CidrBlockAssociationSet"]] == ["10.70.0.0/16"], f"{vpc}")
    r = p_ec2.associate_vpc_cidr_block(VpcId=vid, CidrBlock="10.71.0.0/16")
    assoc = r["CidrBlockAssociation"]
    check(assoc["CidrBlockState"]["State"] == "associated" and assoc["AssociationId"].startswith("vpc-cidr-assoc-"),
          f"{r}")
    expect_error("InvalidVpc.Range", p_ec2.associate_vpc_cidr_block, VpcId=vid, CidrBlock="10.71.128.0/17")
    got = p_ec2.describe_vpcs(VpcIds=[vid])["Vpcs"][0]["CidrBlockAssociationSet"]
    check([b["CidrBlock"] for b in got] == ["10.70.0.0/16", "10.71.0.0/16"], f"{got}")
    by_block = p_ec2.describe_vpcs(Filters=[{"Name": "cidr-block-association.cidr-block", "Values": ["10.71.0.0/16"]}])
    check([v["VpcId"] for v in by_block["Vpcs"]] == [vid], f"{by_block}")
    # A subnet may live in the new block; the main route table routes it locally.
    sub = p_ec2.create_subnet(VpcId=vid, CidrBlock="10.71.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
    main = p_ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]}])["RouteTables"][0]
    check({"DestinationCidrBlock": "10.71.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable",
           "State": "active"} in main["Routes"], f"{main}")
    expect_error("InvalidCidrBlock.InUse", p_ec2.disassociate_vpc_cidr_block, AssociationId=assoc["AssociationId"])
    expect_error("OperationNotPermitted", p_ec2.disassociate_vpc_cidr_block,
                 AssociationId=got[0]["AssociationId"])
    # Subnet attributes, one per call.
    p_ec2.modify_subnet_attribute(SubnetId=sub["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    p_ec2.modify_subnet_attribute(SubnetId=sub["SubnetId"], PrivateDnsHostnameTypeOnLaunch="resource-name")
    s2 = p_ec2.describe_subnets(SubnetIds=[sub["SubnetId"]])["Subnets"][0]
    check(s2["MapPublicIpOnLaunch"] is True and
          s2["PrivateDnsNameOptionsOnLaunch"]["HostnameType"] == "resource-name", f"{s2}")
    expect_error("InvalidParameterValue", p_ec2.modify_subnet_attribute, SubnetId=sub["SubnetId"],
                 PrivateDnsHostnameTypeOnLaunch="fancy-name")
    p_ec2.delete_subnet(SubnetId=sub["SubnetId"])
    r = p_ec2.disassociate_vpc_cidr_block(AssociationId=assoc["AssociationId"])
    check(r["CidrBlockAssociation"]["CidrBlockState"]["State"] == "disassociated", f"{r}")
    main = p_ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]}])["RouteTables"][0]
    check(all(x.get("DestinationCidrBlock") != "10.71.0.0/16" for x in main["Routes"]), f"{main}")
    expect_error("InvalidVpcCidrBlockAssociationID.NotFound", p_ec2.disassociate_vpc_cidr_block,
                 AssociationId=assoc["AssociationId"])
    # Outbound rules: the default allow-all, revoked as Terraform does, then one of our own.
    g = p_ec2.create_security_group(GroupName="tf", Description="terraform-style", VpcId=vid)["GroupId"]
    sg = p_ec2.describe_security_groups(GroupIds=[g])["SecurityGroups"][0]
    check(sg["IpPermissionsEgress"] == [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                                         "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]
          or (len(sg["IpPermissionsEgress"]) == 1 and sg["IpPermissionsEgress"][0]["IpProtocol"] == "-1"
              and sg["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]), f"{sg}")
    p_ec2.revoke_security_group_egress(GroupId=g, IpPermissions=[{"IpProtocol": "-1",
                                                                  "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    r = p_ec2.authorize_security_group_egress(GroupId=g, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.70.0.0/16"}]}])
    check(r["Return"] is True and r["SecurityGroupRules"][0]["IsEgress"] is True, f"{r}")
    sg = p_ec2.describe_security_groups(GroupIds=[g])["SecurityGroups"][0]
    check([(p["IpProtocol"], p.get("FromPort")) for p in sg["IpPermissionsEgress"]] == [("tcp", 443)], f"{sg}")
    expect_error("InvalidPermission.NotFound", p_ec2.revoke_security_group_egress, GroupId=g,
                 IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    p_ec2.delete_security_group(GroupId=g)
    p_ec2.delete_vpc(VpcId=vid)


def connection_notifications(p_ec2, c_ec2, service_id, ep_id):
    topic = f"arn:aws:sns:us-east-1:{PROVIDER_ACCOUNT}:endpoint-events"
    n = p_ec2.create_vpc_endpoint_connection_notification(
        ServiceId=service_id, ConnectionNotificationArn=topic, ConnectionEvents=["Connect", "Accept"]
    )["ConnectionNotification"]
    check(n["ConnectionNotificationId"].startswith("vpce-nfn-") and n["ServiceId"] == service_id
          and n["ConnectionEvents"] == ["Accept", "Connect"] and n["ConnectionNotificationState"] == "Enabled"
          and n["ConnectionNotificationType"] == "Topic", f"{n}")
    nid = n["ConnectionNotificationId"]
    c = c_ec2.create_vpc_endpoint_connection_notification(
        VpcEndpointId=ep_id, ConnectionNotificationArn=f"arn:aws:sns:us-east-1:{CONSUMER_ACCOUNT}:mine",
        ConnectionEvents=["Reject"])["ConnectionNotification"]
    check(c["VpcEndpointId"] == ep_id and "ServiceId" not in c, f"{c}")
    expect_error("InvalidParameter", p_ec2.create_vpc_endpoint_connection_notification, ServiceId=service_id,
                 ConnectionNotificationArn="arn:aws:sqs:us-east-1:123456789012:q", ConnectionEvents=["Accept"])
    expect_error("InvalidParameter", c_ec2.create_vpc_endpoint_connection_notification, VpcEndpointId=ep_id,
                 ConnectionNotificationArn=topic, ConnectionEvents=["Connect"])  # not an endpoint event
    expect_error("InvalidVpcEndpointServiceId.NotFound", c_ec2.create_vpc_endpoint_connection_notification,
                 ServiceId=service_id, ConnectionNotificationArn=topic, ConnectionEvents=["Accept"])
    r = p_ec2.modify_vpc_endpoint_connection_notification(ConnectionNotificationId=nid,
                                                          ConnectionEvents=["Accept", "Reject", "Delete"])
    check(r["ReturnValue"] is True, f"{r}")
    got = p_ec2.describe_vpc_endpoint_connection_notifications(
        Filters=[{"Name": "service-id", "Values": [service_id]}])["ConnectionNotificationSet"]
    check([x["ConnectionEvents"] for x in got] == [["Accept", "Delete", "Reject"]], f"{got}")
    check(c_ec2.describe_vpc_endpoint_connection_notifications()["ConnectionNotificationSet"][0]
          ["ConnectionNotificationId"] == c["ConnectionNotificationId"], "each account sees its own")
    r = p_ec2.delete_vpc_endpoint_connection_notifications(ConnectionNotificationIds=[nid, c["ConnectionNotificationId"]])
    check([u["ResourceId"] for u in r["Unsuccessful"]] == [c["ConnectionNotificationId"]], f"{r}")
    expect_error("InvalidConnectionNotification", p_ec2.describe_vpc_endpoint_connection_notifications,
                 ConnectionNotificationId=nid)
    c_ec2.delete_vpc_endpoint_connection_notifications(ConnectionNotificationIds=[c["ConnectionNotificationId"]])


def network_acls(p_ec2, vpc_id, subnet_id):
    acls = p_ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkAcls"]
    check(len(acls) == 1 and acls[0]["IsDefault"] is True, f"the default ACL {acls}")
    default = acls[0]
    entries = [(e["RuleNumber"], e["Egress"], e["Protocol"], e["RuleAction"], e["CidrBlock"]) for e in default["Entries"]]
    check(entries == [(100, False, "-1", "allow", "0.0.0.0/0"), (32767, False, "-1", "deny", "0.0.0.0/0"),
                      (100, True, "-1", "allow", "0.0.0.0/0"), (32767, True, "-1", "deny", "0.0.0.0/0")],
          f"default entries {entries}")
    assoc = [a for a in default["Associations"] if a["SubnetId"] == subnet_id]
    check(len(assoc) == 1 and assoc[0]["NetworkAclAssociationId"].startswith("aclassoc-"), f"{default}")
    acl = p_ec2.create_network_acl(VpcId=vpc_id, ClientToken="acl-1")["NetworkAcl"]
    acl_id = acl["NetworkAclId"]
    check(acl["IsDefault"] is False and [e["RuleNumber"] for e in acl["Entries"]] == [32767, 32767], f"{acl}")
    again = p_ec2.create_network_acl(VpcId=vpc_id, ClientToken="acl-1")["NetworkAcl"]
    check(again["NetworkAclId"] == acl_id, "ClientToken replay")
    p_ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=100, Protocol="6", RuleAction="deny",
                                   Egress=False, CidrBlock="127.0.0.5/32", PortRange={"From": 80, "To": 80})
    p_ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=200, Protocol="-1", RuleAction="allow",
                                   Egress=False, CidrBlock="0.0.0.0/0")
    expect_error("NetworkAclEntryAlreadyExists", p_ec2.create_network_acl_entry, NetworkAclId=acl_id, RuleNumber=100,
                 Protocol="-1", RuleAction="allow", Egress=False, CidrBlock="0.0.0.0/0")
    expect_error("InvalidParameterValue", p_ec2.create_network_acl_entry, NetworkAclId=acl_id, RuleNumber=40000,
                 Protocol="-1", RuleAction="allow", Egress=False, CidrBlock="0.0.0.0/0")
    expect_error("InvalidParameterValue", p_ec2.create_network_acl_entry, NetworkAclId=acl_id, RuleNumber=300,
                 Protocol="-1", RuleAction="allow", Egress=False, CidrBlock="10.0.0.1/8")
    expect_error("MissingParameter", p_ec2.create_network_acl_entry, NetworkAclId=acl_id, RuleNumber=300,
                 Protocol="6", RuleAction="allow", Egress=False, CidrBlock="10.0.0.0/8")
    e = p_ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]["Entries"]
    check(e[0] == {"CidrBlock": "127.0.0.5/32", "Egress": False, "PortRange": {"From": 80, "To": 80},
                   "Protocol": "6", "RuleAction": "deny", "RuleNumber": 100}, f"entry {e[0]}")
    r = p_ec2.describe_network_acls(Filters=[{"Name": "entry.rule-action", "Values": ["deny"]},
                                             {"Name": "entry.cidr", "Values": ["127.0.0.5/32"]}])
    check([x["NetworkAclId"] for x in r["NetworkAcls"]] == [acl_id], "entry filters")
    new = p_ec2.replace_network_acl_association(AssociationId=assoc[0]["NetworkAclAssociationId"],
                                                NetworkAclId=acl_id)["NewAssociationId"]
    check(new.startswith("aclassoc-") and new != assoc[0]["NetworkAclAssociationId"], f"new association {new}")
    r = p_ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    check([x["NetworkAclId"] for x in r["NetworkAcls"]] == [acl_id], "the subnet moved")
    expect_error("InvalidAssociationID.NotFound", p_ec2.replace_network_acl_association,
                 AssociationId=assoc[0]["NetworkAclAssociationId"], NetworkAclId=acl_id)
    expect_error("DependencyViolation", p_ec2.delete_network_acl, NetworkAclId=acl_id)
    p_ec2.replace_network_acl_association(AssociationId=new, NetworkAclId=default["NetworkAclId"])
    p_ec2.delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=100, Egress=False)
    expect_error("InvalidNetworkAclEntry.NotFound", p_ec2.delete_network_acl_entry, NetworkAclId=acl_id,
                 RuleNumber=100, Egress=False)
    expect_error("InvalidParameterValue", p_ec2.delete_network_acl, NetworkAclId=default["NetworkAclId"])
    expect_error("DependencyViolation", p_ec2.delete_vpc, VpcId=vpc_id)
    p_ec2.delete_network_acl(NetworkAclId=acl_id)
    expect_error("InvalidNetworkAclID.NotFound", p_ec2.describe_network_acls, NetworkAclIds=[acl_id])
    expect_error("InvalidNetworkAclID.NotFound", p_ec2.delete_network_acl, NetworkAclId=acl_id)
    expect_error("InvalidNetworkAclID.NotFound", p_ec2.create_network_acl_entry, NetworkAclId=acl_id,
                 RuleNumber=1, Protocol="-1", RuleAction="allow", Egress=False, CidrBlock="0.0.0.0/0")


# --- ELBv2 tags --------------------------------------------------------------------------------
def elb_tags(p_elb, c_elb, lb_arn, tg_arn, subnet_id):
    p_elb.add_tags(ResourceArns=[lb_arn, tg_arn], Tags=[{"Key": "team", "Value": "web"}, {"Key": "tier"}])
    r = p_elb.describe_tags(ResourceArns=[lb_arn, tg_arn])["TagDescriptions"]
    check([x["ResourceArn"] for x in r] == [lb_arn, tg_arn], f"DescribeTags order {r}")
    check(r[0]["Tags"] == [{"Key": "team", "Value": "web"}, {"Key": "tier", "Value": ""}], f"tags {r[0]}")
    p_elb.remove_tags(ResourceArns=[tg_arn], TagKeys=["team", "absent"])
    r = p_elb.describe_tags(ResourceArns=[tg_arn])["TagDescriptions"]
    check(r[0]["Tags"] == [{"Key": "tier", "Value": ""}], f"after RemoveTags {r}")
    expect_error("ValidationError", p_elb.add_tags, ResourceArns=[lb_arn], Tags=[{"Key": "aws:x", "Value": "y"}])
    expect_error("DuplicateTagKeys", p_elb.add_tags, ResourceArns=[lb_arn],
                 Tags=[{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}])
    expect_error("TooManyTags", p_elb.add_tags, ResourceArns=[lb_arn],
                 Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    missing = lb_arn.rsplit("/", 1)[0] + "/0123456789abcdef"
    expect_error("LoadBalancerNotFound", p_elb.describe_tags, ResourceArns=[missing])
    expect_error("LoadBalancerNotFound", p_elb.add_tags, ResourceArns=[lb_arn, missing], Tags=[{"Key": "x"}])
    check(len(p_elb.describe_tags(ResourceArns=[lb_arn])["TagDescriptions"][0]["Tags"]) == 2, "no partial AddTags")
    expect_error("TargetGroupNotFound", c_elb.describe_tags, ResourceArns=[tg_arn])
    lb2 = p_elb.create_load_balancer(Name="tagged-nlb", Type="network", Scheme="internal", Subnets=[subnet_id],
                                     Tags=[{"Key": "Name", "Value": "tagged"}])["LoadBalancers"][0]["LoadBalancerArn"]
    r = p_elb.describe_tags(ResourceArns=[lb2])["TagDescriptions"][0]["Tags"]
    check(r == [{"Key": "Name", "Value": "tagged"}], f"tags on create {r}")
    p_elb.delete_load_balancer(LoadBalancerArn=lb2)


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
    # Seven VPCs made here and the account's default VPC.
    pages = list(p_ec2.get_paginator("describe_vpcs").paginate(PaginationConfig={"PageSize": 5}))
    check(sum(len(p["Vpcs"]) for p in pages) == 8 and len(pages) == 2, "paginator")
    default = p_ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    check(len(default) == 1 and default[0]["IsDefault"] is True and default[0]["CidrBlock"] == "172.31.0.0/16",
          f"default VPC {default}")
    subnets = p_ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default[0]["VpcId"]]}])["Subnets"]
    check(sorted(s["AvailabilityZone"] for s in subnets) == ["us-east-1a", "us-east-1b", "us-east-1c"]
          and all(s["DefaultForAz"] is True and s["MapPublicIpOnLaunch"] is True for s in subnets),
          f"default subnets {subnets}")
    expect_error("DefaultVpcAlreadyExists", p_ec2.create_default_vpc)

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
    # The consumer VPC's two and the default VPC's default group.
    check(sorted(names) == ["clients", "default", "default"], f"consumer groups {names}")

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
    connection_notifications(p_ec2, c_ec2, service_id, ep_id)
    # Listings (no ids) are served from the items the server keeps, and their XML from memos
    # (vpce_items.rs): twice the same, then every change below shows in the next listing.
    def listed():
        found = [e for e in c_ec2.describe_vpc_endpoints()["VpcEndpoints"] if e["VpcEndpointId"] == ep_id]
        check(len(found) == 1, f"{ep_id} listed once")
        return found[0]
    first = listed()
    check(first["State"] == "pendingAcceptance" and listed() == first, f"listing twice {first}")
    r = p_ec2.accept_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[ep_id])
    check(r.get("Unsuccessful", []) == [], f"accept {r}")
    r = c_ec2.describe_vpc_endpoints(VpcEndpointIds=[ep_id])
    ep = r["VpcEndpoints"][0]
    check(ep["State"] == "available", f"accepted endpoint {ep}")
    check(len(ep["NetworkInterfaceIds"]) == 1 and ep["NetworkInterfaceIds"][0].startswith("eni-"), "ENIs")
    r = c_ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-endpoint-state", "Values": ["available"]}])
    check([e["VpcEndpointId"] for e in r["VpcEndpoints"]] == [ep_id], "endpoint state filter")
    check(listed()["State"] == "available", "a listing after the acceptance")
    c_ec2.create_tags(Resources=[ep_id], Tags=[{"Key": "stage", "Value": "prod"}])
    check(listed()["Tags"] == [{"Key": "stage", "Value": "prod"}], "a listing after CreateTags")
    c_ec2.delete_tags(Resources=[ep_id], Tags=[{"Key": "stage"}])
    check("Tags" not in listed() or listed()["Tags"] == [], "a listing after DeleteTags")
    check(listed() == c_ec2.describe_vpc_endpoints(VpcEndpointIds=[ep_id])["VpcEndpoints"][0], "listed as read by id")

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
    check(len(s_ec2.describe_vpcs()["Vpcs"]) == 8, "the role's policy lets the session describe")

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

    # --- the rest of issue 9: IAM reads and managed policies, STS, EC2, ELBv2 tags ---------
    iam_reads(p_iam, user, role, trust)
    managed_policies(p_iam, alice, vpc_id, subnet_id)
    session_tokens(p_iam, alice, user, client("sts", session, creds["SessionToken"]))
    ec2_catalogue(p_ec2)
    ec2_tags(p_ec2, c_ec2, vpc_id, subnet_id, service_id)
    route_tables(p_ec2, vpc_id, subnet_id)
    gateway_endpoints(p_ec2, c_ec2, vpc_id)
    vpc_blocks_subnet_attributes_egress(p_ec2)
    network_acls(p_ec2, vpc_id, subnet_id)
    elb_tags(p_elb, client("elbv2", CONSUMER), lb_arn, tg_arn, subnet_id)
    regions()

    # Clean-up through the Query protocol too: the VPC goes with its default group, main route
    # table and default network ACL.
    p_ec2.delete_vpc(VpcId=more[-1])
    check(len(p_ec2.describe_vpcs()["Vpcs"]) == 7, "DeleteVpc")  # six made here and the default VPC

    print(f"boto3 suite: {CHECKS} checks passed")


# --- Several regions: each its own resources; global IAM/STS; unserved regions refused ----------
def regions():
    us, eu = client("ec2", PROVIDER), client("ec2", PROVIDER, region=SECOND_REGION)
    z = eu.describe_availability_zones()["AvailabilityZones"]
    check([(x["ZoneName"], x["ZoneId"], x["RegionName"]) for x in z] ==
          [("eu-west-1a", "euw1-az1", SECOND_REGION), ("eu-west-1b", "euw1-az2", SECOND_REGION),
           ("eu-west-1c", "euw1-az3", SECOND_REGION)], f"eu zones {z}")
    default = eu.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    check(len(default) == 1 and default[0]["CidrBlock"] == "172.31.0.0/16", f"eu default VPC {default}")
    vpc_id = eu.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    check(vpc_id in [v["VpcId"] for v in eu.describe_vpcs()["Vpcs"]], "listed in its region")
    check(vpc_id not in [v["VpcId"] for v in us.describe_vpcs()["Vpcs"]], "not listed in another")
    expect_error("InvalidVpcID.NotFound", us.describe_vpcs, VpcIds=[vpc_id])
    expect_error("InvalidParameterValue", eu.create_subnet, VpcId=vpc_id, CidrBlock="10.50.1.0/24",
                 AvailabilityZone="us-east-1a")
    pls = eu.describe_prefix_lists()["PrefixLists"]
    check([x["PrefixListName"] for x in pls] ==
          ["com.underpass.eu-west-1.dynamodb", "com.underpass.eu-west-1.s3"], f"eu prefix lists {pls}")
    eu.delete_vpc(VpcId=vpc_id)
    # A region the server does not serve: refused as AWS refuses a scope's wrong region.
    far = client("ec2", PROVIDER, region="ap-south-1")
    code, message, status = error_of(far.describe_vpcs)
    check(code == "SignatureDoesNotMatch" and "scoped to a valid region" in message and status == 403,
          f"unserved region {code} {message} {status}")
    # IAM and STS are global: any region's signature is taken.
    who = client("sts", PROVIDER, region="ap-south-1").get_caller_identity()
    check(who["Account"] == PROVIDER_ACCOUNT, f"STS from any region {who}")


if __name__ == "__main__":
    main()
