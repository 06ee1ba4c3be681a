//! `*` / `?` wildcard matching in linear-ish time.
//!
//! A pattern is split on `*` into segments; each segment is a fixed-length run of literal text
//! and `?` (exactly one character). The first segment is anchored at the start, the last at the
//! end, and the middle ones are placed greedily at their leftmost occurrence. Leftmost placement
//! is always safe for `*` globs: it leaves the most room for what follows, so there is never a
//! reason to backtrack. Cost is O(text × segment length) at worst and never exponential:
//! `*a*a*a*a*a*b` against a long string of `a` is rejected after one look at the last character.

use std::fmt;

/// A compiled `*` / `?` wildcard pattern. `*` matches any run of characters (including `:` and
/// `/`, and the empty run); `?` matches exactly one character; everything else is literal.
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    /// `stars + 1` segments; a pattern without `*` has exactly one.
    segments: Vec<Segment>,
    /// Literals are stored case-folded and text is folded before matching.
    ignore_case: bool,
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
struct Segment {
    pieces: Vec<Piece>,
    /// Length of the segment in characters.
    chars: usize,
}

#[derive(Clone, PartialEq, Eq, Debug)]
enum Piece {
    Literal(String),
    /// This many arbitrary characters (a run of `?`).
    Any(usize),
}

/// Folds case one character at a time, the same way for patterns and text.
pub(crate) fn fold_case(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

impl Glob {
    /// Compiles `pattern`, matching case-sensitively.
    pub fn new(pattern: &str) -> Self {
        Self::compile(pattern, false)
    }

    /// Compiles `pattern`, matching without regard to case.
    pub fn new_ignore_case(pattern: &str) -> Self {
        Self::compile(pattern, true)
    }

    fn compile(pattern: &str, ignore_case: bool) -> Self {
        let mut builder = GlobBuilder::new(ignore_case);
        let mut literal_start = 0;
        for (i, c) in pattern.char_indices() {
            if c == '*' || c == '?' {
                builder.literal(&pattern[literal_start..i]);
                if c == '*' {
                    builder.star();
                } else {
                    builder.question();
                }
                literal_start = i + 1;
            }
        }
        builder.literal(&pattern[literal_start..]);
        builder.finish()
    }

    /// True if the pattern is exactly `*` (matches everything).
    pub fn is_match_all(&self) -> bool {
        self.segments.len() == 2 && self.segments.iter().all(|s| s.chars == 0)
    }

    /// True if `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        if self.ignore_case {
            self.matches_folded(&fold_case(text))
        } else {
            self.matches_folded(text)
        }
    }

    /// Like [`Glob::matches`], for text that the caller has already passed through
    /// [`fold_case`] when the pattern ignores case.
    pub(crate) fn matches_folded(&self, text: &str) -> bool {
        let (first, rest) = match self.segments.split_first() {
            Some(split) => split,
            None => return text.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return first.match_at(text, 0) == Some(text.len());
        };
        let Some(mut pos) = first.match_at(text, 0) else {
            return false;
        };
        // Anchor the last segment at the end before searching the middle ones: a failing suffix
        // (the usual case for hostile patterns) costs O(segment) and nothing else.
        let Some(tail) = start_of_last_chars(text, last.chars) else {
            return false;
        };
        if tail < pos || last.match_at(text, tail) != Some(text.len()) {
            return false;
        }
        let window = &text[..tail];
        for segment in middle {
            match segment.find(window, pos) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        true
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?}", self.to_string())?;
        if self.ignore_case {
            f.write_str(", ignore_case")?;
        }
        f.write_str(")")
    }
}

/// Renders the pattern back; literal `*`/`?` (from policy-variable escapes or substituted
/// values) are shown as `${*}` / `${?}`, so the text is unambiguous.
impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str("*")?;
            }
            for piece in &segment.pieces {
                match piece {
                    Piece::Literal(s) => {
                        for c in s.chars() {
                            match c {
                                '*' => f.write_str("${*}")?,
                                '?' => f.write_str("${?}")?,
                                c => write!(f, "{c}")?,
                            }
                        }
                    }
                    Piece::Any(n) => (0..*n).try_for_each(|_| f.write_str("?"))?,
                }
            }
        }
        Ok(())
    }
}

/// Byte index where the last `n` characters of `text` start, if it has that many.
fn start_of_last_chars(text: &str, n: usize) -> Option<usize> {
    if n == 0 {
        return Some(text.len());
    }
    text.char_indices().rev().nth(n - 1).map(|(i, _)| i)
}

/// Advances `pos` over `n` characters of `text`.
fn skip_chars(text: &str, pos: usize, n: usize) -> Option<usize> {
    let rest = text.get(pos..)?;
    if n == 0 {
        return Some(pos);
    }
    rest.char_indices()
        .nth(n - 1)
        .map(|(i, c)| pos + i + c.len_utf8())
}

impl Segment {
    /// If the segment matches `text` starting at byte `pos`, the byte index just after it.
    fn match_at(&self, text: &str, mut pos: usize) -> Option<usize> {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(lit) => {
                    if !text.get(pos..)?.starts_with(lit.as_str()) {
                        return None;
                    }
                    pos += lit.len();
                }
                Piece::Any(n) => pos = skip_chars(text, pos, *n)?,
            }
        }
        Some(pos)
    }

    /// The end of the leftmost occurrence of the segment in `text` at or after `from`.
    fn find(&self, text: &str, from: usize) -> Option<usize> {
        match self.pieces.first() {
            None => Some(from),
            Some(Piece::Literal(lit)) => {
                // Jump straight to each occurrence of the literal's first character (a memchr
                // for ASCII; cheaper than building a substring searcher per call).
                let first = lit.chars().next()?;
                let mut start = from;
                loop {
                    let offset = text.get(start..)?.find(first)?;
                    let candidate = start + offset;
                    if let Some(end) = self.match_at(text, candidate) {
                        return Some(end);
                    }
                    let step = text.get(candidate..)?.chars().next()?.len_utf8();
                    start = candidate + step;
                }
            }
            Some(Piece::Any(_)) => {
                let rest = text.get(from..)?;
                rest.char_indices()
                    .map(|(i, _)| from + i)
                    .find_map(|start| self.match_at(text, start))
            }
        }
    }
}

/// Builds a [`Glob`] from pieces; used for patterns whose literals come from several places
/// (pattern text, substituted policy variables), where only the builder's `star`/`question`
/// calls are wildcards.
#[derive(Debug)]
pub(crate) struct GlobBuilder {
    segments: Vec<Segment>,
    current: Segment,
    ignore_case: bool,
}

impl GlobBuilder {
    pub(crate) fn new(ignore_case: bool) -> Self {
        Self {
            segments: Vec::new(),
            current: Segment::default(),
            ignore_case,
        }
    }

    /// Appends literal text: `*` and `?` in it match only themselves.
    pub(crate) fn literal(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let folded;
        let text = if self.ignore_case {
            folded = fold_case(text);
            folded.as_str()
        } else {
            text
        };
        self.current.chars += text.chars().count();
        if let Some(Piece::Literal(prev)) = self.current.pieces.last_mut() {
            prev.push_str(text);
        } else {
            self.current.pieces.push(Piece::Literal(text.to_owned()));
        }
    }

    /// Appends `?`.
    pub(crate) fn question(&mut self) {
        self.current.chars += 1;
        if let Some(Piece::Any(n)) = self.current.pieces.last_mut() {
            *n += 1;
        } else {
            self.current.pieces.push(Piece::Any(1));
        }
    }

    /// Appends `*`; consecutive stars collapse into one.
    pub(crate) fn star(&mut self) {
        if self.current.pieces.is_empty() && !self.segments.is_empty() {
            return; // "**" is "*"
        }
        self.segments.push(std::mem::take(&mut self.current));
    }

    pub(crate) fn finish(mut self) -> Glob {
        self.segments.push(self.current);
        Glob {
            segments: self.segments,
            ignore_case: self.ignore_case,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        let cases: &[(&str, &str, bool)] = &[
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("*", "any:thing/at all", true),
            ("?", "", false),
            ("?", "é", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*", "a", true),
            ("*a", "ba", true),
            ("*a", "ab", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("a**b", "ab", true),
            ("*ab*ab*", "abab", true),
            ("*ab*ab*", "aba", false),
            ("*?a", "a", false),
            ("*?a", "ba", true),
            ("ec2:*VpcEndpoint*", "ec2:CreateVpcEndpoint", true),
            ("ec2:Describe?pc*", "ec2:DescribeVpcEndpoints", true),
            ("ec2:Describe?pc*", "ec2:DescribeVpcs", true),
            ("ec2:Describe?pc*", "ec2:DescribeSubnets", false),
            ("ab*ba", "aba", false), // prefix and suffix must not overlap
            ("a*a", "a", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                Glob::new(pattern).matches(text),
                *expected,
                "{pattern:?} ~ {text:?}"
            );
        }
    }

    #[test]
    fn ignore_case() {
        assert!(Glob::new_ignore_case("EC2:*vpcendpoint*").matches("ec2:CreateVpcEndpoint"));
        assert!(!Glob::new("EC2:*").matches("ec2:CreateVpcEndpoint"));
    }

    #[test]
    fn builder_literals_are_not_wildcards() {
        let mut b = GlobBuilder::new(false);
        b.literal("home/");
        b.literal("a*");
        b.literal("/");
        b.star();
        let g = b.finish();
        assert!(g.matches("home/a*/x"));
        assert!(!g.matches("home/abc/x"));
        assert_eq!(g.to_string(), "home/a${*}/*");
    }

    #[test]
    fn hostile_pattern_is_fast() {
        let g = Glob::new("*a*a*a*a*a*a*a*a*a*a*b");
        let text = "a".repeat(100_000);
        assert!(!g.matches(&text));
        let text = format!("{}b", "a".repeat(100_000));
        assert!(g.matches(&text));
    }

    #[test]
    fn match_all() {
        assert!(Glob::new("*").is_match_all());
        assert!(Glob::new("**").is_match_all());
        assert!(!Glob::new("*a").is_match_all());
    }
}
