use super::*;
use time::Duration;

fn scope(zone: &str) -> JoinScope {
    JoinScope {
        account: "123456789012".parse().unwrap(),
        vpc: "vpc-0123456789abcdef0".parse().unwrap(),
        zone: zone.parse().unwrap(),
        role: JoinRole::Agent,
    }
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
}

/// Flips the top bit of the 6-bit value of the base64url character at `index` (one bit of
/// the decoded secret, and the text stays canonical).
fn flip_b64(text: &str, index: usize) -> String {
    const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = text.as_bytes().to_vec();
    let v = URL.iter().position(|&c| c == bytes[index]).unwrap();
    bytes[index] = URL[v ^ 0b10_0000];
    String::from_utf8(bytes).unwrap()
}

/// Flips the low bit of the hex digit at `index`.
fn flip_hex(text: &str, index: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = text.as_bytes().to_vec();
    let v = HEX.iter().position(|&c| c == bytes[index]).unwrap();
    bytes[index] = HEX[v ^ 1];
    String::from_utf8(bytes).unwrap()
}

#[test]
fn text_form() {
    let (text, stored) = JoinToken::generate(scope("us-east-1a"), t0()).unwrap();
    let s = text.expose();
    assert_eq!(s.len(), 5 + 1 + 16 + 1 + 43);
    assert!(s.starts_with("upjt1."));
    assert_eq!(JoinToken::parse(s).unwrap().id(), stored.id);
    assert_eq!(format!("{text:?}"), "JoinTokenText(***)");
    assert!(!format!("{:?}", JoinToken::parse(s).unwrap()).contains(&s[23..]));
    let (other, _) = JoinToken::generate(scope("us-east-1a"), t0()).unwrap();
    assert_ne!(other.expose(), s);
}

#[test]
fn table() {
    let expires = t0() + Duration::hours(1);
    let (text, stored) = JoinToken::generate(scope("us-east-1a"), expires).unwrap();
    let good = text.expose().to_owned();
    let (other_text, _) = JoinToken::generate(scope("us-east-1a"), expires).unwrap();
    let used = StoredJoinToken {
        used: true,
        ..stored.clone()
    };
    let long = format!("{good}{}", "A".repeat(1 << 20));
    let last = good.len() - 1;

    type Expect = fn(&Result<&JoinScope, PkiError>) -> bool;
    let ok: Expect = |r| matches!(r, Ok(s) if **s == scope("us-east-1a"));
    let invalid: Expect = |r| matches!(r, Err(PkiError::JoinTokenInvalid));
    let malformed: Expect = |r| matches!(r, Err(PkiError::MalformedJoinToken(_)));
    let cases: Vec<(&str, &StoredJoinToken, String, OffsetDateTime, Expect)> = vec![
        ("good", &stored, good.clone(), t0(), ok),
        ("good with newline", &stored, format!("{good}\n"), t0(), ok),
        ("reused", &used, good.clone(), t0(), |r| {
            matches!(r, Err(PkiError::JoinTokenUsed))
        }),
        ("expired", &stored, good.clone(), expires, |r| {
            matches!(r, Err(PkiError::JoinTokenExpired))
        }),
        (
            "bit flip in secret",
            &stored,
            flip_b64(&good, 30),
            t0(),
            invalid,
        ),
        (
            "bit flip in last char",
            &stored,
            flip_b64(&good, last),
            t0(),
            invalid,
        ),
        ("bit flip in id", &stored, flip_hex(&good, 8), t0(), invalid),
        (
            "bit flip in prefix",
            &stored,
            good.replacen("upjt1", "upjt0", 1),
            t0(),
            malformed,
        ),
        (
            "another token",
            &stored,
            other_text.expose().to_owned(),
            t0(),
            invalid,
        ),
        (
            "truncated by one",
            &stored,
            good[..last].to_owned(),
            t0(),
            malformed,
        ),
        (
            "truncated to id",
            &stored,
            good[..22].to_owned(),
            t0(),
            malformed,
        ),
        ("extra char", &stored, format!("{good}A"), t0(), malformed),
        ("1 MB long", &stored, long, t0(), |r| {
            matches!(
                r,
                Err(PkiError::MalformedJoinToken("longer than 256 bytes"))
            )
        }),
        ("empty", &stored, String::new(), t0(), malformed),
        (
            "uppercase id",
            &stored,
            good.replacen(
                &stored.id.to_string(),
                &stored.id.to_string().to_uppercase(),
                1,
            ),
            t0(),
            |r| r.is_err(),
        ),
        (
            "padded secret",
            &stored,
            format!("{good}="),
            t0(),
            malformed,
        ),
        (
            "non-ascii",
            &stored,
            good.replace('.', "\u{2024}"),
            t0(),
            malformed,
        ),
    ];
    for (name, record, presented, now, expect) in cases {
        let result = record.check(&presented, now);
        assert!(expect(&result), "{name}: got {result:?}");
    }
}

#[test]
fn expired_and_used_are_only_reported_to_the_secret_holder() {
    let (_, stored) = JoinToken::generate(scope("us-east-1a"), t0()).unwrap();
    let used = StoredJoinToken {
        used: true,
        ..stored.clone()
    };
    // A well-formed token with the right id but the wrong secret.
    let forged = format!("upjt1.{}.{}", stored.id, "A".repeat(43));
    let late = t0() + Duration::days(1);
    assert!(matches!(
        used.check(&forged, late),
        Err(PkiError::JoinTokenInvalid)
    ));
}

#[test]
fn other_scope_is_refused() {
    let expires = t0() + Duration::hours(1);
    let (text, stored) = JoinToken::generate(scope("us-east-1a"), expires).unwrap();
    stored
        .check_for(text.expose(), &scope("us-east-1a"), t0())
        .unwrap();
    let err = stored
        .check_for(text.expose(), &scope("us-east-1b"), t0())
        .unwrap_err();
    assert!(matches!(err, PkiError::JoinTokenScope { .. }));
    assert!(err.to_string().contains("zone us-east-1a"), "{err}");
}

#[test]
fn token_id_parsing() {
    assert!("0123456789abcdef".parse::<JoinTokenId>().is_ok());
    for bad in [
        "0123456789abcde",
        "0123456789abcdef0",
        "0123456789abcdeg",
        "0123456789ABCDEF",
    ] {
        assert!(bad.parse::<JoinTokenId>().is_err(), "{bad}");
    }
}
