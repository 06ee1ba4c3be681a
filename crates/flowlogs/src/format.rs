//! Flow-log format strings: `${field} ${field} …`, exactly as AWS accepts them.

use std::fmt;

use crate::field::Field;

/// The default (version 2) format.
pub const DEFAULT_FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";

/// Why a format string was refused (EC2 answers these with `InvalidParameter`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The string is empty.
    #[error("LogFormat must name at least one field")]
    Empty,
    /// A token is not `${name}`, or fields are not separated by single spaces.
    #[error("LogFormat token {0:?} is not of the form ${{field}} (fields are separated by single spaces)")]
    Token(String),
    /// An unknown field name.
    #[error("Unknown fields provided: {0}")]
    UnknownField(String),
    /// A field named twice.
    #[error("Duplicate field in LogFormat: {0}")]
    Duplicate(String),
}

/// A parsed format: the fields of each record, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLogFormat {
    fields: Vec<Field>,
}

impl FlowLogFormat {
    /// Parses a format string.
    pub fn parse(text: &str) -> Result<Self, FormatError> {
        if text.is_empty() {
            return Err(FormatError::Empty);
        }
        let mut fields = Vec::new();
        for token in text.split(' ') {
            let name = token
                .strip_prefix("${")
                .and_then(|t| t.strip_suffix('}'))
                .filter(|n| !n.is_empty())
                .ok_or_else(|| FormatError::Token(token.chars().take(64).collect()))?;
            let field: Field = name
                .parse()
                .map_err(|()| FormatError::UnknownField(name.chars().take(64).collect()))?;
            if fields.contains(&field) {
                return Err(FormatError::Duplicate(field.name().to_owned()));
            }
            fields.push(field);
        }
        Ok(Self { fields })
    }

    /// Parses a header line (`version account-id …`, the field names separated by single
    /// spaces), as text objects start with.
    pub fn from_header(line: &str) -> Result<Self, FormatError> {
        if line.is_empty() {
            return Err(FormatError::Empty);
        }
        let mut fields = Vec::new();
        for name in line.split(' ') {
            let field: Field = name
                .parse()
                .map_err(|()| FormatError::UnknownField(name.chars().take(64).collect()))?;
            if fields.contains(&field) {
                return Err(FormatError::Duplicate(field.name().to_owned()));
            }
            fields.push(field);
        }
        Ok(Self { fields })
    }

    /// The default version 2 format.
    pub fn default_v2() -> Self {
        Self {
            fields: Field::ALL[..14].to_vec(),
        }
    }

    /// The fields, in record order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The record version: the highest version among the fields used (as AWS writes it).
    pub fn version(&self) -> u8 {
        self.fields.iter().map(|f| f.version()).max().unwrap_or(2)
    }

    /// The header line AWS writes at the top of text files (field names, space-separated).
    pub fn header(&self) -> String {
        self.fields
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for FlowLogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .fields
            .iter()
            .map(|x| format!("${{{}}}", x.name()))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_custom_formats() {
        let d = FlowLogFormat::parse(DEFAULT_FORMAT).unwrap();
        assert_eq!(d, FlowLogFormat::default_v2());
        assert_eq!(d.version(), 2);
        assert_eq!(d.to_string(), DEFAULT_FORMAT);
        let c = FlowLogFormat::parse(
            "${version} ${vpc-id} ${subnet-id} ${tcp-flags} ${flow-direction} ${srcaddr}",
        )
        .unwrap();
        assert_eq!(c.version(), 5);
        assert_eq!(
            c.header(),
            "version vpc-id subnet-id tcp-flags flow-direction srcaddr"
        );
        assert_eq!(
            FlowLogFormat::parse("${reject-reason}").unwrap().version(),
            8
        );
        assert_eq!(FlowLogFormat::from_header(&c.header()).unwrap(), c);
        assert_eq!(FlowLogFormat::from_header(&d.header()).unwrap(), d);
        assert!(FlowLogFormat::from_header("version nope").is_err());
        assert!(FlowLogFormat::from_header("").is_err());
    }

    #[test]
    fn refused_formats() {
        for (bad, want) in [
            ("", FormatError::Empty),
            ("${version}  ${srcaddr}", FormatError::Token(String::new())),
            ("$version", FormatError::Token("$version".into())),
            ("${}", FormatError::Token("${}".into())),
            (
                "${version} ${nope}",
                FormatError::UnknownField("nope".into()),
            ),
            (
                "${srcaddr} ${srcaddr}",
                FormatError::Duplicate("srcaddr".into()),
            ),
            (
                "${version}\n${srcaddr}",
                FormatError::UnknownField("version}\n${srcaddr".into()),
            ),
        ] {
            assert_eq!(FlowLogFormat::parse(bad), Err(want), "{bad:?}");
        }
    }
}
