//! Managed policies in authorization, and GetSessionToken sessions, through the JSON API on a
//! real server: an attached policy's default version grants, a Deny in it wins over every
//! Allow, detaching (or deleting the user) takes it away; a user's session is the user, with
//! its policies, and dies with it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{account, code, env, key_creds, ok, vpc};
use serde_json::{json, Value};

fn doc(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

#[tokio::test]
async fn attached_managed_policies_grant_and_their_deny_wins() {
    let env = env().await;
    let root = account(&env, "111111111111").await;
    let vpc_id = vpc(&root, "10.0.0.0/16").await;
    ok(&root, "CreateUser", json!({"UserName": "alice"})).await;
    let alice = root.with_credentials(key_creds(
        &ok(&root, "CreateAccessKey", json!({"UserName": "alice"})).await["AccessKey"],
    ));
    assert_eq!(
        code(alice.call("DescribeVpcs", &json!({})).await),
        "UnauthorizedOperation"
    );

    let policy = ok(
        &root,
        "CreatePolicy",
        json!({"PolicyName": "network", "PolicyDocument": doc(json!([
            {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:CreateTags"], "Resource": "*"}
        ]))}),
    )
    .await;
    let arn = policy["Policy"]["Arn"].as_str().unwrap().to_owned();
    assert_eq!(arn, "arn:aws:iam::111111111111:policy/network");
    ok(
        &root,
        "AttachUserPolicy",
        json!({"UserName": "alice", "PolicyArn": arn}),
    )
    .await;
    // The attached policy grants.
    let vpcs = ok(&alice, "DescribeVpcs", json!({})).await;
    assert!(
        vpcs["Vpcs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["VpcId"] == vpc_id.as_str()),
        "{vpcs}"
    );
    ok(
        &alice,
        "CreateTags",
        json!({"Resources": [vpc_id], "Tags": [{"Key": "a", "Value": "b"}]}),
    )
    .await;

    // An inline Allow does not beat a Deny in a managed policy, nor the reverse.
    ok(
        &root,
        "PutUserPolicy",
        json!({"UserName": "alice", "PolicyName": "tags", "PolicyDocument": doc(json!([
            {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*"}
        ]))}),
    )
    .await;
    ok(
        &root,
        "CreatePolicyVersion",
        json!({"PolicyArn": arn, "SetAsDefault": true, "PolicyDocument": doc(json!([
            {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
            {"Sid": "NoTags", "Effect": "Deny", "Action": "ec2:CreateTags", "Resource": "*"}
        ]))}),
    )
    .await;
    let err = alice
        .call(
            "CreateTags",
            &json!({"Resources": [vpc_id], "Tags": [{"Key": "c", "Value": "d"}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UnauthorizedOperation"));
    assert!(
        err.to_string().contains("NoTags") && err.to_string().contains(&arn),
        "the decision names the managed policy's statement: {err}"
    );
    // Nothing was tagged by the refused call.
    let tags = ok(
        &root,
        "DescribeTags",
        json!({"Filters": [{"Name": "resource-id", "Values": [vpc_id]}]}),
    )
    .await;
    assert_eq!(tags["Tags"].as_array().unwrap().len(), 1, "{tags}");

    // Only the default version counts: back to v1, the Deny is gone.
    ok(
        &root,
        "SetDefaultPolicyVersion",
        json!({"PolicyArn": arn, "VersionId": "v1"}),
    )
    .await;
    ok(
        &alice,
        "CreateTags",
        json!({"Resources": [vpc_id], "Tags": [{"Key": "c", "Value": "d"}]}),
    )
    .await;

    // Detached, it grants nothing; the policy cannot go while attached.
    ok(
        &root,
        "AttachUserPolicy",
        json!({"UserName": "alice", "PolicyArn": arn}),
    )
    .await;
    assert_eq!(
        code(root.call("DeletePolicy", &json!({"PolicyArn": arn})).await),
        "DeleteConflict"
    );
    ok(
        &root,
        "DetachUserPolicy",
        json!({"UserName": "alice", "PolicyArn": arn}),
    )
    .await;
    assert_eq!(
        code(alice.call("DescribeVpcs", &json!({})).await),
        "UnauthorizedOperation"
    );

    // A user deleted and re-created under the same name does not inherit attachments.
    ok(
        &root,
        "AttachUserPolicy",
        json!({"UserName": "alice", "PolicyArn": arn}),
    )
    .await;
    let keys = ok(&root, "ListAccessKeys", json!({"UserName": "alice"})).await;
    ok(
        &root,
        "DeleteAccessKey",
        json!({"UserName": "alice", "AccessKeyId": keys["AccessKeyMetadata"][0]["AccessKeyId"]}),
    )
    .await;
    ok(&root, "DeleteUser", json!({"UserName": "alice"})).await;
    ok(&root, "CreateUser", json!({"UserName": "alice"})).await;
    let attached = ok(
        &root,
        "ListAttachedUserPolicies",
        json!({"UserName": "alice"}),
    )
    .await;
    assert_eq!(attached["AttachedPolicies"], json!([]));
    let p = ok(&root, "GetPolicy", json!({"PolicyArn": arn})).await;
    assert_eq!(p["Policy"]["AttachmentCount"], 0);

    // Another account can neither see nor attach it.
    let other = account(&env, "222222222222").await;
    assert_eq!(
        code(other.call("GetPolicy", &json!({"PolicyArn": arn})).await),
        "NoSuchEntity"
    );
    ok(&other, "CreateUser", json!({"UserName": "mallory"})).await;
    assert_eq!(
        code(
            other
                .call(
                    "AttachUserPolicy",
                    &json!({"UserName": "mallory", "PolicyArn": arn})
                )
                .await
        ),
        "NoSuchEntity"
    );
    env.server.stop().await;
}

#[tokio::test]
async fn roles_get_their_attached_policies_in_sessions() {
    let env = env().await;
    let root = account(&env, "111111111111").await;
    vpc(&root, "10.0.0.0/16").await;
    let trust = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "sts:AssumeRole"}});
    ok(
        &root,
        "CreateRole",
        json!({"RoleName": "reader", "AssumeRolePolicyDocument": trust.to_string(), "Description": "reads"}),
    )
    .await;
    let arn = ok(
        &root,
        "CreatePolicy",
        json!({"PolicyName": "read", "Path": "/ops/", "PolicyDocument": doc(json!([
            {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"}
        ]))}),
    )
    .await["Policy"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(arn, "arn:aws:iam::111111111111:policy/ops/read");
    ok(
        &root,
        "AttachRolePolicy",
        json!({"RoleName": "reader", "PolicyArn": arn}),
    )
    .await;
    let creds = ok(
        &root,
        "AssumeRole",
        json!({"RoleArn": "arn:aws:iam::111111111111:role/reader", "RoleSessionName": "s1"}),
    )
    .await;
    let session = root.with_credentials(key_creds(&creds["Credentials"]));
    // The account's VPC and its default VPC.
    assert_eq!(
        ok(&session, "DescribeVpcs", json!({})).await["Vpcs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        code(session.call("DescribeSubnets", &json!({})).await),
        "UnauthorizedOperation"
    );
    let role = ok(&root, "GetRole", json!({"RoleName": "reader"})).await;
    assert_eq!(role["Role"]["Description"], "reads");
    assert_eq!(role["Role"]["Path"], "/");
    ok(
        &root,
        "DetachRolePolicy",
        json!({"RoleName": "reader", "PolicyArn": arn}),
    )
    .await;
    assert_eq!(
        code(session.call("DescribeVpcs", &json!({})).await),
        "UnauthorizedOperation"
    );
    env.server.stop().await;
}

#[tokio::test]
async fn session_tokens_are_the_user_itself_until_it_goes() {
    let env = env().await;
    let root = account(&env, "111111111111").await;
    vpc(&root, "10.0.0.0/16").await;
    let user = ok(&root, "CreateUser", json!({"UserName": "ci"})).await;
    let ci = root.with_credentials(key_creds(
        &ok(&root, "CreateAccessKey", json!({"UserName": "ci"})).await["AccessKey"],
    ));
    ok(
        &root,
        "PutUserPolicy",
        json!({"UserName": "ci", "PolicyName": "read", "PolicyDocument": doc(json!([
            {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"}
        ]))}),
    )
    .await;
    let creds = ok(&ci, "GetSessionToken", json!({"DurationSeconds": 900})).await;
    let key = &creds["Credentials"];
    assert!(key["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    let session = ci.with_credentials(key_creds(key));
    let me = ok(&session, "GetCallerIdentity", json!({})).await;
    assert_eq!(me["Arn"], user["User"]["Arn"]);
    assert_eq!(me["UserId"], user["User"]["UserId"]);
    // The user's policies apply, and only they.
    ok(&session, "DescribeVpcs", json!({})).await;
    assert_eq!(
        code(session.call("DescribeSubnets", &json!({})).await),
        "UnauthorizedOperation"
    );
    // No IAM with such a session, no session from a session.
    assert_eq!(
        code(session.call("ListAccessKeys", &json!({})).await),
        "InvalidClientTokenId"
    );
    assert_eq!(
        code(session.call("GetSessionToken", &json!({})).await),
        "AccessDenied"
    );
    assert_eq!(
        code(
            ci.call("GetSessionToken", &json!({"DurationSeconds": 129_601}))
                .await
        ),
        "ValidationError"
    );
    // The user goes (and comes back under the same name): its sessions die.
    let keys = ok(&root, "ListAccessKeys", json!({"UserName": "ci"})).await;
    ok(
        &root,
        "DeleteAccessKey",
        json!({"UserName": "ci", "AccessKeyId": keys["AccessKeyMetadata"][0]["AccessKeyId"]}),
    )
    .await;
    ok(&root, "DeleteUser", json!({"UserName": "ci"})).await;
    ok(&root, "CreateUser", json!({"UserName": "ci"})).await;
    assert_eq!(
        code(session.call("GetCallerIdentity", &json!({})).await),
        "InvalidClientTokenId"
    );
    env.server.stop().await;
}
