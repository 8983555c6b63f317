//! Keeping reasoning ("thinking") apart from the answer.
//!
//! Servers expose reasoning three ways: a separate `reasoning_content` field
//! (DeepSeek API, vLLM reasoning parsers, llama.cpp `--reasoning-format`), a
//! `reasoning` field (Ollama, OpenRouter, newer vLLM), or inline
//! `<think>…</think>` tags in the content when no parser is configured.
//! Some chat templates put the opening `<think>` into the prompt, so the
//! content starts inside the reasoning and only the closing tag appears.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// Split inline `<think>` blocks out of `content`.
///
/// Returns `(answer, reasoning)`. Rules:
/// - every `<think>…</think>` block is moved to the reasoning;
/// - a `</think>` with no opening tag before it: everything before it is reasoning;
/// - an unclosed `<think>` (output truncated while thinking): the rest is reasoning.
///
/// The answer is trimmed of the whitespace the tags leave behind.
pub fn split_think(content: &str) -> (String, Option<String>) {
    if !content.contains(OPEN) && !content.contains(CLOSE) {
        return (content.to_string(), None);
    }
    let mut answer = String::with_capacity(content.len());
    let mut reasoning = String::new();
    let mut rest = content;
    // Closing tag before any opening tag: the template opened the block.
    if let Some(close) = rest.find(CLOSE)
        && rest.find(OPEN).is_none_or(|open| open > close)
    {
        reasoning.push_str(rest[..close].trim());
        rest = &rest[close + CLOSE.len()..];
    }
    while let Some(open) = rest.find(OPEN) {
        answer.push_str(&rest[..open]);
        let after = &rest[open + OPEN.len()..];
        let (inner, next) = match after.find(CLOSE) {
            Some(close) => (&after[..close], &after[close + CLOSE.len()..]),
            None => (after, ""),
        };
        if !reasoning.is_empty() && !inner.trim().is_empty() {
            reasoning.push('\n');
        }
        reasoning.push_str(inner.trim());
        rest = next;
    }
    answer.push_str(rest);
    (answer.trim().to_string(), Some(reasoning))
}

#[cfg(test)]
mod tests {
    use super::split_think;

    #[test]
    fn no_tags_is_untouched() {
        assert_eq!(split_think(" 42 "), (" 42 ".to_string(), None));
    }

    #[test]
    fn block_moved_out() {
        let (a, r) = split_think("<think>\nadd 40 and 2\n</think>\n\n42");
        assert_eq!(a, "42");
        assert_eq!(r.as_deref(), Some("add 40 and 2"));
    }

    #[test]
    fn template_opened_block() {
        let (a, r) = split_think("count the letters</think>\nthree");
        assert_eq!(a, "three");
        assert_eq!(r.as_deref(), Some("count the letters"));
    }

    #[test]
    fn truncated_while_thinking_leaves_no_answer() {
        let (a, r) = split_think("<think>let me see, first");
        assert_eq!(a, "");
        assert_eq!(r.as_deref(), Some("let me see, first"));
    }

    #[test]
    fn two_blocks() {
        let (a, r) = split_think("<think>a</think>x <think>b</think>y");
        assert_eq!(a, "x y");
        assert_eq!(r.as_deref(), Some("a\nb"));
    }
}
