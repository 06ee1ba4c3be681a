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

/// A flag value: JSON if it looks like JSON (`{…}`, `[…]`, a number of up to nine digits,
/// `true`/`false`, a quoted string), else the text itself. Longer digit strings stay strings:
/// they are ids (a 12-digit account id), never ports, counts or durations.
fn value(text: &str) -> Value {
    let t = text.trim();
    let jsonish = t.starts_with('{')
        || t.starts_with('[')
        || t.starts_with('"')
        || t == "true"
        || t == "false"
        || (!t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) && t.len() <= 9);
    if jsonish {
        if let Ok(v) = serde_json::from_str(t) {
            return v;
        }
    }
    Value::String(text.to_owned())
}

/// Whether a parameter name is a list in the EC2/ELBv2 models (`SubnetIds`, `Subnets`,
/// `AddAllowedPrincipals`, …): plural names, except the scalar ones that merely end in `s`.
fn is_list_name(name: &str) -> bool {
    name.ends_with('s')
        && ![
            "Seconds",
            "Status",
            "Address",
            "Hostnames",
            "Ss",
            "Access",
            "Alias",
        ]
        .iter()
        .any(|x| name.ends_with(x))
}

/// Parses `--name value [value …]`, as the AWS CLI does: several values after one flag, or a
/// repeated flag, make a list, and a list-named parameter is a list even with one value.
/// `--cli-input-json '{…}'` supplies a whole parameter object that flags then extend.
pub fn params(args: &[String]) -> Result<Map<String, Value>, UsageError> {
    let mut out = Map::new();
    let mut i = 0;
    while i < args.len() {
        let flag = &args[i];
        i += 1;
        let Some(name) = flag.strip_prefix("--") else {
            return Err(UsageError(format!(
                "expected a --parameter, found {flag:?}"
            )));
        };
        let (name, mut values) = match name.split_once('=') {
            Some((n, v)) => (n, vec![v.to_owned()]),
            None => (name, Vec::new()),
        };
        while i < args.len() && !args[i].starts_with("--") {
            values.push(args[i].clone());
            i += 1;
        }
        if values.is_empty() {
            return Err(UsageError(format!("--{name} needs a value")));
        }
        if name == "cli-input-json" {
            let Value::Object(obj) = serde_json::from_str(&values.join(" "))
                .map_err(|e| UsageError(format!("--cli-input-json: {e}")))?
            else {
                return Err(UsageError("--cli-input-json must be a JSON object".into()));
            };
            out.extend(obj);
            continue;
        }
        let key = pascal(name);
        let mut new: Vec<Value> = values.iter().map(|v| value(v)).collect();
        let v = if new.len() > 1 {
            Value::Array(new)
        } else {
            match new.pop() {
                Some(Value::String(s)) if is_list_name(&key) => {
                    Value::Array(vec![Value::String(s)])
                }
                Some(v) => v,
                None => Value::Null,
            }
        };
        match out.get_mut(&key) {
            Some(Value::Array(list)) => match v {
                Value::Array(more) => list.extend(more),
                v => list.push(v),
            },
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
        let p = params(&strings(&[
            "--subnets",
            "subnet-a",
            "--service-id",
            "vpce-svc-1",
            "--subnet-ids",
            "a",
            "b",
            "--status",
            "Active",
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"Subnets": ["subnet-a"], "ServiceId": "vpce-svc-1", "SubnetIds": ["a", "b"], "Status": "Active"})
        );
        let p = params(&strings(&[
            "--health-check-interval-seconds",
            "10",
            "--enable-dns-hostnames",
            "false",
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"HealthCheckIntervalSeconds": 10, "EnableDnsHostnames": false})
        );
        let p = params(&strings(&["--cli-input-json", "{\"A\": 1}", "--b", "x"])).unwrap();
        assert_eq!(Value::Object(p), json!({"A": 1, "B": "x"}));
        assert!(params(&strings(&["vpc-1"])).is_err());
        assert!(params(&strings(&["--vpc-id"])).is_err());
        // An account id stays a string.
        let p = params(&strings(&["--account-id", "111122223333"])).unwrap();
        assert_eq!(p["AccountId"], json!("111122223333"));
        // A quoted number stays a string.
        let p = params(&strings(&["--client-token", "\"123\""])).unwrap();
        assert_eq!(p["ClientToken"], json!("123"));
    }
}
