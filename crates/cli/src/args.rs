//! Turning `underpass <service> <action> --some-param value …` into an action name and JSON
//! parameters, the way the AWS CLI names things (kebab-case flags for PascalCase fields).

use serde_json::{Map, Value};

/// A usage error, with the hint to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `create-vpc-endpoint` → `CreateVpcEndpoint`.
pub fn pascal(kebab: &str) -> String {
    kebab
        .split('-')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `CreateVpcEndpoint` → `create-vpc-endpoint`.
pub fn kebab(pascal: &str) -> String {
    let mut out = String::new();
    for (i, ch) in pascal.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// A flag value: JSON if it looks like JSON (`{…}`, `[…]`, a number, `true`/`false`, a quoted
/// string), else the text itself.
fn value(text: &str) -> Value {
    let t = text.trim();
    let jsonish = t.starts_with('{')
        || t.starts_with('[')
        || t.starts_with('"')
        || t == "true"
        || t == "false"
        || (!t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) && t.len() < 16);
    if jsonish {
        if let Ok(v) = serde_json::from_str(t) {
            return v;
        }
    }
    Value::String(text.to_owned())
}

/// Parses `--name value` pairs. A repeated flag becomes a list; `--cli-input-json '{…}'`
/// supplies a whole parameter object that flags then extend.
pub fn params(args: &[String]) -> Result<Map<String, Value>, UsageError> {
    let mut out = Map::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(name) = flag.strip_prefix("--") else {
            return Err(UsageError(format!(
                "expected a --parameter, found {flag:?}"
            )));
        };
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (name, None),
        };
        let text = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| UsageError(format!("--{name} needs a value")))?,
        };
        if name == "cli-input-json" {
            let Value::Object(obj) = serde_json::from_str(&text)
                .map_err(|e| UsageError(format!("--cli-input-json: {e}")))?
            else {
                return Err(UsageError("--cli-input-json must be a JSON object".into()));
            };
            out.extend(obj);
            continue;
        }
        let key = pascal(name);
        let v = value(&text);
        match out.get_mut(&key) {
            Some(Value::Array(list)) => list.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None => {
                out.insert(key, v);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names() {
        assert_eq!(pascal("create-vpc-endpoint"), "CreateVpcEndpoint");
        assert_eq!(pascal("vpc-endpoint-ids"), "VpcEndpointIds");
        assert_eq!(
            kebab("DescribeVpcEndpointConnections"),
            "describe-vpc-endpoint-connections"
        );
        assert_eq!(
            pascal(&kebab("AcceptVpcEndpointConnections")),
            "AcceptVpcEndpointConnections"
        );
    }

    #[test]
    fn flags_to_params() {
        let p = params(&strings(&[
            "--vpc-id",
            "vpc-1",
            "--subnet-ids",
            "subnet-a",
            "--subnet-ids",
            "subnet-b",
            "--port",
            "80",
            "--acceptance-required",
            "false",
            "--policy-document",
            "{\"Version\":\"2012-10-17\"}",
            "--name=web",
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"VpcId": "vpc-1", "SubnetIds": ["subnet-a", "subnet-b"], "Port": 80, "AcceptanceRequired": false,
                   "PolicyDocument": {"Version": "2012-10-17"}, "Name": "web"})
        );
        let p = params(&strings(&["--cli-input-json", "{\"A\": 1}", "--b", "x"])).unwrap();
        assert_eq!(Value::Object(p), json!({"A": 1, "B": "x"}));
        assert!(params(&strings(&["vpc-1"])).is_err());
        assert!(params(&strings(&["--vpc-id"])).is_err());
        // A quoted number stays a string.
        let p = params(&strings(&["--client-token", "\"123\""])).unwrap();
        assert_eq!(p["ClientToken"], json!("123"));
    }
}
