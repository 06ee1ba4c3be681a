//! Condition operators: parsing, value validation and evaluation.
//!
//! Semantics, per (operator, key) entry:
//! - several values for one key are OR-ed; entries (keys and operators) are AND-ed by the caller;
//! - a missing key (or one with no values) makes positive operators false and negated ones
//!   (`StringNot*`, `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`, `ArnNot*`) true;
//!   `…IfExists` makes a missing key true; `Null: true` means "absent";
//! - `ForAnyValue:` needs one request value to pass, `ForAllValues:` needs every one to pass and
//!   is true for an empty or missing set; without a qualifier a positive operator behaves like
//!   `ForAnyValue` and a negated one like `ForAllValues` ("no request value equals any listed");
//! - a request value that does not parse (a bad IP, number or date) equals no listed value;
//! - a listed value whose policy variable has no value and no default matches nothing, and makes a
//!   negated operator false: an undefined variable never makes a statement apply more widely.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;

use super::arn_match::{split_arn, ArnPattern, PatternMatch};
use super::context::RequestContext;
use super::error::PolicyError;
use super::glob::fold_case;
use super::policy::Version;
use super::values::{
    net_contains, parse_base64, parse_bool, parse_cidr, parse_date, parse_ip, parse_number,
};
use super::variables::Template;

macro_rules! base_operators {
    ($($name:ident),* $(,)?) => {
        /// A condition operator without its `ForAnyValue:`/`ForAllValues:` prefix or `IfExists`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)] // each variant is the AWS operator of the same name
        pub enum BaseOperator { $($name),* }

        impl BaseOperator {
            /// Every operator, in AWS's documentation order.
            pub const ALL: &'static [BaseOperator] = &[$(BaseOperator::$name),*];

            /// The operator's name as written in a policy.
            pub fn name(self) -> &'static str {
                match self { $(BaseOperator::$name => stringify!($name)),* }
            }
        }
    };
}

base_operators!(
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
);

impl BaseOperator {
    /// True for operators that pass when the value matches none of the listed values.
    pub fn is_negated(self) -> bool {
        use BaseOperator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }
}

/// `ForAnyValue:` or `ForAllValues:`, for multi-valued context keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    /// At least one request value must pass; false when the key has no values.
    ForAnyValue,
    /// Every request value must pass; true when the key has no values.
    ForAllValues,
}

/// A full condition operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operator {
    /// The set qualifier prefix, if any.
    pub qualifier: Option<SetQualifier>,
    /// The operator proper.
    pub base: BaseOperator,
    /// The `IfExists` suffix: a missing key passes.
    pub if_exists: bool,
}

impl FromStr for Operator {
    type Err = String;

    /// Parses an operator name; names are case-sensitive, as AWS writes them.
    fn from_str(s: &str) -> Result<Self, String> {
        let (qualifier, rest) = if let Some(rest) = s.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else if let Some(rest) = s.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else {
            (None, s)
        };
        let (if_exists, name) = match rest.strip_suffix("IfExists") {
            Some(name) => (true, name),
            None => (false, rest),
        };
        let base = BaseOperator::ALL
            .iter()
            .copied()
            .find(|op| op.name() == name)
            .ok_or_else(|| format!("unknown condition operator {s:?}"))?;
        if base == BaseOperator::Null && (if_exists || qualifier.is_some()) {
            return Err(format!(
                "{s:?}: Null takes no IfExists suffix and no ForAnyValue/ForAllValues prefix"
            ));
        }
        Ok(Self {
            qualifier,
            base,
            if_exists,
        })
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.qualifier {
            Some(SetQualifier::ForAnyValue) => f.write_str("ForAnyValue:")?,
            Some(SetQualifier::ForAllValues) => f.write_str("ForAllValues:")?,
            None => {}
        }
        f.write_str(self.base.name())?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// The listed values, compiled for their operator family.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// `String(Not)Equals(IgnoreCase)`: `fixed` holds values without variables (folded when
    /// case is ignored), `templated` the ones with variables.
    Text {
        fixed: HashSet<String>,
        templated: Vec<Template>,
        ignore_case: bool,
    },
    Like(Vec<Template>),
    Number(Cmp, Vec<f64>),
    Date(Cmp, Vec<i128>),
    Bool(Vec<bool>),
    Binary(Vec<Vec<u8>>),
    Ip(Vec<IpNet>),
    Arn(Vec<ArnPattern>),
    Null(Vec<bool>),
}

/// A condition value as written: its text, whether it was a JSON string (rather than a number
/// or boolean), and its path for error messages.
#[derive(Debug, Clone)]
pub(crate) struct RawValue {
    pub(crate) path: String,
    pub(crate) text: String,
    pub(crate) quoted: bool,
}

/// One (operator, key) entry of a `Condition` block with its listed values.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    operator: Operator,
    key: String,
    key_lower: String,
    sources: Vec<String>,
    /// Per value: written as a JSON string (else a number or boolean); for serialization.
    quoted: Vec<bool>,
    values: Values,
}

impl Condition {
    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The context key as written (names are compared without regard to case).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The listed values as written (JSON numbers and booleans as text).
    pub fn values(&self) -> &[String] {
        &self.sources
    }

    /// Per value: true if it was written as a JSON string, false for a number or boolean.
    pub(crate) fn quoted(&self) -> &[bool] {
        &self.quoted
    }

    /// Compiles an entry.
    pub(crate) fn parse(
        operator: Operator,
        key: &str,
        values: Vec<RawValue>,
        version: Version,
    ) -> Result<Self, PolicyError> {
        use BaseOperator::*;
        let number_cmp = |op| match op {
            NumericLessThan | DateLessThan => Cmp::Lt,
            NumericLessThanEquals | DateLessThanEquals => Cmp::Le,
            NumericGreaterThan | DateGreaterThan => Cmp::Gt,
            NumericGreaterThanEquals | DateGreaterThanEquals => Cmp::Ge,
            _ => Cmp::Eq,
        };
        let compiled = match operator.base {
            StringEquals | StringNotEquals | StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
                let ignore_case = matches!(
                    operator.base,
                    StringEqualsIgnoreCase | StringNotEqualsIgnoreCase
                );
                let mut fixed = HashSet::new();
                let mut templated = Vec::new();
                let all = collect(&values, |t| {
                    Template::new(t, version, false, ignore_case)
                        .map_err(|m| format!("invalid value: {m}"))
                })?;
                for template in all {
                    match template.text(&NoContext) {
                        Some(text) if !template.has_vars() => {
                            fixed.insert(text);
                        }
                        _ => templated.push(template),
                    }
                }
                Values::Text {
                    fixed,
                    templated,
                    ignore_case,
                }
            }
            StringLike | StringNotLike => Values::Like(collect(&values, |t| {
                Template::new(t, version, true, false).map_err(|m| format!("invalid pattern: {m}"))
            })?),
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => Values::Number(
                number_cmp(operator.base),
                collect(&values, |t| {
                    parse_number(t).ok_or_else(|| format!("{t:?} is not a number"))
                })?,
            ),
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => Values::Date(
                number_cmp(operator.base),
                collect(&values, |t| {
                    parse_date(t).ok_or_else(|| {
                    format!("{t:?} is not a date: expected ISO 8601 (2019-06-30T00:00:00Z) or epoch seconds")
                })
                })?,
            ),
            Bool => Values::Bool(collect(&values, |t| {
                parse_bool(t).ok_or_else(|| {
                    format!("{t:?} is not a boolean: expected \"true\" or \"false\"")
                })
            })?),
            Null => Values::Null(collect(&values, |t| {
                parse_bool(t).ok_or_else(|| {
                    format!("{t:?} is not a boolean: expected \"true\" or \"false\"")
                })
            })?),
            BinaryEquals => Values::Binary(collect(&values, |t| {
                parse_base64(t).ok_or_else(|| format!("{t:?} is not base64"))
            })?),
            IpAddress | NotIpAddress => Values::Ip(collect(&values, |t| {
                parse_cidr(t).ok_or_else(|| {
                    format!("{t:?} is not an IP address or CIDR block (e.g. 203.0.113.0/24, 2001:db8::/32)")
                })
            })?),
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => {
                Values::Arn(collect(&values, |t| ArnPattern::parse(t, version))?)
            }
        };
        Ok(Self {
            operator,
            key: key.to_owned(),
            key_lower: key.to_ascii_lowercase(),
            quoted: values.iter().map(|v| v.quoted).collect(),
            sources: values.into_iter().map(|v| v.text).collect(),
            values: compiled,
        })
    }

    /// Whether the entry holds for `ctx`.
    pub(crate) fn evaluate(&self, ctx: &RequestContext) -> bool {
        let request = ctx.key_values(&self.key_lower);
        if let Values::Null(expected) = &self.values {
            let present = request.is_present();
            return expected.iter().any(|&absent| absent != present);
        }
        let negated = self.operator.base.is_negated();
        if !request.is_present() {
            return self.operator.if_exists
                || match self.operator.qualifier {
                    Some(SetQualifier::ForAllValues) => true,
                    Some(SetQualifier::ForAnyValue) => false,
                    None => negated,
                };
        }
        let passes = |value: &str| match self.matches_any(value, ctx) {
            Some(matched) => matched != negated,
            None => false, // an unresolved variable passes neither way
        };
        match (self.operator.qualifier, negated) {
            (Some(SetQualifier::ForAnyValue), _) | (None, false) => request.any(passes),
            (Some(SetQualifier::ForAllValues), _) | (None, true) => request.all(passes),
        }
    }

    /// Whether one request value equals (in the positive sense of the operator) any listed
    /// value: `Some(true)` if one matches, `Some(false)` if none does, `None` if none matches
    /// and some listed value could not be resolved.
    fn matches_any(&self, value: &str, ctx: &RequestContext) -> Option<bool> {
        let mut unresolved = false;
        let matched = match &self.values {
            Values::Text {
                fixed,
                templated,
                ignore_case,
            } => {
                let folded;
                let value = if *ignore_case {
                    folded = fold_case(value);
                    folded.as_str()
                } else {
                    value
                };
                fixed.contains(value)
                    || templated.iter().any(|t| match t.text(ctx) {
                        Some(text) => text == value,
                        None => {
                            unresolved = true;
                            false
                        }
                    })
            }
            Values::Like(patterns) => patterns.iter().any(|t| match t.glob(ctx) {
                Some(glob) => glob.matches_folded(value),
                None => {
                    unresolved = true;
                    false
                }
            }),
            Values::Number(cmp, listed) => {
                parse_number(value).is_some_and(|v| listed.iter().any(|&p| cmp.holds(v, p)))
            }
            Values::Date(cmp, listed) => {
                parse_date(value).is_some_and(|v| listed.iter().any(|&p| cmp.holds(v, p)))
            }
            Values::Bool(listed) => parse_bool(value).is_some_and(|v| listed.contains(&v)),
            Values::Binary(listed) => parse_base64(value).is_some_and(|v| listed.contains(&v)),
            Values::Ip(nets) => {
                parse_ip(value).is_some_and(|addr| nets.iter().any(|n| net_contains(n, addr)))
            }
            Values::Arn(patterns) => {
                let arn = split_arn(value);
                patterns.iter().any(|p| match p.matches(arn.as_ref(), ctx) {
                    PatternMatch::Match => true,
                    PatternMatch::NoMatch => false,
                    PatternMatch::Unresolved => {
                        unresolved = true;
                        false
                    }
                })
            }
            Values::Null(_) => false, // handled in evaluate
        };
        if matched {
            Some(true)
        } else if unresolved {
            None
        } else {
            Some(false)
        }
    }
}

fn collect<T>(
    values: &[RawValue],
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, PolicyError> {
    values
        .iter()
        .map(|v| parse(&v.text).map_err(|m| PolicyError::invalid(&v.path, m)))
        .collect()
}

/// Resolves nothing; used to pre-render values without variables.
struct NoContext;

impl super::variables::VarLookup for NoContext {
    fn lookup(&self, _key: &str) -> Option<std::borrow::Cow<'_, str>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_round_trip() {
        for base in BaseOperator::ALL {
            for qualifier in [
                None,
                Some(SetQualifier::ForAnyValue),
                Some(SetQualifier::ForAllValues),
            ] {
                for if_exists in [false, true] {
                    let op = Operator {
                        qualifier,
                        base: *base,
                        if_exists,
                    };
                    let parsed = op.to_string().parse::<Operator>();
                    if *base == BaseOperator::Null && (if_exists || qualifier.is_some()) {
                        assert!(parsed.is_err(), "{op}");
                    } else {
                        assert_eq!(parsed, Ok(op));
                    }
                }
            }
        }
        assert_eq!(BaseOperator::ALL.len(), 27);
    }

    #[test]
    fn unknown_operators() {
        for bad in [
            "StringEqualz",
            "stringequals",
            "IfExists",
            "ForSomeValues:StringEquals",
            "StringEquals ",
        ] {
            assert!(bad.parse::<Operator>().is_err(), "{bad}");
        }
    }
}
