//! Condition operators: every family, IfExists, Null, ForAnyValue/ForAllValues, and how keys,
//! operators and values combine. aws:SourceIp and policy variables: `iam_variables.rs`.

mod iam_support;

use iam_support::*;

#[test]
fn string_operators() {
    run(&[
        (
            r#"{"StringEquals": {"ec2:Region": "us-east-1"}}"#,
            &[("ec2:Region", &["us-east-1"])],
            true,
        ),
        (
            r#"{"StringEquals": {"ec2:Region": "us-east-1"}}"#,
            &[("ec2:Region", &["US-EAST-1"])],
            false,
        ),
        (
            r#"{"StringEquals": {"ec2:Region": ["eu-west-1", "us-east-1"]}}"#,
            &[("ec2:Region", &["us-east-1"])],
            true,
        ),
        (
            r#"{"StringEquals": {"ec2:Region": "us-east-1"}}"#,
            &[],
            false,
        ),
        (
            r#"{"StringEquals": {"ec2:Region": "us-*"}}"#,
            &[("ec2:Region", &["us-east-1"])],
            false,
        ),
        (r#"{"StringEquals": {"k": ""}}"#, &[("k", &[""])], true),
        (r#"{"StringEquals": {"k": 42}}"#, &[("k", &["42"])], true),
        (
            r#"{"StringEquals": {"k": true}}"#,
            &[("k", &["true"])],
            true,
        ),
        (
            r#"{"StringNotEquals": {"ec2:Region": "us-east-1"}}"#,
            &[("ec2:Region", &["eu-west-1"])],
            true,
        ),
        (
            r#"{"StringNotEquals": {"ec2:Region": "us-east-1"}}"#,
            &[("ec2:Region", &["us-east-1"])],
            false,
        ),
        (
            r#"{"StringNotEquals": {"ec2:Region": ["a", "b"]}}"#,
            &[("ec2:Region", &["b"])],
            false,
        ),
        (
            r#"{"StringNotEquals": {"ec2:Region": "us-east-1"}}"#,
            &[],
            true,
        ), // missing key: negated = true
        (
            r#"{"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}"#,
            &[],
            true,
        ),
        (
            r#"{"StringEqualsIgnoreCase": {"k": "Ünïcode"}}"#,
            &[("k", &["üNÏCODE"])],
            true,
        ),
        (
            r#"{"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}"#,
            &[],
            false,
        ),
        (
            r#"{"StringNotEqualsIgnoreCase": {"aws:username": "bob"}}"#,
            &[],
            true,
        ),
        (
            r#"{"StringLike": {"s3:prefix": "home/*"}}"#,
            &[("s3:prefix", &["home/a/b"])],
            true,
        ),
        (
            r#"{"StringLike": {"s3:prefix": "home/?"}}"#,
            &[("s3:prefix", &["home/ab"])],
            false,
        ),
        (
            r#"{"StringLike": {"s3:prefix": "Home/*"}}"#,
            &[("s3:prefix", &["home/a"])],
            false,
        ),
        (
            r#"{"StringLike": {"s3:prefix": "*"}}"#,
            &[("s3:prefix", &[""])],
            true,
        ),
        (r#"{"StringLike": {"s3:prefix": "*"}}"#, &[], false),
        (
            r#"{"StringNotLike": {"s3:prefix": ["tmp/*", "*.log"]}}"#,
            &[("s3:prefix", &["a.log"])],
            false,
        ),
        (
            r#"{"StringNotLike": {"s3:prefix": ["tmp/*", "*.log"]}}"#,
            &[("s3:prefix", &["a.txt"])],
            true,
        ),
        (r#"{"StringNotLike": {"s3:prefix": "tmp/*"}}"#, &[], true),
        // Key names are not case-sensitive, on either side.
        (
            r#"{"StringEquals": {"EC2:REGION": "us-east-1"}}"#,
            &[("ec2:region", &["us-east-1"])],
            true,
        ),
    ]);
}

#[test]
fn numeric_operators() {
    run(&[
        (r#"{"NumericEquals": {"n": 10}}"#, &[("n", &["10"])], true),
        (
            r#"{"NumericEquals": {"n": "10"}}"#,
            &[("n", &["10.0"])],
            true,
        ),
        (r#"{"NumericEquals": {"n": 10}}"#, &[("n", &["11"])], false),
        (r#"{"NumericEquals": {"n": 10}}"#, &[("n", &["ten"])], false),
        (
            r#"{"NumericNotEquals": {"n": 10}}"#,
            &[("n", &["11"])],
            true,
        ),
        (
            r#"{"NumericNotEquals": {"n": 10}}"#,
            &[("n", &["10"])],
            false,
        ),
        (r#"{"NumericNotEquals": {"n": 10}}"#, &[], true),
        (
            r#"{"NumericLessThan": {"n": 10}}"#,
            &[("n", &["9.5"])],
            true,
        ),
        (
            r#"{"NumericLessThan": {"n": 10}}"#,
            &[("n", &["10"])],
            false,
        ),
        (
            r#"{"NumericLessThanEquals": {"n": 10}}"#,
            &[("n", &["10"])],
            true,
        ),
        (
            r#"{"NumericGreaterThan": {"n": -1}}"#,
            &[("n", &["0"])],
            true,
        ),
        (
            r#"{"NumericGreaterThan": {"n": 1e3}}"#,
            &[("n", &["1000"])],
            false,
        ),
        (
            r#"{"NumericGreaterThanEquals": {"n": 1e3}}"#,
            &[("n", &["1000"])],
            true,
        ),
        (
            r#"{"NumericLessThan": {"n": [1, 100]}}"#,
            &[("n", &["50"])],
            true,
        ), // values OR
        (r#"{"NumericLessThan": {"n": 10}}"#, &[], false),
        (r#"{"NumericLessThanIfExists": {"n": 10}}"#, &[], true),
        (
            r#"{"NumericLessThanIfExists": {"n": 10}}"#,
            &[("n", &["11"])],
            false,
        ),
    ]);
}

#[test]
fn date_operators() {
    run(&[
        (
            r#"{"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2029-12-31T23:59:59Z"])],
            true,
        ),
        (
            r#"{"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2030-01-01T00:00:00Z"])],
            false,
        ),
        (
            r#"{"DateLessThanEquals": {"aws:CurrentTime": "2030-01-01"}}"#,
            &[("aws:CurrentTime", &["2030-01-01T00:00:00Z"])],
            true,
        ),
        (
            r#"{"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T02:00:00+02:00"}}"#,
            &[("aws:CurrentTime", &["2030-01-01T00:00:01Z"])],
            true,
        ),
        (
            r#"{"DateGreaterThanEquals": {"aws:EpochTime": 1893456000}}"#,
            &[("aws:EpochTime", &["1893456000"])],
            true,
        ),
        (
            r#"{"DateGreaterThan": {"aws:EpochTime": "2030-01-01T00:00:00Z"}}"#,
            &[("aws:EpochTime", &["1893455999"])],
            false,
        ),
        (
            r#"{"DateEquals": {"aws:CurrentTime": "1893456000"}}"#,
            &[("aws:CurrentTime", &["2030-01-01T00:00:00Z"])],
            true,
        ),
        (
            r#"{"DateNotEquals": {"aws:CurrentTime": "2030-01-01"}}"#,
            &[("aws:CurrentTime", &["2030-01-02"])],
            true,
        ),
        (
            r#"{"DateNotEquals": {"aws:CurrentTime": "2030-01-01"}}"#,
            &[],
            true,
        ),
        (
            r#"{"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}"#,
            &[("aws:CurrentTime", &["garbage"])],
            false,
        ),
        (
            r#"{"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}"#,
            &[],
            false,
        ),
        // AWS's example: access only within a window.
        (
            r#"{"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"}, "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}}"#,
            &[("aws:CurrentTime", &["2020-05-15T12:00:00Z"])],
            true,
        ),
        (
            r#"{"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"}, "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}}"#,
            &[("aws:CurrentTime", &["2020-07-01T00:00:00Z"])],
            false,
        ),
    ]);
}

#[test]
fn bool_binary_arn_null() {
    run(&[
        (
            r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
            &[("aws:SecureTransport", &["true"])],
            true,
        ),
        (
            r#"{"Bool": {"aws:SecureTransport": true}}"#,
            &[("aws:SecureTransport", &["TRUE"])],
            true,
        ),
        (
            r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
            &[("aws:SecureTransport", &["false"])],
            false,
        ),
        (
            r#"{"Bool": {"aws:SecureTransport": "false"}}"#,
            &[("aws:SecureTransport", &["yes"])],
            false,
        ),
        (r#"{"Bool": {"aws:SecureTransport": "false"}}"#, &[], false),
        (
            r#"{"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}"#,
            &[],
            true,
        ),
        (
            r#"{"BinaryEquals": {"b": "AAEC"}}"#,
            &[("b", &["AAEC"])],
            true,
        ),
        (
            r#"{"BinaryEquals": {"b": "AAEC"}}"#,
            &[("b", &["AAED"])],
            false,
        ),
        (
            r#"{"BinaryEquals": {"b": "AAEC"}}"#,
            &[("b", &["%%%"])],
            false,
        ),
        (
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:111122223333:vpc-endpoint/*"}}"#,
            &[("aws:SourceArn", &[EP])],
            true,
        ),
        (
            r#"{"ArnEquals": {"aws:SourceArn": "arn:aws:ec2:*:111122223333:vpc-endpoint/*"}}"#,
            &[("aws:SourceArn", &[EP])],
            true,
        ),
        (
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:444455556666:*"}}"#,
            &[("aws:SourceArn", &[EP])],
            false,
        ),
        // Per component: `*` in the region cannot absorb the account.
        (
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:111122223333:*"}}"#,
            &[("aws:SourceArn", &["arn:aws:ec2:r:1:111122223333:x"])],
            false,
        ),
        (
            r#"{"ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:*:*"}}"#,
            &[("aws:SourceArn", &["not-an-arn"])],
            false,
        ),
        (
            r#"{"ArnNotLike": {"aws:SourceArn": "arn:aws:ec2:*:444455556666:*"}}"#,
            &[("aws:SourceArn", &[EP])],
            true,
        ),
        (
            r#"{"ArnNotEquals": {"aws:SourceArn": "arn:aws:ec2:*:111122223333:*"}}"#,
            &[("aws:SourceArn", &[EP])],
            false,
        ),
        (
            r#"{"ArnNotEquals": {"aws:SourceArn": "arn:aws:ec2:*:111122223333:*"}}"#,
            &[],
            true,
        ),
        (r#"{"Null": {"aws:TokenIssueTime": "true"}}"#, &[], true),
        (
            r#"{"Null": {"aws:TokenIssueTime": "true"}}"#,
            &[("aws:TokenIssueTime", &["2024-01-01T00:00:00Z"])],
            false,
        ),
        (
            r#"{"Null": {"aws:TokenIssueTime": false}}"#,
            &[("aws:TokenIssueTime", &["2024-01-01T00:00:00Z"])],
            true,
        ),
        (r#"{"Null": {"aws:TokenIssueTime": "false"}}"#, &[], false),
        (r#"{"Null": {"k": "true"}}"#, &[("k", &[])], true), // an empty set counts as absent
    ]);
}

#[test]
fn set_qualifiers_and_combination() {
    run(&[
        (
            r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#,
            &[("aws:TagKeys", &["env"])],
            true,
        ),
        (
            r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#,
            &[("aws:TagKeys", &["env", "owner"])],
            false,
        ),
        (
            r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#,
            &[],
            true,
        ), // empty set: true
        (
            r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#,
            &[("aws:TagKeys", &[])],
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#,
            &[("aws:TagKeys", &["owner", "team"])],
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#,
            &[("aws:TagKeys", &["owner"])],
            false,
        ),
        (
            r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#,
            &[],
            false,
        ), // empty set: false
        (
            r#"{"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "env"}}"#,
            &[],
            true,
        ),
        (
            r#"{"ForAnyValue:StringLike": {"aws:TagKeys": "env*"}}"#,
            &[("aws:TagKeys", &["x", "environment"])],
            true,
        ),
        (
            r#"{"ForAllValues:StringLike": {"aws:TagKeys": "env*"}}"#,
            &[("aws:TagKeys", &["x", "environment"])],
            false,
        ),
        (
            r#"{"ForAllValues:StringNotEquals": {"aws:TagKeys": "secret"}}"#,
            &[("aws:TagKeys", &["a", "b"])],
            true,
        ),
        (
            r#"{"ForAllValues:StringNotEquals": {"aws:TagKeys": "secret"}}"#,
            &[("aws:TagKeys", &["a", "secret"])],
            false,
        ),
        (
            r#"{"ForAnyValue:StringNotEquals": {"aws:TagKeys": "secret"}}"#,
            &[("aws:TagKeys", &["a", "secret"])],
            true,
        ),
        (
            r#"{"ForAnyValue:NumericGreaterThan": {"n": 5}}"#,
            &[("n", &["1", "9"])],
            true,
        ),
        (
            r#"{"ForAllValues:NumericGreaterThan": {"n": 5}}"#,
            &[("n", &["1", "9"])],
            false,
        ),
        // Without a qualifier a positive operator needs one request value; a negated one needs all.
        (
            r#"{"StringEquals": {"aws:TagKeys": "env"}}"#,
            &[("aws:TagKeys", &["x", "env"])],
            true,
        ),
        (
            r#"{"StringNotEquals": {"aws:TagKeys": "env"}}"#,
            &[("aws:TagKeys", &["x", "env"])],
            false,
        ),
        // Keys AND, operators AND, values OR.
        (
            r#"{"StringEquals": {"a": "1", "b": "2"}}"#,
            &[("a", &["1"]), ("b", &["2"])],
            true,
        ),
        (
            r#"{"StringEquals": {"a": "1", "b": "2"}}"#,
            &[("a", &["1"]), ("b", &["3"])],
            false,
        ),
        (
            r#"{"StringEquals": {"a": "1"}, "StringLike": {"b": "x*"}}"#,
            &[("a", &["1"]), ("b", &["xy"])],
            true,
        ),
        (
            r#"{"StringEquals": {"a": "1"}, "StringLike": {"b": "x*"}}"#,
            &[("a", &["1"]), ("b", &["y"])],
            false,
        ),
        (
            r#"{"StringEquals": {"a": ["0", "1"]}}"#,
            &[("a", &["1"])],
            true,
        ),
        (r#"{}"#, &[], true),
    ]);
}
