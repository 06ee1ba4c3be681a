//! From flattened Query parameters to the JSON the action handlers take, walking the
//! operation's input shape: `Filter.1.Value.1` (EC2) or `Subnets.member.1` (Query) become
//! `{"Filters": [{"Values": [...]}]}` / `{"Subnets": [...]}`, scalars typed per the model.
//!
//! Names the shape does not have are refused (EC2 `UnknownParameter`), as are required members
//! left out (EC2 `MissingParameter`), list indexes over [`MAX_INDEX`] and names of more than
//! [`MAX_DEPTH`] parts. The work is linear in the parameters, which `form` bounds.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::form::{printable, Params};
use super::model::{Kind, Model, Protocol, Shape, ShapeRef};
use crate::api::ApiError;

/// Largest list index (`Name.N`).
pub(crate) const MAX_INDEX: usize = 1000;
/// Most `.`-separated parts in one parameter name.
pub(crate) const MAX_DEPTH: usize = 12;

/// A decoded request: the handler's JSON, and EC2's `DryRun` taken out of it.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The parameters as the JSON API takes them.
    pub(crate) params: Value,
    /// `DryRun=true`: authorize, then answer `DryRunOperation`.
    pub(crate) dry_run: bool,
}

/// The parameters, as a tree of name parts.
#[derive(Default)]
struct Node<'a> {
    value: Option<&'a str>,
    children: BTreeMap<&'a str, Node<'a>>,
}

/// Parameter errors in the service's dialect.
#[derive(Clone, Copy)]
pub(crate) struct Errors(pub(crate) Protocol);

impl Errors {
    /// A malformed or out-of-range value.
    pub(crate) fn invalid(self, message: impl Into<String>) -> ApiError {
        match self.0 {
            Protocol::Ec2 => ApiError::invalid(message),
            Protocol::Query => ApiError::client("ValidationError", message),
        }
    }

    fn unknown(self, path: &str) -> ApiError {
        let message = format!("The parameter {} is not recognized", printable(path));
        match self.0 {
            Protocol::Ec2 => ApiError::client("UnknownParameter", message),
            Protocol::Query => ApiError::client("ValidationError", message),
        }
    }

    fn missing(self, path: &str, member: &str) -> ApiError {
        match self.0 {
            Protocol::Ec2 => ApiError::missing(&printable(path)),
            Protocol::Query => ApiError::client(
                "ValidationError",
                format!(
                    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                    lower_first(member)
                ),
            ),
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The request name of a member: EC2 uses `queryName`, else the capitalized `locationName`;
/// the Query protocol uses `locationName`; both fall back to the member name.
fn wire_name(protocol: Protocol, member: &str, r: &ShapeRef) -> String {
    match protocol {
        Protocol::Ec2 => r
            .query_name
            .clone()
            .or_else(|| r.location_name.as_deref().map(upper_first))
            .unwrap_or_else(|| member.to_owned()),
        Protocol::Query => r.location_name.clone().unwrap_or_else(|| member.to_owned()),
    }
}

/// Decodes `params` (without `Action` and `Version`) for `action` of `model`.
pub(crate) fn decode(model: &Model, action: &str, params: &Params) -> Result<Decoded, ApiError> {
    let protocol = model.protocol();
    let errors = Errors(protocol);
    let mut root = Node::default();
    for (name, value) in &params.0 {
        if name == "Action" || name == "Version" {
            continue;
        }
        let mut node = &mut root;
        for (depth, part) in name.split('.').enumerate() {
            if depth >= MAX_DEPTH || part.is_empty() {
                return Err(errors.unknown(name));
            }
            node = node.children.entry(part).or_default();
        }
        node.value = Some(value);
    }
    let walker = Walker {
        model,
        protocol,
        errors,
    };
    let input = model
        .operations
        .get(action)
        .and_then(|op| op.input.as_ref())
        .map(|r| r.shape.as_str());
    let mut params = match input {
        Some(shape) => walker.walk(shape, &root, "")?,
        None if root.children.is_empty() => Value::Object(Map::new()),
        None => {
            let first = root.children.keys().next().copied().unwrap_or_default();
            return Err(errors.unknown(first));
        }
    };
    let dry_run = match params.as_object_mut().and_then(|o| o.remove("DryRun")) {
        Some(Value::Bool(b)) => b,
        _ => false,
    };
    Ok(Decoded { params, dry_run })
}

struct Walker<'m> {
    model: &'m Model,
    protocol: Protocol,
    errors: Errors,
}

fn join(prefix: &str, part: &str) -> String {
    if prefix.is_empty() {
        part.to_owned()
    } else {
        format!("{prefix}.{part}")
    }
}

/// A list index: `1`..=`MAX_INDEX`, no leading zero.
enum Index {
    At(usize),
    TooLarge,
    Other,
}

fn index(part: &str) -> Index {
    if part.is_empty() || part.starts_with('0') || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Index::Other;
    }
    match part.parse::<usize>() {
        Ok(n) if n <= MAX_INDEX => Index::At(n),
        _ => Index::TooLarge,
    }
}

impl Walker<'_> {
    fn shape(&self, name: &str) -> Result<&Shape, ApiError> {
        self.model
            .shape(name)
            .ok_or_else(|| ApiError::internal(format!("service model lacks shape {name}")))
    }

    fn walk(&self, shape_name: &str, node: &Node<'_>, path: &str) -> Result<Value, ApiError> {
        let shape = self.shape(shape_name)?;
        match shape.kind {
            Kind::Structure => self.structure(shape, node, path),
            Kind::List => self.list(shape, node, path, false),
            Kind::Map => self.map(shape, node, path),
            kind => {
                if let Some(first) = node.children.keys().next() {
                    return Err(self.errors.unknown(&join(path, first)));
                }
                self.scalar(kind, node.value.unwrap_or_default(), path)
            }
        }
    }

    fn structure(&self, shape: &Shape, node: &Node<'_>, path: &str) -> Result<Value, ApiError> {
        if node.children.is_empty() && node.value.is_some_and(|v| !v.is_empty()) {
            return Err(self.errors.invalid(format!(
                "The parameter {} takes members, not a value.",
                printable(path)
            )));
        }
        let mut out = Map::new();
        for (part, child) in &node.children {
            let member = shape.members.iter().find(|(name, r)| {
                wire_name(self.protocol, name, r) == *part
                    || (self.protocol == Protocol::Query
                        && self.flattened_list(r)
                        && r.location_name.as_deref() == Some(part))
            });
            let Some((name, r)) = member else {
                return Err(self.errors.unknown(&join(path, part)));
            };
            let child_path = join(path, part);
            let value = if self.flattened_list(r) {
                let list = self.shape(&r.shape)?;
                self.list(list, child, &child_path, true)?
            } else {
                self.walk(&r.shape, child, &child_path)?
            };
            out.insert(name.clone(), value);
        }
        for required in &shape.required {
            if !out.contains_key(required) {
                let wire = shape
                    .members
                    .get(required)
                    .map(|r| wire_name(self.protocol, required, r))
                    .unwrap_or_else(|| required.clone());
                return Err(self.errors.missing(&join(path, &wire), required));
            }
        }
        Ok(Value::Object(out))
    }

    /// Whether a member is a list without the `member` level.
    fn flattened_list(&self, r: &ShapeRef) -> bool {
        match self.model.target(r) {
            Some(s) if s.kind == Kind::List => {
                self.protocol == Protocol::Ec2 || r.flattened || s.flattened
            }
            _ => false,
        }
    }

    fn list(
        &self,
        shape: &Shape,
        node: &Node<'_>,
        path: &str,
        flattened: bool,
    ) -> Result<Value, ApiError> {
        let Some(member) = &shape.member else {
            return Err(ApiError::internal("list shape without a member"));
        };
        if node.children.is_empty() {
            // The Query protocol sends an empty list as `Name=`.
            return match node.value {
                Some("") | None => Ok(Value::Array(vec![])),
                Some(_) => Err(self.errors.invalid(format!(
                    "The parameter {} takes a list, not a value.",
                    printable(path)
                ))),
            };
        }
        let (items, items_path): (&BTreeMap<&str, Node<'_>>, String) = if flattened {
            (&node.children, path.to_owned())
        } else {
            let level = member.location_name.as_deref().unwrap_or("member");
            let mut it = node.children.iter();
            match (it.next(), it.next()) {
                (Some((k, child)), None) if *k == level => (&child.children, join(path, level)),
                _ => {
                    let bad = node
                        .children
                        .keys()
                        .find(|k| **k != level)
                        .copied()
                        .unwrap_or(level);
                    return Err(self.errors.unknown(&join(path, bad)));
                }
            }
        };
        let mut indexed = Vec::with_capacity(items.len());
        for (part, child) in items {
            let item_path = join(&items_path, part);
            match index(part) {
                Index::At(n) => indexed.push((n, self.walk(&member.shape, child, &item_path)?)),
                Index::TooLarge => {
                    return Err(self.errors.invalid(format!(
                        "The index of parameter {} is larger than {MAX_INDEX}.",
                        printable(&item_path)
                    )))
                }
                Index::Other => return Err(self.errors.unknown(&item_path)),
            }
        }
        indexed.sort_by_key(|(n, _)| *n);
        Ok(Value::Array(indexed.into_iter().map(|(_, v)| v).collect()))
    }

    fn map(&self, shape: &Shape, node: &Node<'_>, path: &str) -> Result<Value, ApiError> {
        let (Some(key), Some(value)) = (&shape.key, &shape.value) else {
            return Err(ApiError::internal("map shape without key or value"));
        };
        let key_name = key.location_name.as_deref().unwrap_or("key");
        let value_name = value.location_name.as_deref().unwrap_or("value");
        let (entries, entries_path) = if shape.flattened || self.protocol == Protocol::Ec2 {
            (&node.children, path.to_owned())
        } else {
            match node.children.get("entry") {
                Some(e) if node.children.len() == 1 => (&e.children, join(path, "entry")),
                _ => {
                    let bad = node
                        .children
                        .keys()
                        .find(|k| **k != "entry")
                        .copied()
                        .unwrap_or("");
                    return Err(self.errors.unknown(&join(path, bad)));
                }
            }
        };
        let mut out = Map::new();
        for (part, entry) in entries {
            let entry_path = join(&entries_path, part);
            match index(part) {
                Index::At(_) => {}
                Index::TooLarge => {
                    return Err(self.errors.invalid(format!(
                        "The index of parameter {} is larger than {MAX_INDEX}.",
                        printable(&entry_path)
                    )))
                }
                Index::Other => return Err(self.errors.unknown(&entry_path)),
            }
            if let Some(bad) = entry
                .children
                .keys()
                .find(|k| **k != key_name && **k != value_name)
            {
                return Err(self.errors.unknown(&join(&entry_path, bad)));
            }
            let k = entry
                .children
                .get(key_name)
                .and_then(|n| n.value)
                .ok_or_else(|| self.errors.missing(&join(&entry_path, key_name), key_name))?;
            let v = match entry.children.get(value_name) {
                Some(n) => self.walk(&value.shape, n, &join(&entry_path, value_name))?,
                None => Value::Null,
            };
            out.insert(k.to_owned(), v);
        }
        Ok(Value::Object(out))
    }

    fn scalar(&self, kind: Kind, text: &str, path: &str) -> Result<Value, ApiError> {
        let bad = |what: &str| {
            self.errors.invalid(format!(
                "Invalid value for parameter {}: expected {what}.",
                printable(path)
            ))
        };
        Ok(match kind {
            Kind::Integer | Kind::Long => {
                let n: i64 = text.trim().parse().map_err(|_| bad("an integer"))?;
                if kind == Kind::Integer && i32::try_from(n).is_err() {
                    return Err(bad("a 32-bit integer"));
                }
                Value::from(n)
            }
            Kind::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(bad("true or false")),
            },
            Kind::Double | Kind::Float => {
                let x: f64 = text.trim().parse().map_err(|_| bad("a number"))?;
                serde_json::Number::from_f64(x)
                    .map(Value::Number)
                    .ok_or_else(|| bad("a finite number"))?
            }
            Kind::String | Kind::Timestamp | Kind::Blob => Value::String(text.to_owned()),
            Kind::Structure | Kind::List | Kind::Map => {
                return Err(ApiError::internal("scalar() called on a container"))
            }
        })
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
