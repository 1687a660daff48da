//! Text for a terminal: file names and what plugins say, with their control
//! characters made visible.
//!
//! A file name may hold a newline (and so forge a table row or a `warning:`
//! line), an ANSI escape (and so recolour, move the cursor or retitle the
//! terminal) or a bidirectional override (and so show text in another order
//! than it is). Table output and messages go through this module; JSON and
//! YAML carry the exact text, escaped by their own syntax.
//!
//! The escapes are Rust's: `\n`, `\r`, `\t`, `\x1b` for the other ASCII
//! controls, `\u{85}` beyond ASCII, and `\xff` for a byte of a file name that
//! is not UTF-8.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

/// `text` with every control character escaped; borrowed when there is none.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut escaped, c);
    }
    Cow::Owned(escaped)
}

/// The path as [`escape_control`] escapes text, with each byte that is not
/// UTF-8 as `\xNN` (where [`Path::display`] would hide it behind `�`).
pub fn escape_path(path: &Path) -> Cow<'_, str> {
    let bytes = path.as_os_str().as_bytes();
    if let Ok(text) = std::str::from_utf8(bytes) {
        return escape_control(text);
    }
    let mut escaped = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut escaped, c);
        }
        for byte in chunk.invalid() {
            let _ = write!(escaped, "\\x{byte:02x}");
        }
    }
    Cow::Owned(escaped)
}

/// C0 and C1 controls and DEL, and the bidirectional formatting characters
/// that reorder what follows them on screen.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

fn push_escaped(escaped: &mut String, c: char) {
    match c {
        '\n' => escaped.push_str("\\n"),
        '\r' => escaped.push_str("\\r"),
        '\t' => escaped.push_str("\\t"),
        c if c.is_ascii_control() => {
            let _ = write!(escaped, "\\x{:02x}", u32::from(c));
        }
        c if needs_escape(c) => {
            let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
        }
        c => escaped.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn plain_text_is_borrowed_as_is() {
        let text = "/opt/floe/plugins/libfloe_backend_jaeger.so: «ok» ✓";
        assert!(matches!(escape_control(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(
            escape_control("a\nb\rc\td\x1b[31me\x00f\x7fg\u{85}h\u{202e}i"),
            "a\\nb\\rc\\td\\x1b[31me\\x00f\\x7fg\\u{85}h\\u{202e}i"
        );
    }

    #[test]
    fn escaped_text_has_no_control_character_left() {
        let every_char: String = (0..=0x3000u32).filter_map(char::from_u32).collect();
        let escaped = escape_control(&every_char);
        assert!(!escaped.chars().any(needs_escape), "{escaped}");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_shown_as_bytes() {
        let path = Path::new(OsStr::from_bytes(b"/p/lib\xff\n.so"));
        assert_eq!(escape_path(path), "/p/lib\\xff\\n.so");
    }
}
