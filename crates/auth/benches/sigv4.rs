//! SigV4 verification of a typical signed request (a Query-protocol POST as the AWS CLI sends
//! it), the unknown-key path (which must cost the same), and the sign side.
#![allow(missing_docs)] // criterion_group! generates an undocumented `pub fn benches`
#![allow(clippy::unwrap_used, clippy::expect_used)] // fixed inputs; a failure is a bench bug

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use time::macros::datetime;
use underpass_auth::sigv4::{
    parse_request, sign_request, HttpRequest, PayloadSigning, SigningParams, VerifierConfig,
};

const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn typical(c: &mut Criterion) {
    let body = b"Action=CreateVpcEndpoint&Version=2016-11-15&VpcId=vpc-0123456789abcdef0&ServiceName=com.underpass.vpce.us-east-1.vpce-svc-0123456789abcdef0&SubnetId.1=subnet-0123456789abcdef0&SecurityGroupId.1=sg-0123456789abcdef0&VpcEndpointType=Interface";
    let t = datetime!(2026-11-26 12:00 UTC);
    let base: Vec<(&str, &[u8])> = vec![
        ("host", b"127.0.0.1:4510"),
        ("content-type", b"application/x-www-form-urlencoded; charset=utf-8"),
        ("user-agent", b"aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian.12 prompt/off command/ec2.create-vpc-endpoint"),
        ("content-length", b"231"),
    ];
    let params = SigningParams {
        access_key_id: KEY,
        secret_access_key: SECRET,
        session_token: None,
        region: "us-east-1",
        service: "ec2",
        time: t,
        payload: PayloadSigning::Hash,
        path_mode: None,
    };
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &base,
        body,
    };
    let signed = sign_request(&req, &params).expect("sign");
    let mut headers: Vec<(String, Vec<u8>)> = base
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.to_vec()))
        .collect();
    headers.extend(
        signed
            .headers()
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into_bytes())),
    );
    let refs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let incoming = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &refs,
        body,
    };
    let cfg = VerifierConfig::default();

    c.bench_function("sigv4 parse+verify typical EC2 Query request", |b| {
        b.iter(|| {
            let parsed = parse_request(black_box(&incoming), &cfg).expect("parse");
            parsed.verify(SECRET, t).expect("verify")
        })
    });
    let parsed = parse_request(&incoming, &cfg).expect("parse");
    c.bench_function("sigv4 verify/known_key", |b| {
        b.iter(|| parsed.verify(black_box(SECRET), t))
    });
    // What a request costs once its key's signing key for the scope is kept (`DerivedKeys`).
    let kept = parsed.signing_key(SECRET);
    c.bench_function("sigv4 verify/kept_signing_key", |b| {
        b.iter(|| parsed.verify_with_key(black_box(&kept), t))
    });
    c.bench_function("sigv4 verify/unknown_key", |b| {
        b.iter(|| black_box(parsed.reject_unknown_key()))
    });
    c.bench_function("sigv4 sign typical EC2 Query request", |b| {
        b.iter(|| sign_request(black_box(&req), &params).expect("sign"))
    });
}

criterion_group!(benches, typical);
criterion_main!(benches);
