#!/usr/bin/env bash
# Seed 003 with the real AWS CLI: a provider publishes a service behind a network load balancer,
# a consumer in another network (same address range) reaches it through an interface endpoint
# once the provider accepts the connection, and a reject cuts it again.
#
# Starts its own `underpass server --json`, two `underpass agent`s and a backend on loopback
# (127.60.x.x provider, 127.70.x.x consumer), all stopped on exit. Needs `aws` (AWS CLI),
# python3 and curl. Usage:
#   scripts/aws-walkthrough-003.sh            # builds nothing: uses $UNDERPASS or target/debug/underpass
#   UNDERPASS=/path/to/underpass WORK=/tmp/wt scripts/aws-walkthrough-003.sh
# Prints each step; the last line is "walkthrough 003: ok" when every check passed.
set -euo pipefail
# shellcheck source=lib/walkthrough.sh
source "$(dirname "$0")/lib/walkthrough.sh"

step "underpass server --json"
start_server
echo "$READY" | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: d[k] for k in ("api_url", "account_id", "region")})'
PROVIDER_KEYS=$(as_admin "$UNDERPASS" admin create-account --account-id 333333333333 --name provider --output json)
CONSUMER_KEYS=$(as_admin "$UNDERPASS" admin create-account --account-id 444444444444 --name consumer --output json)
as_provider() {
  AWS_ACCESS_KEY_ID=$(echo "$PROVIDER_KEYS" | json '["AccessKey"]["AccessKeyId"]') \
  AWS_SECRET_ACCESS_KEY=$(echo "$PROVIDER_KEYS" | json '["AccessKey"]["SecretAccessKey"]') "$@"
}
as_consumer() {
  AWS_ACCESS_KEY_ID=$(echo "$CONSUMER_KEYS" | json '["AccessKey"]["AccessKeyId"]') \
  AWS_SECRET_ACCESS_KEY=$(echo "$CONSUMER_KEYS" | json '["AccessKey"]["SecretAccessKey"]') "$@"
}
aws_p() { as_provider aws --endpoint-url "$URL" "$@"; }
aws_c() { as_consumer aws --endpoint-url "$URL" "$@"; }

step "provider: network, load balancer, endpoint service"
PVPC=$(aws_p ec2 create-vpc --cidr-block 127.60.0.0/16 --query Vpc.VpcId --output text)
PSUB=$(aws_p ec2 create-subnet --vpc-id "$PVPC" --cidr-block 127.60.1.0/24 --availability-zone us-east-1a \
  --query Subnet.SubnetId --output text)
LB=$(aws_p elbv2 create-load-balancer --name web-nlb --type network --scheme internal --subnets "$PSUB" \
  --query 'LoadBalancers[0].LoadBalancerArn' --output text)
TG=$(aws_p elbv2 create-target-group --name web --protocol TCP --port 9000 --vpc-id "$PVPC" --target-type ip \
  --query 'TargetGroups[0].TargetGroupArn' --output text)
aws_p elbv2 register-targets --target-group-arn "$TG" --targets Id=127.60.200.10,Port=9000
aws_p elbv2 create-listener --load-balancer-arn "$LB" --protocol TCP --port 9000 \
  --default-actions Type=forward,TargetGroupArn="$TG" --query 'Listeners[0].ListenerArn' --output text
read -r SVC SVC_NAME < <(aws_p ec2 create-vpc-endpoint-service-configuration --network-load-balancer-arns "$LB" \
  --acceptance-required --query 'ServiceConfiguration.[ServiceId,ServiceName]' --output text)
echo "$SVC $SVC_NAME"
aws_p ec2 modify-vpc-endpoint-service-permissions --service-id "$SVC" \
  --add-allowed-principals arn:aws:iam::444444444444:root

step "consumer: find the service, network, security group, endpoint"
FOUND=$(aws_c ec2 describe-vpc-endpoint-services --service-names "$SVC_NAME" --query 'ServiceNames[0]' --output text)
[ "$FOUND" = "$SVC_NAME" ] || fail "the consumer cannot see $SVC_NAME (got $FOUND)"
CVPC=$(aws_c ec2 create-vpc --cidr-block 127.70.0.0/16 --query Vpc.VpcId --output text)
CSUB=$(aws_c ec2 create-subnet --vpc-id "$CVPC" --cidr-block 127.70.1.0/24 --availability-zone us-east-1a \
  --query Subnet.SubnetId --output text)
SG=$(aws_c ec2 create-security-group --group-name clients --description "who may use the endpoint" \
  --vpc-id "$CVPC" --query GroupId --output text)
aws_c ec2 authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 9000 --cidr 127.0.0.0/8 >/dev/null
DEFAULT_SG=$(aws_c ec2 describe-security-groups --filters Name=vpc-id,Values="$CVPC" Name=group-name,Values=default \
  --query 'SecurityGroups[0].GroupName' --output text)
[ "$DEFAULT_SG" = default ] || fail "no default security group in $CVPC"
EP=$(aws_c ec2 create-vpc-endpoint --vpc-endpoint-type Interface --vpc-id "$CVPC" --service-name "$SVC_NAME" \
  --subnet-ids "$CSUB" --security-group-ids "$SG" --query VpcEndpoint.VpcEndpointId --output text)
STATE=$(aws_c ec2 describe-vpc-endpoints --vpc-endpoint-ids "$EP" --query 'VpcEndpoints[0].State' --output text)
[ "$STATE" = pendingAcceptance ] || fail "endpoint $EP is $STATE"
ENI=$(aws_c ec2 describe-vpc-endpoints --vpc-endpoint-ids "$EP" --query 'VpcEndpoints[0].NetworkInterfaceIds[0]' --output text)
EP_IP=$(aws_c ec2 describe-network-interfaces --network-interface-ids "$ENI" \
  --query 'NetworkInterfaces[0].PrivateIpAddress' --output text)
echo "endpoint $EP at $EP_IP"

step "agents and the backend"
PTOKEN=$(as_provider "$UNDERPASS" admin create-agent-join-token --vpc-id "$PVPC" --availability-zone us-east-1a \
  --output json | json '["JoinToken"]')
CTOKEN=$(as_consumer "$UNDERPASS" admin create-agent-join-token --vpc-id "$CVPC" --availability-zone us-east-1a \
  --output json | json '["JoinToken"]')
UNDERPASS_LOG=warn "$UNDERPASS" agent --server "$URL" --data-dir "$WORK/agent-provider" --join-token "$PTOKEN" >/dev/null &
PIDS+=($!)
UNDERPASS_LOG=warn "$UNDERPASS" agent --server "$URL" --data-dir "$WORK/agent-consumer" --join-token "$CTOKEN" >/dev/null &
PIDS+=($!)
mkdir -p "$WORK/www" && echo "hello from the provider" >"$WORK/www/index.html"
python3 -m http.server --bind 127.60.200.10 --directory "$WORK/www" 9000 >/dev/null 2>&1 &
PIDS+=($!)

code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$EP_IP:9000/" || true; }
wait_for() { # wait_for WANT SECONDS
  for _ in $(seq 1 $(($2 * 4))); do [ "$(code)" = "$1" ] && return 0; sleep 0.25; done
  return 1
}

step "pending: the endpoint carries nothing"
for _ in 1 2 3 4 5 6 7 8; do  # the consumer agent comes up meanwhile
  [ "$(code)" = 200 ] && fail "a pending endpoint carried a request"
  sleep 0.25
done
PENDING=$(aws_p ec2 describe-vpc-endpoint-connections \
  --query "VpcEndpointConnections[?VpcEndpointId=='$EP'].VpcEndpointState | [0]" --output text)
[ "$PENDING" = pendingAcceptance ] || fail "connection is $PENDING"

step "the provider accepts: curl through the endpoint"
aws_p ec2 accept-vpc-endpoint-connections --service-id "$SVC" --vpc-endpoint-ids "$EP" >/dev/null
wait_for 200 30 || fail "no 200 through $EP_IP:9000 within 30 s of acceptance"
BODY=$(curl -s -m 2 "http://$EP_IP:9000/")
[ "$BODY" = "hello from the provider" ] || fail "unexpected body: $BODY"
echo "curl http://$EP_IP:9000/ -> 200 ($BODY)"
HEALTH=$(aws_p elbv2 describe-target-health --target-group-arn "$TG" \
  --query 'TargetHealthDescriptions[0].Target.Id' --output text)
[ "$HEALTH" = 127.60.200.10 ] || fail "target health lists $HEALTH"

step "the provider rejects: the endpoint is cut"
aws_p ec2 reject-vpc-endpoint-connections --service-id "$SVC" --vpc-endpoint-ids "$EP" >/dev/null
for _ in $(seq 1 40); do [ "$(code)" != 200 ] && break; sleep 0.25; done
[ "$(code)" != 200 ] || fail "a rejected endpoint still answers"
echo "after reject: $(code)"

echo
echo "walkthrough 003: ok"
