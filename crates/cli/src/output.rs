//! Rendering responses: a readable table by default, or JSON.

use serde_json::Value;

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Aligned columns.
    Table,
    /// Pretty JSON, as the API returned it.
    Json,
}

pub use underpass_domain::text::sanitize;

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => sanitize(s),
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            a.iter().map(cell).collect::<Vec<_>>().join(",")
        }
        Value::Array(a) => format!("[{} items]", a.len()),
        Value::Object(_) => "{…}".into(),
        other => other.to_string(),
    }
}

fn table(rows: &[&serde_json::Map<String, Value>]) -> String {
    let mut cols: Vec<&str> = Vec::new();
    for r in rows {
        for (k, v) in r.iter() {
            if !v.is_object() && !cols.contains(&k.as_str()) {
                cols.push(k);
            }
        }
    }
    let grid: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| r.get(*c).map_or("-".into(), cell))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            grid.iter()
                .map(|row| row[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(cols.iter().map(|c| c.to_string()).collect(), &mut out);
    for row in grid {
        line(row, &mut out);
    }
    out
}

/// Renders a response.
pub fn render(v: &Value, how: Output) -> String {
    if how == Output::Json {
        return serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    }
    let Value::Object(obj) = v else {
        return cell(v) + "\n";
    };
    let mut out = String::new();
    let mut scalars = Vec::new();
    for (k, val) in obj {
        match val {
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                let rows: Vec<_> = items.iter().filter_map(Value::as_object).collect();
                out.push_str(&format!("{k}:\n"));
                out.push_str(&table(&rows));
            }
            Value::Object(inner) => {
                out.push_str(&format!("{k}:\n"));
                out.push_str(&table(&[inner]));
            }
            _ if k == "RequestId" => {}
            other => scalars.push((k, cell(other))),
        }
    }
    for (k, v) in scalars {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_and_escaping() {
        let v = json!({"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"}, {"VpcId": "vpc-2", "CidrBlock": "10.1.0.0/16", "Extra": true}], "RequestId": "r"});
        let t = render(&v, Output::Table);
        assert!(t.contains("VpcId  CidrBlock    Extra"), "{t}");
        assert!(t.contains("vpc-2  10.1.0.0/16  true"), "{t}");
        assert!(!t.contains("RequestId"));
        assert_eq!(sanitize("a\u{202e}b\nc"), "a\\u{202e}b\\u{a}c");
        let j = render(&v, Output::Json);
        assert_eq!(serde_json::from_str::<Value>(&j).unwrap(), v);
    }
}
