//! A strict JSON tree for policy documents.
//!
//! `serde_json::Value` silently keeps the last of two duplicate keys, so a document such as
//! `{"Effect": "Deny", "Effect": "Allow"}` would mean different things to different readers.
//! [`Json`] refuses duplicates. Nesting depth is bounded by serde_json's recursion limit (128),
//! so hostile nesting gives an error instead of a stack overflow, and everything that walks the
//! tree afterwards recurses at most that deep.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A parsed JSON value. Objects keep their keys in document order; keys are unique.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// The number as text (shortest form that round-trips for floats).
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses `text` strictly: one JSON value, no trailing data, no duplicate keys.
    pub(crate) fn parse(text: &str) -> Result<Json, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The JSON type name, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        // Shortest text that reads back as the same number; -0 is written as 0, as integer
        // parsing would read it.
        let v = if v == 0.0 { 0.0 } else { v };
        Ok(Json::Number(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries: Vec<(String, Json)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                // serde_json appends "at line L column C" to custom errors.
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let value = map.next_value::<Json>()?;
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_types() {
        let j = Json::parse(r#"{"b": [1, -2, 1.5, true, null], "a": "x"}"#).ok();
        let expected = Json::Object(vec![
            (
                "b".into(),
                Json::Array(vec![
                    Json::Number("1".into()),
                    Json::Number("-2".into()),
                    Json::Number("1.5".into()),
                    Json::Bool(true),
                    Json::Null,
                ]),
            ),
            ("a".into(), Json::String("x".into())),
        ]);
        assert_eq!(j, Some(expected));
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        for text in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"x": [{"k": 1, "j": 0, "k": 1}]}"#,
        ] {
            let err = Json::parse(text).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains("duplicate key")),
                "{err:?}"
            );
        }
    }

    #[test]
    fn refuses_deep_nesting_without_overflow() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let err = Json::parse(&deep).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("recursion limit")),
            "{err:?}"
        );
    }

    #[test]
    fn refuses_trailing_data() {
        assert!(Json::parse(r#"{} {}"#).is_err());
    }
}
