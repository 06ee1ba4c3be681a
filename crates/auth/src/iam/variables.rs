//! Policy variables (`${aws:username}`, `${key, 'default'}`, `${*}`) and the patterns that use
//! them.
//!
//! Patterns are kept as token lists: literal text, `*`, `?` and variables. Substitution turns a
//! variable into *literal* text, so a user named `a*` can never inject a wildcard. Variables are
//! recognised only under Version 2012-10-17; under 2008-10-17 `${...}` is ordinary text.

use std::borrow::Cow;

use super::glob::{fold_case, Glob, GlobBuilder};
use super::policy::Version;

/// Looks up the single value of a context key by lower-case name, for substitution.
pub(crate) trait VarLookup {
    /// The value of `key` (already lower case), or `None` if the key is absent or multi-valued.
    fn lookup(&self, key: &str) -> Option<Cow<'_, str>>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Variable {
    /// Context-key name in lower case (names are case-insensitive).
    key: String,
    default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Literal(String),
    Star,
    Question,
    Var(Variable),
}

/// A pattern or plain value as written in a policy, tokenized once at parse time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    tokens: Vec<Token>,
    /// Precompiled glob when there is no variable to substitute.
    fixed: Option<Glob>,
    ignore_case: bool,
}

/// Splits `text` into tokens. `wildcards` says whether `*` and `?` are wildcards (Resource,
/// `StringLike`, `ArnLike`) or plain characters (`StringEquals`).
pub(crate) fn tokenize(
    text: &str,
    version: Version,
    wildcards: bool,
) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if version == Version::V2012_10_17 && rest.starts_with("${") {
            let close = rest
                .find('}')
                .ok_or_else(|| format!("unterminated policy variable in {text:?}: missing '}}'"))?;
            let body = &rest[2..close];
            match body {
                "*" | "?" | "$" => literal.push_str(body),
                _ => {
                    push_literal(&mut tokens, &mut literal);
                    tokens.push(Token::Var(parse_variable(body, text)?));
                }
            }
            rest = &rest[close + 1..];
            continue;
        }
        if wildcards && (c == '*' || c == '?') {
            push_literal(&mut tokens, &mut literal);
            tokens.push(if c == '*' {
                Token::Star
            } else {
                Token::Question
            });
        } else {
            literal.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    push_literal(&mut tokens, &mut literal);
    Ok(tokens)
}

fn push_literal(tokens: &mut Vec<Token>, literal: &mut String) {
    if !literal.is_empty() {
        tokens.push(Token::Literal(std::mem::take(literal)));
    }
}

/// Parses the inside of `${...}`: `name` or `name, 'default'`.
fn parse_variable(body: &str, text: &str) -> Result<Variable, String> {
    let (name, default) = match body.split_once(',') {
        None => (body.trim(), None),
        Some((name, default)) => {
            let default = default.trim();
            let inner = default
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .filter(|d| !d.contains('\''))
                .ok_or_else(|| {
                    format!("invalid default in policy variable ${{{body}}} in {text:?}: expected 'text' in single quotes")
                })?;
            (name.trim(), Some(inner.to_owned()))
        }
    };
    let valid = !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '$' | '{' | '\'' | ','));
    if !valid {
        return Err(format!("invalid policy variable ${{{body}}} in {text:?}"));
    }
    Ok(Variable {
        key: name.to_ascii_lowercase(),
        default,
    })
}

impl Template {
    /// Tokenizes and, if there is no variable, precompiles.
    pub(crate) fn new(
        text: &str,
        version: Version,
        wildcards: bool,
        ignore_case: bool,
    ) -> Result<Self, String> {
        Ok(Self::from_tokens(
            tokenize(text, version, wildcards)?,
            ignore_case,
        ))
    }

    pub(crate) fn from_tokens(tokens: Vec<Token>, ignore_case: bool) -> Self {
        let has_vars = tokens.iter().any(|t| matches!(t, Token::Var(_)));
        let mut template = Self {
            tokens,
            fixed: None,
            ignore_case,
        };
        if !has_vars {
            template.fixed = template.build(&NoVars);
        }
        template
    }

    /// The glob after substitution; `None` if a variable has neither a value nor a default.
    pub(crate) fn glob(&self, vars: &dyn VarLookup) -> Option<Cow<'_, Glob>> {
        match &self.fixed {
            Some(glob) => Some(Cow::Borrowed(glob)),
            None => self.build(vars).map(Cow::Owned),
        }
    }

    fn build(&self, vars: &dyn VarLookup) -> Option<Glob> {
        let mut builder = GlobBuilder::new(self.ignore_case);
        for token in &self.tokens {
            match token {
                Token::Literal(s) => builder.literal(s),
                Token::Star => builder.star(),
                Token::Question => builder.question(),
                Token::Var(var) => builder.literal(&resolve(var, vars)?),
            }
        }
        Some(builder.finish())
    }

    /// The text after substitution, for templates without wildcards; folded if case is ignored.
    pub(crate) fn text(&self, vars: &dyn VarLookup) -> Option<String> {
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(s) => out.push_str(s),
                Token::Star => out.push('*'),
                Token::Question => out.push('?'),
                Token::Var(var) => out.push_str(&resolve(var, vars)?),
            }
        }
        Some(if self.ignore_case {
            fold_case(&out)
        } else {
            out
        })
    }

    /// True if the template needs a request context to be resolved.
    pub(crate) fn has_vars(&self) -> bool {
        self.fixed.is_none()
    }
}

fn resolve<'a>(var: &'a Variable, vars: &'a dyn VarLookup) -> Option<Cow<'a, str>> {
    vars.lookup(&var.key)
        .or_else(|| var.default.as_deref().map(Cow::Borrowed))
}

/// A lookup with no keys: resolves only templates without variables.
struct NoVars;

impl VarLookup for NoVars {
    fn lookup(&self, _key: &str) -> Option<Cow<'_, str>> {
        None
    }
}

/// Splits tokens at the first `n` literal `:` characters. Colons inside substituted values do not
/// split, because substitution happens later, per component.
pub(crate) fn split_on_colons(tokens: Vec<Token>, n: usize) -> Vec<Vec<Token>> {
    let mut parts: Vec<Vec<Token>> = vec![Vec::new()];
    for token in tokens {
        let Token::Literal(text) = token else {
            if let Some(part) = parts.last_mut() {
                part.push(token);
            }
            continue;
        };
        let mut rest = text.as_str();
        while parts.len() <= n {
            let Some((head, tail)) = rest.split_once(':') else {
                break;
            };
            if let Some(part) = parts.last_mut() {
                if !head.is_empty() {
                    part.push(Token::Literal(head.to_owned()));
                }
            }
            parts.push(Vec::new());
            rest = tail;
        }
        if let Some(part) = parts.last_mut() {
            if !rest.is_empty() {
                part.push(Token::Literal(rest.to_owned()));
            }
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Map(HashMap<&'static str, &'static str>);

    impl VarLookup for Map {
        fn lookup(&self, key: &str) -> Option<Cow<'_, str>> {
            self.0.get(key).map(|v| Cow::Borrowed(*v))
        }
    }

    fn vars() -> Map {
        Map(HashMap::from([("aws:username", "a*"), ("k", "x:y")]))
    }

    #[test]
    fn substitution_is_literal() {
        let t = Template::new("home/${aws:username}/*", Version::V2012_10_17, true, false);
        let t = t.ok();
        let g = t.as_ref().and_then(|t| t.glob(&vars()));
        assert!(g.as_ref().is_some_and(|g| g.matches("home/a*/x")));
        assert!(g.as_ref().is_some_and(|g| !g.matches("home/abc/x")));
    }

    #[test]
    fn escapes_defaults_and_undefined() {
        let t = Template::new(
            "${*}${?}${$}-${missing, 'dflt'}",
            Version::V2012_10_17,
            true,
            false,
        );
        assert_eq!(
            t.ok().and_then(|t| t.text(&vars())),
            Some("*?$-dflt".to_owned())
        );
        let t = Template::new("${AWS:UserID}", Version::V2012_10_17, true, false);
        assert_eq!(t.ok().map(|t| t.text(&vars())), Some(None));
    }

    #[test]
    fn version_2008_is_literal() {
        let t = Template::new("${aws:username}", Version::V2008_10_17, false, false);
        assert_eq!(
            t.ok().and_then(|t| t.text(&vars())),
            Some("${aws:username}".to_owned())
        );
    }

    #[test]
    fn malformed_variables() {
        for bad in [
            "${",
            "${aws:username",
            "${}",
            "${a b}",
            "${a, dflt}",
            "${a, 'x'y'}",
        ] {
            assert!(tokenize(bad, Version::V2012_10_17, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn colons_in_variables_do_not_split() {
        let tokens = tokenize(
            "arn:aws:s3:::b/${aws:username}:x",
            Version::V2012_10_17,
            true,
        );
        let parts = tokens.map(|t| split_on_colons(t, 5)).unwrap_or_default();
        assert_eq!(parts.len(), 6);
        assert_eq!(parts[5].len(), 3);
    }
}
