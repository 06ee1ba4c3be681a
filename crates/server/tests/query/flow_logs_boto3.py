"""Flow logs through the real boto3/botocore and the Query protocol: create (with the list
parameters flattened as EC2 does), describe with filters, errors as botocore parses them, delete.

Run by crates/server/tests/flow_logs_api.rs against a server it started, with the endpoint and
an account's root key in the environment. Exits non-zero, naming the check, on the first failure.
"""

import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ec2 = boto3.client(
    "ec2",
    endpoint_url=os.environ["UP_ENDPOINT"],
    region_name="us-east-1",
    aws_access_key_id=os.environ["UP_KEY"],
    aws_secret_access_key=os.environ["UP_SECRET"],
    config=Config(retries={"max_attempts": 1}),
)


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def error_code(call, **kwargs):
    try:
        out = call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    check(False, f"expected an error from {call.__name__}, got {out}")


vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]

fmt = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${action} ${log-status} ${flow-direction}"
r = ec2.create_flow_logs(
    ResourceIds=[vpc, subnet],
    ResourceType="VPC",
    TrafficType="ACCEPT",
    LogDestinationType="s3",
    LogDestination="arn:aws:s3:::flow-logs-bucket/team",
    LogFormat=fmt,
    MaxAggregationInterval=60,
)
check(len(r["FlowLogIds"]) == 1, f"one flow log for the VPC: {r}")
check(len(r["Unsuccessful"]) == 1, f"the subnet id is not a VPC: {r}")
check(r["Unsuccessful"][0]["ResourceId"] == subnet, f"{r}")
check(r["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcID.Malformed", f"{r}")
fl = r["FlowLogIds"][0]

r2 = ec2.create_flow_logs(
    ResourceIds=[subnet],
    ResourceType="Subnet",
    TrafficType="ALL",
    LogDestinationType="file",
    LogDestination="local/logs",
)
check(len(r2["FlowLogIds"]) == 1 and not r2["Unsuccessful"], f"{r2}")

logs = ec2.describe_flow_logs(FlowLogIds=[fl])["FlowLogs"]
check(len(logs) == 1, f"{logs}")
f = logs[0]
check(f["ResourceId"] == vpc, f"{f}")
check(f["TrafficType"] == "ACCEPT", f"{f}")
check(f["LogDestinationType"] == "s3", f"{f}")
check(f["LogDestination"] == "arn:aws:s3:::flow-logs-bucket/team", f"{f}")
check(f["LogFormat"] == fmt, f"{f}")
check(f["MaxAggregationInterval"] == 60, f"{f}")
check(f["FlowLogStatus"] == "ACTIVE", f"{f}")
check(f["DestinationOptions"]["FileFormat"] == "plain-text", f"{f}")
check(f["CreationTime"].year >= 2024, f"{f}")

by_type = ec2.describe_flow_logs(Filters=[{"Name": "log-destination-type", "Values": ["file"]}])["FlowLogs"]
check([x["ResourceId"] for x in by_type] == [subnet], f"{by_type}")
by_resource = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc, subnet]}])["FlowLogs"]
check(len(by_resource) == 2, f"{by_resource}")

code = error_code(
    ec2.create_flow_logs,
    ResourceIds=[vpc],
    ResourceType="VPC",
    TrafficType="ALL",
    LogDestinationType="file",
    LogDestination="../../etc",
)
check(code == "InvalidParameter", f"path traversal: {code}")
code = error_code(
    ec2.create_flow_logs,
    ResourceIds=[vpc],
    ResourceType="VPC",
    TrafficType="ALL",
    LogDestinationType="file",
    LogDestination="x",
    LogFormat="${version} ${bogus}",
)
check(code == "InvalidParameter", f"bad format: {code}")

d = ec2.delete_flow_logs(FlowLogIds=[fl, r2["FlowLogIds"][0], "fl-00000000000000000"])
check(len(d["Unsuccessful"]) == 1, f"{d}")
check(d["Unsuccessful"][0]["Error"]["Code"] == "InvalidFlowLogId.NotFound", f"{d}")
check(ec2.describe_flow_logs()["FlowLogs"] == [], "all deleted")
print("flow logs through boto3: ok")
