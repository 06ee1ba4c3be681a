//! The API end to end over loopback HTTP: SigV4 authentication, IAM authorization, access keys,
//! roles and AssumeRole, with the real signer and a real SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{account, code, creds, env, key_creds};
use serde_json::json;
use time::{Duration, OffsetDateTime};

#[tokio::test]
async fn identity_accounts_and_bad_signatures() {
    let env = env().await;
    let me = env
        .admin
        .call("GetCallerIdentity", &json!({}))
        .await
        .unwrap();
    assert_eq!(me["Arn"], "arn:aws:iam::000000000000:root");
    assert!(me["RequestId"].as_str().unwrap().len() >= 32);

    let root = account(&env, "111111111111").await;
    let me = root.call("GetCallerIdentity", &json!({})).await.unwrap();
    assert_eq!(me["Account"], "111111111111");
    // Only the admin creates accounts.
    assert_eq!(
        code(
            root.call(
                "CreateAccount",
                &json!({"AccountId": "222222222222", "Name": "x"})
            )
            .await
        ),
        "UnauthorizedOperation"
    );
    assert_eq!(
        code(
            env.admin
                .call(
                    "CreateAccount",
                    &json!({"AccountId": "111111111111", "Name": "again"})
                )
                .await
        ),
        "EntityAlreadyExists"
    );
    assert_eq!(
        code(
            env.admin
                .call("CreateAccount", &json!({"AccountId": "12", "Name": "x"}))
                .await
        ),
        "InvalidParameterValue"
    );

    // Wrong secret: SignatureDoesNotMatch, and the error never shows the secret.
    let wrong = root.with_credentials(creds(
        me["UserId"]
            .as_str()
            .map(|_| "AKIAIOSFODNN7EXAMPLE")
            .unwrap(),
        "not-the-secret",
        None,
    ));
    assert_eq!(
        code(wrong.call("GetCallerIdentity", &json!({})).await),
        "InvalidClientTokenId"
    );

    // Clock skew (RELIABILITY item 1): 16 minutes off is refused, 14 is accepted.
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        code(
            root.call_at("GetCallerIdentity", &json!({}), now - Duration::minutes(16))
                .await
        ),
        "RequestExpired"
    );
    assert_eq!(
        code(
            root.call_at("GetCallerIdentity", &json!({}), now + Duration::minutes(16))
                .await
        ),
        "RequestExpired"
    );
    root.call_at("GetCallerIdentity", &json!({}), now - Duration::minutes(14))
        .await
        .unwrap();

    assert_eq!(
        code(root.call("NoSuchAction", &json!({})).await),
        "InvalidAction"
    );
    assert_eq!(
        code(
            root.call("CreateUser", &json!({"UserName": "a", "Bogus": 1}))
                .await
        ),
        "InvalidParameterValue"
    );
    env.server.stop().await;
}

#[tokio::test]
async fn users_policies_and_key_lifecycle() {
    let env = env().await;
    let root = account(&env, "111111111111").await;
    root.call("CreateUser", &json!({"UserName": "alice"}))
        .await
        .unwrap();
    assert_eq!(
        code(root.call("CreateUser", &json!({"UserName": "alice"})).await),
        "EntityAlreadyExists"
    );
    assert_eq!(
        code(
            root.call("CreateUser", &json!({"UserName": "bad name"}))
                .await
        ),
        "ValidationError"
    );
    let k = root
        .call("CreateAccessKey", &json!({"UserName": "alice"}))
        .await
        .unwrap();
    let alice_key = k["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned();
    assert!(alice_key.starts_with("AKIA"));
    let alice = root.with_credentials(key_creds(&k["AccessKey"]));

    // No policy: default deny, with a message that names the action.
    let err = alice
        .call("CreateUser", &json!({"UserName": "bob"}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UnauthorizedOperation"));
    assert!(err.to_string().contains("iam:CreateUser"), "{err}");

    // A malformed policy is refused, and nothing is stored.
    let bad = json!({"UserName": "alice", "PolicyName": "p", "PolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"allow\",\"Action\":\"*\",\"Resource\":\"*\"}}"});
    assert_eq!(
        code(root.call("PutUserPolicy", &bad).await),
        "MalformedPolicyDocument"
    );
    assert_eq!(
        code(alice.call("CreateUser", &json!({"UserName": "bob"})).await),
        "UnauthorizedOperation"
    );

    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*User", "Resource": "*"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*"}
    ]});
    root.call(
        "PutUserPolicy",
        &json!({"UserName": "alice", "PolicyName": "users", "PolicyDocument": policy.to_string()}),
    )
    .await
    .unwrap();
    alice
        .call("CreateUser", &json!({"UserName": "bob"}))
        .await
        .unwrap();
    let err = alice
        .call("DeleteUser", &json!({"UserName": "bob"}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UnauthorizedOperation"));
    assert!(
        err.to_string().contains("NoDeletes"),
        "the decision names the statement: {err}"
    );

    // Keys: quota of two, list, last used, deactivate, rotate, delete.
    let second = root
        .call("CreateAccessKey", &json!({"UserName": "alice"}))
        .await
        .unwrap();
    assert_eq!(
        code(
            root.call("CreateAccessKey", &json!({"UserName": "alice"}))
                .await
        ),
        "LimitExceeded"
    );
    let listed = root
        .call("ListAccessKeys", &json!({"UserName": "alice"}))
        .await
        .unwrap();
    assert_eq!(listed["AccessKeyMetadata"].as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains("SecretAccessKey"));
    let used = root
        .call("GetAccessKeyLastUsed", &json!({"AccessKeyId": alice_key}))
        .await
        .unwrap();
    assert_eq!(used["AccessKeyLastUsed"]["ServiceName"], "iam");

    root.call(
        "UpdateAccessKey",
        &json!({"UserName": "alice", "AccessKeyId": alice_key, "Status": "Inactive"}),
    )
    .await
    .unwrap();
    // Deactivation applies to the very next request (RELIABILITY item 16: no cache window).
    assert_eq!(
        code(alice.call("GetCallerIdentity", &json!({})).await),
        "InvalidClientTokenId"
    );
    root.call(
        "DeleteAccessKey",
        &json!({"UserName": "alice", "AccessKeyId": alice_key}),
    )
    .await
    .unwrap();
    assert_eq!(
        code(
            root.call(
                "DeleteAccessKey",
                &json!({"UserName": "alice", "AccessKeyId": alice_key})
            )
            .await
        ),
        "NoSuchEntity"
    );

    let alice2 = root.with_credentials(key_creds(&second["AccessKey"]));
    alice2.call("GetCallerIdentity", &json!({})).await.unwrap();
    let rotated = root
        .call(
            "RotateAccessKey",
            &json!({"UserName": "alice", "AccessKeyId": second["AccessKey"]["AccessKeyId"]}),
        )
        .await
        .unwrap();
    assert_eq!(
        code(alice2.call("GetCallerIdentity", &json!({})).await),
        "InvalidClientTokenId"
    );
    let alice3 = root.with_credentials(key_creds(&rotated["AccessKey"]));
    let me = alice3.call("GetCallerIdentity", &json!({})).await.unwrap();
    assert_eq!(me["Arn"], "arn:aws:iam::111111111111:user/alice");
    assert!(me["UserId"].as_str().unwrap().starts_with("AIDA"));

    // The audit log saw all of it, refusals included.
    env.server.state.audit.flush().await;
    let tail = underpass_store::iam::audit_tail(&env.server.state.store, 200)
        .await
        .unwrap();
    assert!(tail
        .iter()
        .any(|e| e.error_code.as_deref() == Some("UnauthorizedOperation")
            && e.action == "DeleteUser"));
    assert!(tail
        .iter()
        .any(|e| e.outcome == "Success" && e.action == "RotateAccessKey"));
    env.server.stop().await;
}

#[tokio::test]
async fn assume_role_sessions() {
    let env = env().await;
    let root = account(&env, "111111111111").await;
    root.call("CreateUser", &json!({"UserName": "ci"}))
        .await
        .unwrap();
    let ci = root.with_credentials(key_creds(
        &root
            .call("CreateAccessKey", &json!({"UserName": "ci"}))
            .await
            .unwrap()["AccessKey"],
    ));
    let trust = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111111111111:user/ci"}, "Action": "sts:AssumeRole"}});
    let role = root
        .call(
            "CreateRole",
            &json!({"RoleName": "deployer", "AssumeRolePolicyDocument": trust.to_string()}),
        )
        .await
        .unwrap();
    assert!(role["Role"]["RoleId"].as_str().unwrap().starts_with("AROA"));
    let role_arn = role["Role"]["Arn"].as_str().unwrap().to_owned();
    root.call(
        "PutRolePolicy",
        &json!({"RoleName": "deployer", "PolicyName": "users", "PolicyDocument":
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "iam:CreateUser", "Resource": "*"}}).to_string()}),
    )
    .await
    .unwrap();

    // Root of another account is not in the trust policy.
    let other = account(&env, "222222222222").await;
    assert_eq!(
        code(
            other
                .call(
                    "AssumeRole",
                    &json!({"RoleArn": role_arn, "RoleSessionName": "x1"})
                )
                .await
        ),
        "AccessDenied"
    );
    assert_eq!(
        code(
            ci.call(
                "AssumeRole",
                &json!({"RoleArn": role_arn, "RoleSessionName": "x"})
            )
            .await
        ),
        "ValidationError"
    );
    assert_eq!(
        code(
            ci.call(
                "AssumeRole",
                &json!({"RoleArn": role_arn, "RoleSessionName": "s1", "DurationSeconds": 60})
            )
            .await
        ),
        "ValidationError"
    );

    let s = ci
        .call(
            "AssumeRole",
            &json!({"RoleArn": role_arn, "RoleSessionName": "build-42"}),
        )
        .await
        .unwrap();
    let c = &s["Credentials"];
    assert!(c["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    assert_eq!(
        s["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::111111111111:assumed-role/deployer/build-42"
    );
    let session = root.with_credentials(key_creds(c));
    let me = session.call("GetCallerIdentity", &json!({})).await.unwrap();
    assert_eq!(
        me["Arn"],
        "arn:aws:sts::111111111111:assumed-role/deployer/build-42"
    );
    // The role's policy applies to the session.
    session
        .call("CreateUser", &json!({"UserName": "made-by-session"}))
        .await
        .unwrap();
    assert_eq!(
        code(
            session
                .call("DeleteUser", &json!({"UserName": "made-by-session"}))
                .await
        ),
        "UnauthorizedOperation"
    );

    // An ASIA key without its token, and a token swapped from another session, are refused.
    let no_token = root.with_credentials(creds(
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        None,
    ));
    assert_eq!(
        code(no_token.call("GetCallerIdentity", &json!({})).await),
        "InvalidClientTokenId"
    );
    let s2 = ci
        .call(
            "AssumeRole",
            &json!({"RoleArn": role_arn, "RoleSessionName": "build-43"}),
        )
        .await
        .unwrap();
    let swapped = root.with_credentials(creds(
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        s2["Credentials"]["SessionToken"].as_str(),
    ));
    assert_eq!(
        code(swapped.call("GetCallerIdentity", &json!({})).await),
        "InvalidClientTokenId"
    );

    // Deleting the role kills its sessions.
    root.call("DeleteRole", &json!({"RoleName": "deployer"}))
        .await
        .unwrap();
    assert_eq!(
        code(session.call("GetCallerIdentity", &json!({})).await),
        "InvalidClientTokenId"
    );
    env.server.stop().await;
}

/// RELIABILITY item 16: a key deactivated while eight clients keep calling with it. Requests are
/// served from the IAM cache (see `iam_cache`) until IAM changes; every request that starts after
/// the deactivation has been answered must fail, and none succeeds later. Also the same for an
/// inline policy removed mid-flight (authorization, not authentication, cached).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_deactivated_mid_flight_fails_from_the_next_request() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    let env = common::env_with(|cfg| cfg.rate_per_key = 1_000_000).await;
    let root = account(&env, "121212121212").await;
    root.call("CreateUser", &json!({"UserName": "carol"}))
        .await
        .unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:DescribeRegions", "Resource": "*"}
    ]});
    root.call(
        "PutUserPolicy",
        &json!({"UserName": "carol", "PolicyName": "regions", "PolicyDocument": policy.to_string()}),
    )
    .await
    .unwrap();
    let k = root
        .call("CreateAccessKey", &json!({"UserName": "carol"}))
        .await
        .unwrap();
    let key = k["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned();
    let carol = root.with_credentials(key_creds(&k["AccessKey"]));
    carol.call("DescribeRegions", &json!({})).await.unwrap();

    // Eight callers, each bounded in count and in time; each records when a call started and
    // how it ended.
    let run = |change: &'static str| {
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (c, stop) = (carol.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    for _ in 0..5_000 {
                        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                            break;
                        }
                        let started = Instant::now();
                        let r = c.call("DescribeRegions", &json!({})).await;
                        seen.push((started, r.map_err(|e| e.code().unwrap_or("").to_owned())));
                    }
                    seen
                })
            })
            .collect();
        (stop, tasks, change)
    };

    for (change, params, refused_with) in [
        (
            "DeleteUserPolicy",
            json!({"UserName": "carol", "PolicyName": "regions"}),
            "UnauthorizedOperation",
        ),
        (
            "UpdateAccessKey",
            json!({"UserName": "carol", "AccessKeyId": key, "Status": "Inactive"}),
            "InvalidClientTokenId",
        ),
    ] {
        let (stop, tasks, _) = run(change);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        root.call(change, &params).await.unwrap();
        let answered = Instant::now();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        stop.store(true, Ordering::Relaxed);
        let mut before_ok = 0;
        let mut after = 0;
        for t in tasks {
            for (started, r) in t.await.unwrap() {
                if started < answered {
                    before_ok += usize::from(r.is_ok());
                } else {
                    after += 1;
                    assert_eq!(
                        r.as_ref().err().map(String::as_str),
                        Some(refused_with),
                        "{change}: a call that started after it was answered got {r:?}"
                    );
                }
            }
        }
        assert!(before_ok > 0, "{change}: callers were served before it");
        assert!(after > 0, "{change}: callers kept calling after it");
        // Put the policy back for the key's turn.
        if change == "DeleteUserPolicy" {
            root.call(
                "PutUserPolicy",
                &json!({"UserName": "carol", "PolicyName": "regions", "PolicyDocument": policy.to_string()}),
            )
            .await
            .unwrap();
            carol.call("DescribeRegions", &json!({})).await.unwrap();
        }
    }
}
