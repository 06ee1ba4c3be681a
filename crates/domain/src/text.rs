//! Text that reaches a terminal: values from the outside world, shown to a person.

/// Escapes control and bidirectional-override characters so a value (a resource name, a flow
/// record field) cannot rewrite the terminal it is printed on (RELIABILITY item 8).
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            c if c.is_control() => format!("\\u{{{:x}}}", u32::from(c)),
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200f}' => {
                format!("\\u{{{:x}}}", u32::from(c))
            }
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn controls_and_bidi_overrides_are_escaped() {
        assert_eq!(sanitize("web\u{1b}[2J"), "web\\u{1b}[2J");
        assert_eq!(sanitize("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(sanitize("plain é"), "plain é");
    }
}
