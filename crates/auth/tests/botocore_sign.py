#!/usr/bin/env python3
"""Signs requests with the real botocore signer, for tests/botocore.rs.

Reads a JSON list of cases on stdin and writes a JSON list of signed requests on stdout, each
with the method, raw path, raw query, headers (in order, duplicates kept), base64 body, and the
canonical request and string to sign botocore computed.

Case fields:
  name, mode        "header" (SigV4Auth), "presign" (SigV4QueryAuth), "s3-header"
                    (S3SigV4Auth), "s3-presign" (S3SigV4QueryAuth), "ec2-client" (a real EC2
                    client call, captured before it is sent), "ec2-presign-url"
                    (EC2 client generate_presigned_url)
  method, url       the request; the URL may carry a raw query
  headers           [[name, value], ...], repeated names allowed
  params            [[key, value], ...] or null: AWSRequest.params (botocore signs them
                    %20-encoded but its preparer sends a space as '+')
  query_params      [[key, value], ...] or null: appended to the URL with botocore's
                    percent_encode_sequence, as its REST serialisers build query strings
  data              null, {"form": {...}} (botocore form-encodes it) or {"raw": "<text>"}
  region, service, access_key, secret, token (or null), time ("YYYYMMDDTHHMMSSZ")
  expires           for presigning: an int, or any string botocore will put in X-Amz-Expires
  unsigned_payload  header modes: sign UNSIGNED-PAYLOAD instead of the body hash
  tweak             null or a dict of deliberate deviations (see Tweaked below)
  operation, op_params   for the ec2-client modes
"""

import base64
import datetime
import json
import sys
from urllib.parse import urlsplit

import botocore
import botocore.auth
import botocore.session
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence

CAPTURED = {}
_original_string_to_sign = SigV4Auth.string_to_sign


def _capturing_string_to_sign(self, request, canonical_request):
    result = _original_string_to_sign(self, request, canonical_request)
    CAPTURED["canonical_request"] = canonical_request
    CAPTURED["string_to_sign"] = result
    return result


SigV4Auth.string_to_sign = _capturing_string_to_sign


def set_clock(stamp):
    """Makes botocore's signers see `stamp` as the current UTC time."""
    fixed = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    botocore.auth.get_current_datetime = lambda *args, **kwargs: fixed


def tweaked(base, tweak):
    """A subclass of botocore signer `base` that deviates as `tweak` says:
    drop_signed: header names left out of SignedHeaders (they are still sent);
    scope_date: another YYYYMMDD in the credential scope (and the key derived for it);
    terminator: another last scope element than aws4_request;
    lowercase_algorithm: write the algorithm as aws4-hmac-sha256 in the Authorization header.
    """
    tweak = tweak or {}

    class Tweaked(base):
        def headers_to_sign(self, request):
            headers = super().headers_to_sign(request)
            for name in tweak.get("drop_signed", []):
                del headers[name]
            return headers

        def _scope_parts(self, request):
            date = tweak.get("scope_date") or request.context["timestamp"][0:8]
            return [date, self._region_name, self._service_name, tweak.get("terminator", "aws4_request")]

        def scope(self, request):
            return "/".join([self.credentials.access_key] + self._scope_parts(request))

        def credential_scope(self, request):
            return "/".join(self._scope_parts(request))

        def signature(self, string_to_sign, request):
            key = ("AWS4" + self.credentials.secret_key).encode("utf-8")
            for part in self._scope_parts(request):
                key = self._sign(key, part)
            return self._sign(key, string_to_sign, hex=True)

        def _inject_signature_to_request(self, request, signature):
            result = super()._inject_signature_to_request(request, signature)
            if tweak.get("lowercase_algorithm") and "Authorization" in request.headers:
                value = request.headers["Authorization"]
                del request.headers["Authorization"]
                request.headers["Authorization"] = value.replace("AWS4-HMAC-SHA256", "aws4-hmac-sha256", 1)
            return result

    return Tweaked


def host_of(url):
    return botocore.auth._host_from_url(url)


def output(name, method, url, header_items, body):
    parts = urlsplit(url)
    headers = [[k, v.decode("utf-8") if isinstance(v, bytes) else v] for k, v in header_items]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ["Host", host_of(url)])
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode("utf-8")
    elif hasattr(body, "read"):
        body = body.read()
    return {
        "name": name,
        "method": method,
        "path": parts.path,
        "query": parts.query,
        "headers": headers,
        "body_b64": base64.b64encode(body).decode("ascii"),
        "canonical_request": CAPTURED.get("canonical_request"),
        "string_to_sign": CAPTURED.get("string_to_sign"),
    }


def sign_direct(case):
    mode = case["mode"]
    headers = HTTPHeaders()
    for k, v in case.get("headers") or []:
        headers[k] = v  # HTTPHeaders appends: repeated names are kept in order
    data = case.get("data")
    if data is None:
        data = None
    elif "form" in data:
        data = data["form"]
    else:
        data = data["raw"].encode("utf-8")
    url = case["url"]
    if case.get("query_params"):
        url += ("&" if "?" in url else "?") + percent_encode_sequence([tuple(p) for p in case["query_params"]])
    params = case.get("params")
    params = [tuple(p) for p in params] if params else {}
    request = AWSRequest(method=case["method"], url=url, headers=headers, data=data, params=params)
    if case.get("unsigned_payload"):
        request.context["payload_signing_enabled"] = False
    token = case.get("token")
    token_after = (case.get("tweak") or {}).get("token_after_signing")
    creds = Credentials(case["access_key"], case["secret"], None if token_after else token)
    base = {"header": SigV4Auth, "presign": SigV4QueryAuth, "s3-header": S3SigV4Auth, "s3-presign": S3SigV4QueryAuth}[mode]
    # Untweaked cases use botocore's own class, unmodified.
    cls = tweaked(base, case.get("tweak")) if case.get("tweak") else base
    if mode in ("presign", "s3-presign"):
        signer = cls(creds, case["service"], case["region"], expires=case.get("expires", 3600))
    else:
        signer = cls(creds, case["service"], case["region"])
    signer.add_auth(request)
    if token_after:
        request.headers["X-Amz-Security-Token"] = token
    prepared = request.prepare()
    return output(case["name"], request.method, prepared.url, request.headers.items(), prepared.body)


class Captured(Exception):
    """Raised from before-send to stop a real client call once it is signed."""

    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def ec2_client(case):
    session = botocore.session.get_session()
    session.set_credentials(case["access_key"], case["secret"], case.get("token"))
    client = session.create_client("ec2", region_name=case["region"])
    if case["mode"] == "ec2-presign-url":
        url = client.generate_presigned_url(case["operation"], Params=case["op_params"], ExpiresIn=case.get("expires", 3600))
        method = CAPTURED["canonical_request"].split("\n", 1)[0]
        return output(case["name"], method, url, [], b"")

    def stop(request, **kwargs):
        raise Captured(request)

    client.meta.events.register("before-send", stop)
    try:
        getattr(client, case["operation"])(**case["op_params"])
    except Captured as captured:
        request = captured.request
        return output(case["name"], request.method, request.url, request.headers.items(), request.body)
    raise RuntimeError("the EC2 call was not captured before sending")


def main():
    cases = json.load(sys.stdin)
    results = []
    for case in cases:
        CAPTURED.clear()
        set_clock(case["time"])
        if case["mode"].startswith("ec2-"):
            results.append(ec2_client(case))
        else:
            results.append(sign_direct(case))
    json.dump({"botocore_version": botocore.__version__, "signed": results}, sys.stdout)


if __name__ == "__main__":
    main()
