//! What the `Describe*` actions share: EC2 filters with `*`/`?` wildcards, pagination tokens
//! that cannot be forged or replayed under other parameters, and ClientToken fingerprints.
//!
//! A page token names the last item of the previous page (items are ordered by their id, which
//! never changes, so a token stays meaningful while other items come and go) and is bound by an
//! HMAC to the caller's account, the action and its filters, and an expiry. A token that was
//! edited, used by another account, under other filters, or after it expired is refused with
//! `InvalidPaginationToken` (ELBv2: `ValidationError`). Every listing is already restricted to
//! what the caller may see, so even a valid token can never reach another account's data.
//!
//! The HMAC key is drawn at random when the process starts: tokens do not survive a restart
//! (the client starts the listing again), which AWS also allows for expired tokens.

use std::sync::OnceLock;

use aws_lc_rs::{digest, hmac};
use serde::{Deserialize, Serialize};
use underpass_auth::iam::Glob;

use super::Ctx;
use crate::api::ApiError;

/// How long a page token stays valid.
const TOKEN_LIFETIME_SECS: i64 = 24 * 3600;
/// EC2 allows at most this many filters, and values per filter.
const MAX_FILTERS: usize = 50;
const MAX_FILTER_VALUES: usize = 200;
const MAX_FILTER_VALUE_LEN: usize = 255;

/// One EC2 filter: `{"Name": "vpc-id", "Values": ["vpc-*"]}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct Filter {
    name: String,
    #[serde(default)]
    values: Vec<String>,
}

/// Checked, compiled filters: every filter must match (AND), any value of one filter may (OR).
pub(crate) struct Filters(Vec<(String, Vec<Glob>)>);

impl Filters {
    /// Compiles `filters`, refusing names outside `known` as EC2 does.
    pub(crate) fn new(filters: &[Filter], known: &[&str]) -> Result<Self, ApiError> {
        if filters.len() > MAX_FILTERS {
            return Err(ApiError::invalid(format!(
                "At most {MAX_FILTERS} filters may be given."
            )));
        }
        let mut out = Vec::with_capacity(filters.len());
        for f in filters {
            // `tag:<key>` goes with `tag-key`: a resource type that has tags takes both.
            let tag_filter =
                f.name.len() > 4 && f.name.starts_with("tag:") && known.contains(&"tag-key");
            if !known.contains(&f.name.as_str()) && !tag_filter {
                return Err(ApiError::invalid(format!(
                    "The filter '{}' is invalid",
                    f.name.chars().take(64).collect::<String>()
                )));
            }
            if f.values.is_empty() || f.values.len() > MAX_FILTER_VALUES {
                return Err(ApiError::invalid(format!(
                    "The filter '{}' needs 1 to {MAX_FILTER_VALUES} values",
                    f.name
                )));
            }
            if f.values.iter().any(|v| v.len() > MAX_FILTER_VALUE_LEN) {
                return Err(ApiError::invalid(format!(
                    "A value of filter '{}' is longer than {MAX_FILTER_VALUE_LEN} characters",
                    f.name
                )));
            }
            out.push((
                f.name.clone(),
                f.values.iter().map(|v| Glob::new(v)).collect(),
            ));
        }
        Ok(Self(out))
    }

    /// Whether an item matches; `values_of(name)` gives the item's values for a filter name.
    pub(crate) fn matches(&self, values_of: impl Fn(&str) -> Vec<String>) -> bool {
        self.0.iter().all(|(name, globs)| {
            let values = values_of(name);
            values.iter().any(|v| globs.iter().any(|g| g.matches(v)))
        })
    }
}

/// Which API family's paging parameters and error code apply.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PageStyle {
    /// `MaxResults` 5..=1000 (default 1000), `NextToken`, `InvalidPaginationToken`.
    Ec2,
    /// `PageSize` 1..=400 (default 400), `Marker`, `ValidationError`.
    Elb,
    /// IAM's `MaxItems` 1..=1000 (default 100), `Marker`, `IsTruncated`.
    Iam,
}

impl PageStyle {
    fn bounds(self) -> (i64, i64) {
        match self {
            Self::Ec2 => (5, 1000),
            Self::Elb => (1, 400),
            Self::Iam => (1, 1000),
        }
    }

    fn default_size(self) -> i64 {
        match self {
            Self::Ec2 => 1000,
            Self::Elb => 400,
            Self::Iam => 100,
        }
    }

    fn bad_token(self) -> ApiError {
        match self {
            Self::Ec2 => ApiError::client(
                "InvalidPaginationToken",
                "The pagination token is invalid, expired, or was issued for other parameters.",
            ),
            Self::Elb => ApiError::client(
                "ValidationError",
                "The marker is invalid, expired, or was issued for other parameters.",
            ),
            Self::Iam => ApiError::client(
                "InvalidInput",
                "Invalid Marker: it is invalid, expired, or was issued for other parameters.",
            ),
        }
    }

    fn bad_size(self, n: i64) -> ApiError {
        let (lo, hi) = self.bounds();
        match self {
            Self::Ec2 => ApiError::invalid(format!(
                "Value ( {n} ) for parameter maxResults is invalid. Expecting a value between {lo} and {hi}."
            )),
            Self::Elb => ApiError::client(
                "ValidationError",
                format!("1 validation error detected: Value '{n}' at 'pageSize' failed to satisfy constraint: Member must have value between {lo} and {hi}"),
            ),
            Self::Iam => ApiError::client(
                "ValidationError",
                format!("1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value between {lo} and {hi}"),
            ),
        }
    }
}

/// One page request: the size and token the caller sent, and what the token is bound to.
pub(crate) struct PageRequest<'a> {
    /// `MaxResults` / `PageSize`.
    pub(crate) size: Option<i64>,
    /// `NextToken` / `Marker`.
    pub(crate) token: Option<&'a str>,
    /// The action and its parameters other than the page ones (ids, filters…).
    pub(crate) scope: String,
    /// Parameter names and error codes.
    pub(crate) style: PageStyle,
}

/// Where a page starts and how long it is: the request's size and token, checked.
pub(crate) struct Cursor {
    /// Items on the page.
    pub(crate) size: usize,
    /// The key of the previous page's last item (the page starts after it).
    pub(crate) after: Option<String>,
    bind: Vec<u8>,
    now: i64,
}

impl Cursor {
    /// Checks `req`'s size and opens its token (bound to the caller and the request's scope).
    pub(crate) fn new(ctx: &Ctx<'_>, req: &PageRequest<'_>) -> Result<Self, ApiError> {
        let (lo, hi) = req.style.bounds();
        let size = match req.size {
            Some(n) if !(lo..=hi).contains(&n) => return Err(req.style.bad_size(n)),
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => usize::try_from(req.style.default_size()).unwrap_or(usize::MAX),
        };
        let bind = binding(ctx, &req.scope);
        let now = ctx.meta.now.unix_timestamp();
        let after = match req.token {
            None => None,
            Some(t) => Some(open_token(t, &bind, now).ok_or_else(|| req.style.bad_token())?),
        };
        Ok(Self {
            size,
            after,
            bind,
            now,
        })
    }

    /// The token of the page that follows the item keyed `last`.
    pub(crate) fn token_after(&self, last: &str) -> Result<String, ApiError> {
        seal_token(last, &self.bind, self.now + TOKEN_LIFETIME_SECS)
    }
}

/// Orders `items` by `key` and cuts the page the request asks for; returns it with the token
/// of the next page, if there is one.
pub(crate) fn paginate<T>(
    ctx: &Ctx<'_>,
    req: &PageRequest<'_>,
    mut items: Vec<T>,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let cursor = Cursor::new(ctx, req)?;
    items.sort_by_cached_key(|t| key(t));
    let start = match &cursor.after {
        Some(a) => items.partition_point(|t| key(t).as_str() <= a.as_str()),
        None => 0,
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let next = if rest.len() > cursor.size {
        rest.truncate(cursor.size);
        rest.last()
            .map(|last| cursor.token_after(&key(last)))
            .transpose()?
    } else {
        None
    };
    Ok((rest, next))
}

fn binding(ctx: &Ctx<'_>, scope: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(scope.len() + 16);
    b.extend_from_slice(ctx.caller.account.as_bytes());
    b.push(0);
    b.extend_from_slice(scope.as_bytes());
    b
}

fn token_key() -> Result<&'static hmac::Key, ApiError> {
    static KEY: OnceLock<hmac::Key> = OnceLock::new();
    if let Some(k) = KEY.get() {
        return Ok(k);
    }
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::fill(&mut raw)
        .map_err(|_| ApiError::internal("system random generator failed"))?;
    // A racing thread may have set it first; either key is as good, and the first one wins.
    let _ = KEY.set(hmac::Key::new(hmac::HMAC_SHA256, &raw));
    KEY.get()
        .ok_or_else(|| ApiError::internal("pagination key missing"))
}

fn mac_input(last: &str, bind: &[u8], expires: i64) -> Vec<u8> {
    let mut m = Vec::with_capacity(bind.len() + last.len() + 16);
    m.extend_from_slice(&expires.to_be_bytes());
    m.extend_from_slice(&u32::try_from(last.len()).unwrap_or(u32::MAX).to_be_bytes());
    m.extend_from_slice(last.as_bytes());
    m.extend_from_slice(bind);
    m
}

/// `hex(expires ‖ last key)` `.` `hex(HMAC)`.
fn seal_token(last: &str, bind: &[u8], expires: i64) -> Result<String, ApiError> {
    let tag = hmac::sign(token_key()?, &mac_input(last, bind, expires));
    let mut body = expires.to_be_bytes().to_vec();
    body.extend_from_slice(last.as_bytes());
    Ok(format!("{}.{}", hex(&body), hex(tag.as_ref())))
}

fn open_token(token: &str, bind: &[u8], now: i64) -> Option<String> {
    if token.len() > 1024 {
        return None;
    }
    let (body, tag) = token.split_once('.')?;
    let (body, tag) = (unhex(body)?, unhex(tag)?);
    let expires = i64::from_be_bytes(body.get(..8)?.try_into().ok()?);
    let last = std::str::from_utf8(body.get(8..)?).ok()?;
    hmac::verify(token_key().ok()?, &mac_input(last, bind, expires), &tag).ok()?;
    (now <= expires).then(|| last.to_owned())
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// SHA-256 of the canonical JSON of a request without its ClientToken: what a replay must
/// repeat exactly.
pub(crate) fn fingerprint<T: Serialize>(params: &T) -> Result<String, ApiError> {
    let json = serde_json::to_vec(params).map_err(ApiError::internal)?;
    Ok(hex(digest::digest(&digest::SHA256, &json).as_ref()))
}

/// Checks a ClientToken: 1-64 printable ASCII characters, as EC2 allows.
pub(crate) fn check_client_token(token: &str) -> Result<(), ApiError> {
    if token.is_empty() || token.len() > 64 || !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "ClientToken must be 1 to 64 printable ASCII characters.",
        ));
    }
    Ok(())
}

/// The scope a token is bound to: the action and the canonical JSON of its other parameters.
pub(crate) fn scope<T: Serialize>(action: &str, params: &T) -> String {
    format!(
        "{action}|{}",
        serde_json::to_string(params).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_and_tamper_evident() {
        let t = seal_token("vpc-00000000000000001", b"111|scope", 100).unwrap();
        assert_eq!(
            open_token(&t, b"111|scope", 50).as_deref(),
            Some("vpc-00000000000000001")
        );
        // Other account or parameters, expired, edited: all refused.
        assert_eq!(open_token(&t, b"222|scope", 50), None);
        assert_eq!(open_token(&t, b"111|other", 50), None);
        assert_eq!(open_token(&t, b"111|scope", 101), None);
        let mut edited = t.clone().into_bytes();
        let i = edited.len() / 3;
        edited[i] = if edited[i] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            open_token(std::str::from_utf8(&edited).unwrap(), b"111|scope", 50),
            None
        );
        for junk in ["", ".", "zz.zz", "00.00", &"a".repeat(5000)] {
            assert_eq!(open_token(junk, b"111|scope", 50), None, "{junk:?}");
        }
    }

    #[test]
    fn filters_and_wildcards() {
        let f = Filters::new(
            &[Filter {
                name: "cidr".into(),
                values: vec!["10.0.*".into(), "192.168.0.0/1?".into()],
            }],
            &["cidr"],
        )
        .unwrap();
        assert!(f.matches(|_| vec!["10.0.0.0/16".into()]));
        assert!(f.matches(|_| vec!["192.168.0.0/16".into()]));
        assert!(!f.matches(|_| vec!["172.16.0.0/16".into()]));
        assert!(!f.matches(|_| vec![]));
        let bad = Filters::new(
            &[Filter {
                name: "nope".into(),
                values: vec!["x".into()],
            }],
            &["cidr"],
        );
        assert_eq!(bad.err().unwrap().code, "InvalidParameterValue");
    }
}
