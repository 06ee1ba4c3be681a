//! Action and resource matching through evaluation: wildcards (item 24), NotAction and
//! NotResource (item 26).

mod iam_support;

use iam_support::*;
use underpass_auth::iam::Outcome::{Allow, ExplicitDeny, ImplicitDeny};

/// Item 24: wildcards in Action and Resource, evaluated through an identity policy.
#[test]
fn wildcards() {
    let cases: &[(&str, &str, &str, &str, bool)] = &[
        // (action pattern, resource pattern, action, resource, allowed)
        ("ec2:*VpcEndpoint*", "*", "ec2:CreateVpcEndpoint", EP, true),
        (
            "ec2:*VpcEndpoint*",
            "*",
            "ec2:DescribeVpcEndpointServices",
            EP,
            true,
        ),
        ("ec2:*VpcEndpoint*", "*", "ec2:CreateVpc", EP, false),
        ("ec2:Describe?pc*", "*", "ec2:DescribeVpcs", EP, true),
        (
            "ec2:Describe?pc*",
            "*",
            "ec2:DescribeVpcEndpoints",
            EP,
            true,
        ),
        ("ec2:Describe?pc*", "*", "ec2:DescribeSubnets", EP, false),
        ("ec2:Describe?pc*", "*", "ec2:Describepc", EP, false),
        ("EC2:describevpcs", "*", "ec2:DescribeVpcs", EP, true), // actions ignore case
        ("ec2:*", "*", "ec2", EP, false),
        ("ec2:*", "*", "", EP, false),
        ("*", "*", "", "", true), // a bare * matches the empty string
        ("*", "*", "anything:at/all", "not an arn", true),
        ("*", "arn:aws:ec2:*:*:vpc-endpoint/*", "ec2:x", EP, true),
        (
            "*",
            "arn:aws:ec2:*:*:vpc-endpoint/*",
            "ec2:x",
            "arn:aws:ec2:us-east-1:111122223333:vpc/vpc-1",
            false,
        ),
        (
            "*",
            "arn:aws:ec2:*:*:vpc-endpoint/*",
            "ec2:x",
            "arn:aws:ec2:us-east-1:111122223333:vpc-endpoint-service/vpce-svc-1",
            false,
        ),
        ("*", "arn:aws:ec2:*:*:vpc-endpoint/*", "ec2:x", "*", false),
        ("*", "arn:aws:ec2:*:*:vpc-endpoint/*", "ec2:x", "", false),
        // `*` matches `/` and `:` inside the resource component...
        (
            "*",
            "arn:aws:s3:::bucket/*",
            "s3:GetObject",
            "arn:aws:s3:::bucket/a/b:c",
            true,
        ),
        // ...but never crosses into another component.
        (
            "*",
            "arn:aws:ec2:*:111122223333:*",
            "ec2:x",
            "arn:aws:ec2:us-east-1:444455556666:111122223333:x",
            false,
        ),
        ("*", "arn:aws:ec2:us-*-1:*:*", "ec2:x", EP, true),
        (
            "*",
            "arn:aws:ec2:us-*-1:*:*",
            "ec2:x",
            "arn:aws:ec2:us-east-2:1:x",
            false,
        ),
        // `*` matches an empty component; `?` does not.
        (
            "*",
            "arn:aws:s3:*:*:bucket",
            "s3:x",
            "arn:aws:s3:::bucket",
            true,
        ),
        (
            "*",
            "arn:aws:s3:?:*:bucket",
            "s3:x",
            "arn:aws:s3:::bucket",
            false,
        ),
        (
            "*",
            "arn:aws:s3:::bucket?",
            "s3:x",
            "arn:aws:s3:::bucket",
            false,
        ),
        // Resources are case-sensitive.
        (
            "*",
            "arn:aws:s3:::Bucket/*",
            "s3:x",
            "arn:aws:s3:::bucket/a",
            false,
        ),
        ("*", "arn:aws:ec2:*:*:VPC-ENDPOINT/*", "ec2:x", EP, false),
    ];
    for (action_pat, resource_pat, action, resource, expected) in cases {
        let p = [identity(
            "P",
            &format!(
                r#"{{"Effect": "Allow", "Action": "{action_pat}", "Resource": "{resource_pat}"}}"#
            ),
        )];
        let d = eval_identity(&ctx(alice(), action, resource), &p);
        assert_eq!(
            d.is_allowed(),
            *expected,
            "{action_pat} / {resource_pat} vs {action} on {resource:?}"
        );
    }
}

/// Item 26.
#[test]
fn not_action_and_not_resource() {
    let not_delete = [identity(
        "AllButDelete",
        r#"{"Effect": "Allow", "NotAction": "ec2:Delete*", "Resource": "*"}"#,
    )];
    for (action, expected) in [
        ("ec2:CreateVpcEndpoint", Allow),
        ("iam:CreateAccessKey", Allow), // key management included: NotAction grants everything else
        ("iam:PutUserPolicy", Allow),
        ("ec2:DeleteVpcEndpoints", ImplicitDeny),
        ("EC2:deletevpcendpoints", ImplicitDeny), // case-insensitive exclusion
    ] {
        assert_eq!(
            eval_identity(&ctx(alice(), action, EP), &not_delete).outcome,
            expected,
            "{action}"
        );
    }
    let deny_all_but_describe = [identity(
        "ReadOnly",
        r#"{"Effect": "Allow", "Action": "*", "Resource": "*"},
           {"Sid": "DenyAllButDescribe", "Effect": "Deny", "NotAction": ["ec2:Describe*", "ec2:Get*"], "Resource": "*"}"#,
    )];
    for (action, expected) in [
        ("ec2:DescribeVpcEndpoints", Allow),
        ("ec2:GetConsoleOutput", Allow),
        ("ec2:CreateVpcEndpoint", ExplicitDeny),
        ("iam:CreateAccessKey", ExplicitDeny),
    ] {
        let d = eval_identity(&ctx(alice(), action, EP), &deny_all_but_describe);
        assert_eq!(d.outcome, expected, "{action}");
        if expected == ExplicitDeny {
            assert_eq!(
                d.statement().and_then(|s| s.sid.as_deref()),
                Some("DenyAllButDescribe")
            );
        }
    }
    let protected = EP.replace("vpce-0123456789abcdef0", "vpce-protected");
    let not_resource = [identity(
        "AllButProtected",
        &format!(r#"{{"Effect": "Allow", "Action": "ec2:*", "NotResource": "{protected}"}}"#),
    )];
    assert_eq!(
        eval_identity(&ctx(alice(), "ec2:DeleteVpcEndpoints", EP), &not_resource).outcome,
        Allow
    );
    assert_eq!(
        eval_identity(
            &ctx(alice(), "ec2:DeleteVpcEndpoints", &protected),
            &not_resource
        )
        .outcome,
        ImplicitDeny
    );
    let deny_not_resource = [identity(
        "OnlyEndpoints",
        r#"{"Effect": "Allow", "Action": "*", "Resource": "*"},
           {"Effect": "Deny", "Action": "*", "NotResource": ["arn:aws:ec2:*:*:vpc-endpoint/*", "arn:aws:ec2:*:*:vpc/*"]}"#,
    )];
    assert_eq!(
        eval_identity(
            &ctx(alice(), "ec2:ModifyVpcEndpoint", EP),
            &deny_not_resource
        )
        .outcome,
        Allow
    );
    let subnet = "arn:aws:ec2:us-east-1:111122223333:subnet/subnet-1";
    assert_eq!(
        eval_identity(
            &ctx(alice(), "ec2:DeleteSubnet", subnet),
            &deny_not_resource
        )
        .outcome,
        ExplicitDeny
    );
}
