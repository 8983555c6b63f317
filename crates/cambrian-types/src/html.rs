//! Text escaping for the self-contained HTML reports (trends, find, eval).
//!
//! One function so that every report escapes the same five characters; model ids,
//! card text and test-set answers are untrusted and must never become markup.

/// Escapes `&`, `<`, `>`, `"` and `'` for use in HTML text and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The flags the headless-Chromium report tests start Chromium with: no
/// sandbox (the tests run as root), no GPU, and no background network
/// traffic (this machine's closed network refuses it, many connections at a
/// time), a fresh profile each run (`--user-data-dir`, given by the test),
/// console messages on stderr (the tests fail on console errors).
pub const HEADLESS_CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--enable-logging=stderr",
    "--v=0",
];

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
        assert_eq!(escape("meta-llama/Llama-3.1-8B"), "meta-llama/Llama-3.1-8B");
    }
}
