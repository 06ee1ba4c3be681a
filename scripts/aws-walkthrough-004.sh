#!/usr/bin/env bash
# Seed 004 with the real AWS CLI: an IAM role with S3 access, an S3 gateway endpoint in the
# private route table, VPC flow logs delivered to an S3 bucket, and the seed's Athena query
# (every TCP REJECT) run with `underpass flowlogs query`.
#
# Underpass does not host S3: the bucket lives on moto_server (an S3-compatible store started
# here on loopback), which the consumer agent writes flow logs to and the query reads. Traffic
# comes from an interface endpoint in the same VPC (as in seed 003): requests from an allowed
# source are ACCEPTed, requests from another loopback address are REJECTed by the security group.
#
# Starts `underpass server --json`, two agents, a backend and moto_server on loopback
# (127.64.x.x provider, 127.74.x.x consumer), all stopped on exit. Needs `aws`, python3, curl and
# moto_server (`python3 -m pip install 'moto[server]'`). Usage:
#   UNDERPASS=/path/to/underpass WORK=/tmp/wt scripts/aws-walkthrough-004.sh
# The last line is "walkthrough 004: ok" when every check passed.
set -euo pipefail
# shellcheck source=lib/walkthrough.sh
source "$(dirname "$0")/lib/walkthrough.sh"

step "moto_server: the S3-compatible store of the flow logs"
S3_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$S3_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
S3_URL="http://127.0.0.1:$S3_PORT"
s3() { AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws --endpoint-url "$S3_URL" "$@"; }
for _ in $(seq 1 80); do s3 s3api list-buckets >/dev/null 2>&1 && break; sleep 0.25; done
s3 s3api create-bucket --bucket vpc-flow-logs-demo >/dev/null || fail "cannot create the bucket on moto"
echo "bucket s3://vpc-flow-logs-demo on $S3_URL"

step "underpass server --json"
start_server
KEYS=$(as_admin "$UNDERPASS" admin create-account --account-id 555555555555 --name demo --output json)
as_demo() {
  AWS_ACCESS_KEY_ID=$(echo "$KEYS" | json '["AccessKey"]["AccessKeyId"]') \
  AWS_SECRET_ACCESS_KEY=$(echo "$KEYS" | json '["AccessKey"]["SecretAccessKey"]') "$@"
}
awsd() { as_demo aws --endpoint-url "$URL" "$@"; }

step "IAM: a role for EC2 with full access to S3"
cat >"$WORK/trust.json" <<'EOF'
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
EOF
cat >"$WORK/s3-full.json" <<'EOF'
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"}]}
EOF
awsd iam create-role --role-name s3-full-access --assume-role-policy-document "file://$WORK/trust.json" \
  --query Role.Arn --output text
POLICY=$(awsd iam create-policy --policy-name AmazonS3FullAccess --policy-document "file://$WORK/s3-full.json" \
  --query Policy.Arn --output text)
awsd iam attach-role-policy --role-name s3-full-access --policy-arn "$POLICY"
ATTACHED=$(awsd iam list-attached-role-policies --role-name s3-full-access \
  --query 'AttachedPolicies[0].PolicyName' --output text)
[ "$ATTACHED" = AmazonS3FullAccess ] || fail "role policies: $ATTACHED"

step "the demo VPC: two private subnets on a private route table"
VPC=$(awsd ec2 create-vpc --cidr-block 127.74.0.0/16 --query Vpc.VpcId --output text)
SUB_A=$(awsd ec2 create-subnet --vpc-id "$VPC" --cidr-block 127.74.1.0/24 --availability-zone us-east-1a \
  --query Subnet.SubnetId --output text)
SUB_B=$(awsd ec2 create-subnet --vpc-id "$VPC" --cidr-block 127.74.2.0/24 --availability-zone us-east-1b \
  --query Subnet.SubnetId --output text)
RT=$(awsd ec2 create-route-table --vpc-id "$VPC" --query RouteTable.RouteTableId --output text)
awsd ec2 create-tags --resources "$RT" --tags Key=Name,Value=private
awsd ec2 associate-route-table --route-table-id "$RT" --subnet-id "$SUB_A" >/dev/null
awsd ec2 associate-route-table --route-table-id "$RT" --subnet-id "$SUB_B" >/dev/null

step "an S3 gateway endpoint in the private route table"
S3_SVC=$(awsd ec2 describe-vpc-endpoint-services --filters Name=service-type,Values=Gateway \
  --query "ServiceNames[?ends_with(@, '.s3')] | [0]" --output text)
echo "gateway service $S3_SVC"
GW=$(awsd ec2 create-vpc-endpoint --vpc-id "$VPC" --service-name "$S3_SVC" --route-table-ids "$RT" \
  --query VpcEndpoint.VpcEndpointId --output text)
read -r GW_TYPE GW_STATE < <(awsd ec2 describe-vpc-endpoints --vpc-endpoint-ids "$GW" \
  --query 'VpcEndpoints[0].[VpcEndpointType,State]' --output text)
[ "$GW_TYPE $GW_STATE" = "Gateway available" ] || fail "gateway endpoint is $GW_TYPE $GW_STATE"
PL=$(awsd ec2 describe-prefix-lists --filters Name=prefix-list-name,Values="$S3_SVC" \
  --query 'PrefixLists[0].PrefixListId' --output text)
ROUTE=$(awsd ec2 describe-route-tables --route-table-ids "$RT" \
  --query "RouteTables[0].Routes[?DestinationPrefixListId=='$PL'].GatewayId | [0]" --output text)
[ "$ROUTE" = "$GW" ] || fail "no route to $PL through $GW in $RT (got $ROUTE)"
echo "route table $RT: $PL -> $GW"

step "flow logs of the VPC to S3 (the seed also tries CloudWatch Logs)"
CW=$(awsd ec2 create-flow-logs --resource-type VPC --resource-ids "$VPC" --traffic-type ALL \
  --log-destination-type cloud-watch-logs --log-group-name vpc-flow-logs 2>&1 || true)
echo "cloud-watch-logs: ${CW##*: }"
FL=$(awsd ec2 create-flow-logs --resource-type VPC --resource-ids "$VPC" --traffic-type ALL \
  --log-destination-type s3 --log-destination arn:aws:s3:::vpc-flow-logs-demo --max-aggregation-interval 60 \
  --query 'FlowLogIds[0]' --output text)
STATUS=$(awsd ec2 describe-flow-logs --flow-log-ids "$FL" --query 'FlowLogs[0].[FlowLogStatus,LogDestination]' \
  --output text)
echo "$FL: $STATUS"

step "traffic: a service published from another VPC, an interface endpoint in the demo VPC"
PVPC=$(awsd ec2 create-vpc --cidr-block 127.64.0.0/16 --query Vpc.VpcId --output text)
PSUB=$(awsd ec2 create-subnet --vpc-id "$PVPC" --cidr-block 127.64.1.0/24 --availability-zone us-east-1a \
  --query Subnet.SubnetId --output text)
LB=$(awsd elbv2 create-load-balancer --name web-nlb --type network --scheme internal --subnets "$PSUB" \
  --query 'LoadBalancers[0].LoadBalancerArn' --output text)
TG=$(awsd elbv2 create-target-group --name web --protocol TCP --port 9000 --vpc-id "$PVPC" --target-type ip \
  --health-check-interval-seconds 5 --health-check-timeout-seconds 2 --healthy-threshold-count 2 \
  --query 'TargetGroups[0].TargetGroupArn' --output text)
awsd elbv2 register-targets --target-group-arn "$TG" --targets Id=127.64.200.10,Port=9000
awsd elbv2 create-listener --load-balancer-arn "$LB" --protocol TCP --port 9000 \
  --default-actions Type=forward,TargetGroupArn="$TG" >/dev/null
SVC_NAME=$(awsd ec2 create-vpc-endpoint-service-configuration --network-load-balancer-arns "$LB" \
  --no-acceptance-required --query 'ServiceConfiguration.ServiceName' --output text)
SG=$(awsd ec2 create-security-group --group-name clients --description "127.0.0.1 only" --vpc-id "$VPC" \
  --query GroupId --output text)
awsd ec2 authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 9000 --cidr 127.0.0.1/32 >/dev/null
EP=$(awsd ec2 create-vpc-endpoint --vpc-endpoint-type Interface --vpc-id "$VPC" --service-name "$SVC_NAME" \
  --subnet-ids "$SUB_A" --security-group-ids "$SG" --query VpcEndpoint.VpcEndpointId --output text)
ENI=$(awsd ec2 describe-vpc-endpoints --vpc-endpoint-ids "$EP" --query 'VpcEndpoints[0].NetworkInterfaceIds[0]' \
  --output text)
EP_IP=$(awsd ec2 describe-network-interfaces --network-interface-ids "$ENI" \
  --query 'NetworkInterfaces[0].PrivateIpAddress' --output text)
PTOKEN=$(as_demo "$UNDERPASS" admin create-agent-join-token --vpc-id "$PVPC" --availability-zone us-east-1a \
  --output json | json '["JoinToken"]')
CTOKEN=$(as_demo "$UNDERPASS" admin create-agent-join-token --vpc-id "$VPC" --availability-zone us-east-1a \
  --output json | json '["JoinToken"]')
UNDERPASS_LOG=warn "$UNDERPASS" agent --server "$URL" --data-dir "$WORK/agent-provider" --join-token "$PTOKEN" \
  >/dev/null 2>&1 &
PIDS+=($!)
# The demo VPC's agent writes its flow logs to the bucket on moto.
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing UNDERPASS_LOG=warn \
  "$UNDERPASS" agent --server "$URL" --data-dir "$WORK/agent-demo" --join-token "$CTOKEN" \
  --flow-logs-s3-endpoint "$S3_URL" >"$WORK/agent-demo.log" 2>&1 &
DEMO_AGENT=$!
PIDS+=($DEMO_AGENT)
mkdir -p "$WORK/www" && echo "hello from the provider" >"$WORK/www/index.html"
python3 -m http.server --bind 127.64.200.10 --directory "$WORK/www" 9000 >/dev/null 2>&1 &
PIDS+=($!)
# Wait until the provider's agent reports the target healthy: a request sent before its gateway is
# up is refused downstream, and the flow log records that refusal as a REJECT from 127.0.0.1.
# Only 127.0.0.9's REJECTs are expected below.
for _ in $(seq 1 60); do
  STATE=$(awsd elbv2 describe-target-health --target-group-arn "$TG" \
    --query 'TargetHealthDescriptions[0].TargetHealth.State' --output text)
  [ "$STATE" = healthy ] && break
  sleep 0.5
done
[ "$STATE" = healthy ] || fail "the target never became healthy (state: $STATE)"
code() { curl -s -o /dev/null -m 2 -w '%{http_code}' --interface "$1" "http://$EP_IP:9000/" || true; }
for _ in $(seq 1 120); do [ "$(code 127.0.0.1)" = 200 ] && break; sleep 0.25; done
[ "$(code 127.0.0.1)" = 200 ] || fail "no 200 through $EP_IP:9000 from 127.0.0.1"
echo "from 127.0.0.1: 200 (ACCEPT)"
for _ in 1 2 3; do
  [ "$(code 127.0.0.9)" = 200 ] && fail "the security group let 127.0.0.9 in"
done
echo "from 127.0.0.9: refused (REJECT)"

step "flush the open window (SIGUSR1), then list the bucket"
kill -USR1 "$DEMO_AGENT"
for _ in $(seq 1 80); do
  s3 s3 ls s3://vpc-flow-logs-demo --recursive | grep -q '\.log\.gz$' && break
  sleep 0.25
done
s3 s3 ls s3://vpc-flow-logs-demo --recursive | grep '\.log\.gz$' || fail "no flow-log object in the bucket"

step "the seed's Athena query: every TCP REJECT"
QUERY="SELECT interface_id, srcaddr, dstaddr, dstport, protocol, action FROM vpc_flow_logs WHERE action = 'REJECT' AND protocol = 6"
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  "$UNDERPASS" flowlogs query "$QUERY" --destination s3://vpc-flow-logs-demo --s3-endpoint "$S3_URL"
REJECTS=$(AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  "$UNDERPASS" flowlogs query "$QUERY" --destination s3://vpc-flow-logs-demo --s3-endpoint "$S3_URL" --output json)
echo "$REJECTS" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
mine = [r for r in rows if r["srcaddr"] == "127.0.0.9" and r["dstport"] == 9000]
others = [r for r in rows if "127.0.0.9" not in (r["srcaddr"], r["dstaddr"])]
assert mine and not others, rows
' || fail "the REJECTs are not those of 127.0.0.9: $REJECTS"
ACCEPTS=$(AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "$UNDERPASS" flowlogs query \
  "SELECT COUNT(*) AS n FROM vpc_flow_logs WHERE action = 'ACCEPT' AND srcaddr = '127.0.0.1'" \
  --destination s3://vpc-flow-logs-demo --s3-endpoint "$S3_URL" --output json | json '[0]["n"]')
[ "$ACCEPTS" -ge 1 ] || fail "no ACCEPT record of 127.0.0.1"
echo "ACCEPT records from 127.0.0.1: $ACCEPTS"

echo
echo "walkthrough 004: ok"
