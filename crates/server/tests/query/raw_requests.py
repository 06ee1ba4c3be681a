"""Hand-built, botocore-signed HTTP requests against the Query protocol: GET, and the bad input
of RELIABILITY section A items 5 (repeated auth headers), 7 (parameter explosion), 8 (invalid
UTF-8) and 20 (a malformed request on a keep-alive connection).

Run by crates/server/tests/query_protocol.rs with the endpoint and an account's root key in
the environment. Exits non-zero, naming the check, on the first failure.
"""

import os
import re
import socket
import sys
import time
import urllib.parse

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ENDPOINT = os.environ["UP_ENDPOINT"]
HOST = urllib.parse.urlparse(ENDPOINT).netloc
KEY = (os.environ["UP_PROVIDER_KEY"], os.environ["UP_PROVIDER_SECRET"])
FORM = "application/x-www-form-urlencoded; charset=utf-8"
CHECKS = 0


def check(cond, what):
    global CHECKS
    CHECKS += 1
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def signed(method, query, body=b"", service="ec2", creds=KEY):
    """(headers, body) of a SigV4-signed request, signed by botocore."""
    url = ENDPOINT + "/" + (("?" + query) if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": FORM} if body else {})
    SigV4Auth(Credentials(*creds), service, "us-east-1").add_auth(req)
    headers = [("Host", HOST)] + [(k, v) for k, v in req.headers.items()]
    return headers, body


def raw(method, query, headers, body):
    path = "/" + (("?" + query) if query else "")
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class Conn:
    def __init__(self):
        host, port = HOST.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=10)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def response(self):
        """(status, headers dict lower-cased, body) of the next response."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body.decode("utf-8", "replace")

    def closed(self):
        """True if the server closes the connection (EOF) with nothing more to read."""
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return self.buf == b""
                self.buf += chunk
        except (ConnectionResetError, socket.timeout):
            return False

    def close(self):
        self.s.close()


def call(method, query, body=b"", service="ec2", headers=None):
    h, b = signed(method, query, body, service)
    if headers is not None:
        h = headers(h)
    c = Conn()
    t = time.monotonic()
    c.send(raw(method, query, h, b))
    status, hdrs, text = c.response()
    elapsed = time.monotonic() - t
    c.close()
    return status, hdrs, text, elapsed


def code_of(text):
    m = re.search(r"<Code>([^<]*)</Code>", text)
    return m.group(1) if m else None


def form(pairs):
    return urllib.parse.urlencode(pairs).encode()


def main():
    ec2 = boto3.client(
        "ec2",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=KEY[0],
        aws_secret_access_key=KEY[1],
        config=Config(retries={"max_attempts": 1}),
    )
    vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]

    # GET with the parameters in the (signed) query string.
    q = urllib.parse.urlencode({"Action": "DescribeVpcs", "Version": "2016-11-15", "VpcId.1": vpc})
    status, hdrs, text, _ = call("GET", q)
    check(status == 200, f"GET {status} {text}")
    check(hdrs["content-type"].startswith("text/xml"), hdrs)
    check('<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' in text, text)
    check(f"<vpcId>{vpc}</vpcId>" in text and "<requestId>" in text, text)
    # A Query-service answer has its Result wrapper and ResponseMetadata.
    status, _, text, _ = call("POST", "", form({"Action": "GetCallerIdentity", "Version": "2011-06-15"}), "sts")
    check(status == 200 and "<GetCallerIdentityResult><Account>" in text, text)
    check(re.search(r"<ResponseMetadata><RequestId>[0-9a-f-]{36}</RequestId></ResponseMetadata>", text), text)
    # A wrong Version, a missing Action, an ELBv2 error shape.
    status, _, text, _ = call("POST", "", form({"Action": "DescribeVpcs", "Version": "2014-01-01"}))
    check(status == 400 and code_of(text) == "NoSuchVersion", text)
    status, _, text, _ = call("POST", "", form({"Version": "2016-11-15"}))
    check(status == 400 and code_of(text) == "MissingAction", text)
    status, _, text, _ = call(
        "POST", "", form({"Action": "DescribeLoadBalancers", "Version": "2015-12-01", "Bogus": "1"}),
        "elasticloadbalancing",
    )
    check(status == 400 and "<ErrorResponse xmlns=" in text and "<Type>Sender</Type>" in text, text)
    check(code_of(text) == "ValidationError", text)
    status, _, text, _ = call("POST", "", form({"Action": "DescribeVpcs", "Version": "2016-11-15", "Bogus": "1"}))
    check(status == 400 and code_of(text) == "UnknownParameter" and "<Response><Errors>" in text, text)

    # Item 5: two Authorization or two X-Amz-Date headers: 400 before authentication, and the
    # connection is closed (nothing pipelined after it is parsed).
    ok_body = form({"Action": "DescribeVpcs", "Version": "2016-11-15"})
    for name in ("Authorization", "X-Amz-Date"):
        h, b = signed("POST", "", ok_body)
        dup = h + [(k, v) for k, v in h if k == name]
        good_h, good_b = signed("POST", "", ok_body)
        c = Conn()
        c.send(raw("POST", "", dup, b) + raw("POST", "", good_h, good_b))
        status, hdrs, text, = c.response()
        check(status == 400, f"two {name}: {status} {text}")
        check(code_of(text) in ("InvalidParameterValue", "IncompleteSignature"), text)
        check(hdrs.get("connection", "").lower() == "close", f"two {name}: {hdrs}")
        check(c.closed(), f"two {name}: the pipelined request was answered")
        c.close()

    # Item 7: parameter explosion, refused quickly.
    cases = [
        ("100,000 parameters", b"Action=DescribeVpcs&Version=2016-11-15&" + b"&".join(b"P%d=1" % i for i in range(100_000)), "ec2", "InvalidParameterValue"),
        ("Filter.10000.Value.10000", form({"Action": "DescribeVpcs", "Version": "2016-11-15", "Filter.10000.Name": "cidr", "Filter.10000.Value.10000": "x"}), "ec2", "InvalidParameterValue"),
        ("1,000 values", form([("Action", "DescribeVpcs"), ("Version", "2016-11-15"), ("Filter.1.Name", "cidr")] + [(f"Filter.1.Value.{i}", "x") for i in range(1, 998)]), "ec2", "InvalidParameterValue"),
        ("a 64 KiB value", form({"Action": "DescribeVpcs", "Version": "2016-11-15", "Filter.1.Name": "cidr", "Filter.1.Value.1": "x" * (64 * 1024 + 1)}), "ec2", "InvalidParameterValue"),
        ("member 1001", form({"Action": "DescribeLoadBalancers", "Version": "2015-12-01", "Names.member.1001": "x"}), "elasticloadbalancing", "ValidationError"),
        ("a deep name", form({"Action": "DescribeVpcs", "Version": "2016-11-15", ".".join(["Filter"] + ["1"] * 40): "x"}), "ec2", "UnknownParameter"),
    ]
    for what, body, service, want in cases:
        status, _, text, elapsed = call("POST", "", body, service)
        check(status == 400 and code_of(text) == want, f"{what}: {status} {text[:300]}")
        # Wall time of the whole signed round trip (SHA-256 of the body included), on a
        # loaded 2-core CI machine: generous; the decoder's own bound is its unit test.
        check(elapsed < 1.0, f"{what}: {elapsed:.3f}s")
        print(f"item 7: {what}: {code_of(text)} in {elapsed * 1000:.1f} ms")

    # Item 8: invalid UTF-8 (raw, percent-encoded, overlong, a surrogate) is refused...
    for bad in (b"\xff", b"%FF", b"%C0%AF", b"%ED%A0%80", b"%E2%82"):
        body = b"Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=cidr&Filter.1.Value.1=" + bad
        status, hdrs, text, _ = call("POST", "", body)
        check(status == 400 and code_of(text) == "InvalidParameterValue", f"{bad!r}: {status} {text}")
        check("not valid UTF-8" in text, text)
    # ... and valid UTF-8 is stored byte for byte: NFC and NFD, RTL override, ZWJ, emoji.
    sg = ec2.create_security_group(GroupName="unicode", Description="u", VpcId=vpc)["GroupId"]
    tricky = "caf\u00e9 cafe\u0301 \u202eevil \U0001F469\u200d\U0001F4BB \U0001F980 <&>"
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": tricky}]}],
    )
    got = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"][0]["IpRanges"][0]
    check(got["Description"] == tricky, f"round trip {got!r}")

    # Item 20: a malformed request on a keep-alive connection closes it; a new one works.
    h, b = signed("POST", "", b"Action=DescribeVpcs&Version=2016-11-15&VpcId.1=%zz")
    good_h, good_b = signed("POST", "", ok_body)
    c = Conn()
    c.send(raw("POST", "", h, b) + raw("POST", "", good_h, good_b))
    status, hdrs, text = c.response()
    check(status == 400 and code_of(text) == "InvalidParameterValue", f"malformed body: {text}")
    check(hdrs.get("connection", "").lower() == "close", f"malformed body: {hdrs}")
    check(c.closed(), "the request pipelined after a malformed body was answered")
    c.close()
    # Broken HTTP framing (a header line without a colon), then a valid request.
    c = Conn()
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n" + raw("POST", "", good_h, good_b))
    status, hdrs, text = c.response()
    check(status == 400, f"broken framing: {status}")
    check(c.closed(), "the request pipelined after broken framing was answered")
    c.close()
    # An authenticated error keeps the connection: two requests on one connection.
    h1, b1 = signed("POST", "", form({"Action": "DescribeVpcs", "Version": "2016-11-15", "VpcId.1": "vpc-0123456789abcdef0"}))
    h2, b2 = signed("POST", "", ok_body)
    c = Conn()
    c.send(raw("POST", "", h1, b1) + raw("POST", "", h2, b2))
    s1, _, t1 = c.response()
    s2, _, t2 = c.response()
    check(s1 == 400 and code_of(t1) == "InvalidVpcID.NotFound" and s2 == 200, f"{s1} {t1} {s2}")
    c.close()
    status, _, text, _ = call("POST", "", ok_body)
    check(status == 200 and vpc in text, "a new connection works")

    print(f"raw requests: {CHECKS} checks passed")


if __name__ == "__main__":
    main()
