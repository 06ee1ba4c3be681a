//! Small helpers shared by the action handlers.

use super::Ctx;
use crate::api::ApiError;

/// AWS-style unique ids (`AIDA…`, `AROA…`): a prefix and 17 characters of A-Z and 2-7.
pub(crate) fn unique_id(ctx: &Ctx<'_>, prefix: &str) -> Result<String, ApiError> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut r = ctx.random()?;
    let mut s = String::from(prefix);
    for _ in 0..17 {
        s.push(char::from(ALPHABET[(r & 31) as usize]));
        r >>= 5;
    }
    Ok(s)
}

/// Checks an IAM name (users, roles, policies): 1-64 (or `max`) characters of `[\w+=,.@-]`.
pub(crate) fn check_iam_name(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::client(
            "ValidationError",
            format!("1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length between 1 and {max} and match [\\w+=,.@-]+"),
        ))
    }
}

/// Checks an IAM path: `/` or `/a/b/`, at most 512 characters.
pub(crate) fn check_iam_path(path: &str) -> Result<(), ApiError> {
    let ok = path.starts_with('/')
        && path.ends_with('/')
        && path.len() <= 512
        && path.chars().all(|c| c.is_ascii_graphic() && c != '*');
    if ok {
        Ok(())
    } else {
        Err(ApiError::client("ValidationError", "The specified value for path is invalid. It must begin and end with / and contain only printable ASCII characters."))
    }
}
