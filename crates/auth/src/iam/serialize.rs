//! Policy → compact JSON that parses back to an equal [`Policy`]. The output has no whitespace,
//! short escapes, single values unwrapped and account principals as ids, so it is no longer than
//! the document it came from, except that a number written with an exponent (`1e300`) comes
//! back in plain decimal form.

use std::fmt::{self, Write};

use super::policy::{Policy, PrincipalEntry, Statement};

/// Compact JSON that [`Policy::parse`] reads back to an equal policy.
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{\"Version\":")?;
        string(f, self.version.as_str())?;
        if let Some(id) = &self.id {
            f.write_str(",\"Id\":")?;
            string(f, id)?;
        }
        f.write_str(",\"Statement\":")?;
        if let [only] = self.statements.as_slice() {
            statement(f, only)?;
            return f.write_char('}');
        }
        f.write_char('[')?;
        for (i, st) in self.statements.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            statement(f, st)?;
        }
        f.write_str("]}")
    }
}

impl Policy {
    /// The policy as compact JSON (same as `to_string()`).
    pub fn to_json(&self) -> String {
        self.to_string()
    }
}

fn statement(f: &mut fmt::Formatter<'_>, st: &Statement) -> fmt::Result {
    f.write_char('{')?;
    if let Some(sid) = &st.sid {
        f.write_str("\"Sid\":")?;
        string(f, sid)?;
        f.write_char(',')?;
    }
    f.write_str("\"Effect\":")?;
    string(f, st.effect.as_str())?;
    if let Some(p) = &st.principal {
        f.write_str(if p.negated {
            ",\"NotPrincipal\":"
        } else {
            ",\"Principal\":"
        })?;
        principal(f, &p.entries)?;
    }
    let action = &st.action;
    f.write_str(if action.negated {
        ",\"NotAction\":"
    } else {
        ",\"Action\":"
    })?;
    list(f, action.patterns.iter().map(|p| p.source.as_str()))?;
    if let Some(resource) = &st.resource {
        f.write_str(if resource.negated {
            ",\"NotResource\":"
        } else {
            ",\"Resource\":"
        })?;
        list(f, resource.patterns.iter().map(|p| p.source.as_str()))?;
    }
    if !st.conditions.is_empty() {
        f.write_str(",\"Condition\":{")?;
        // Entries of one operator are adjacent (parsing flattens operator by operator).
        let mut previous = None;
        for c in &st.conditions {
            let op = c.operator();
            if previous == Some(op) {
                f.write_char(',')?;
            } else {
                if previous.is_some() {
                    f.write_str("},")?;
                }
                string(f, &op.to_string())?;
                f.write_str(":{")?;
                previous = Some(op);
            }
            string(f, c.key())?;
            f.write_char(':')?;
            let several = c.values().len() > 1;
            if several {
                f.write_char('[')?;
            }
            for (i, (text, quoted)) in c.values().iter().zip(c.quoted()).enumerate() {
                if i > 0 {
                    f.write_char(',')?;
                }
                if *quoted {
                    string(f, text)?;
                } else {
                    f.write_str(text)?; // a JSON number or boolean, as parsed
                }
            }
            if several {
                f.write_char(']')?;
            }
        }
        f.write_str("}}")?;
    }
    f.write_char('}')
}

/// `"*"` alone, or an object grouping entries by type in order of first appearance.
fn principal(f: &mut fmt::Formatter<'_>, entries: &[PrincipalEntry]) -> fmt::Result {
    if entries == [PrincipalEntry::Any] {
        return f.write_str("\"*\"");
    }
    let kind = |e: &PrincipalEntry| match e {
        PrincipalEntry::Any | PrincipalEntry::Account(_) | PrincipalEntry::Arn(_) => "AWS",
        PrincipalEntry::Service(_) => "Service",
        PrincipalEntry::Federated(_) => "Federated",
        PrincipalEntry::CanonicalUser(_) => "CanonicalUser",
    };
    let mut kinds: Vec<&str> = Vec::new();
    for e in entries {
        if !kinds.contains(&kind(e)) {
            kinds.push(kind(e));
        }
    }
    f.write_char('{')?;
    for (i, k) in kinds.iter().enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        string(f, k)?;
        f.write_char(':')?;
        list(
            f,
            entries.iter().filter(|e| kind(e) == *k).map(|e| match e {
                PrincipalEntry::Any => "*",
                PrincipalEntry::Account(s)
                | PrincipalEntry::Arn(s)
                | PrincipalEntry::Service(s)
                | PrincipalEntry::Federated(s)
                | PrincipalEntry::CanonicalUser(s) => s.as_str(),
            }),
        )?;
    }
    f.write_char('}')
}

/// One string as a JSON string, several as an array.
fn list<'a>(
    f: &mut fmt::Formatter<'_>,
    items: impl Iterator<Item = &'a str> + Clone,
) -> fmt::Result {
    let mut peek = items.clone();
    if let (Some(only), None) = (peek.next(), peek.next()) {
        return string(f, only);
    }
    f.write_char('[')?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        string(f, item)?;
    }
    f.write_char(']')
}

/// A JSON string literal with the shortest escapes.
fn string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if u32::from(c) < 0x20 => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}
