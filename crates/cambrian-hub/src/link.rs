//! RFC 8288 `Link` header parsing: `<uri-reference>; param=value; rel="next"`,
//! several link-values separated by commas (commas inside `<…>` or quoted
//! strings do not split), `rel` holding one or more space-separated relation
//! types compared case-insensitively. Relative references are resolved
//! against the request URL.

use url::Url;

/// One link-value of a `Link` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkValue {
    /// The target as written between `<` and `>`.
    pub target: String,
    /// Parameters in order; names lower-cased, values unquoted.
    pub params: Vec<(String, String)>,
}

impl LinkValue {
    /// The relation types of `rel`, lower-cased.
    pub fn rels(&self) -> Vec<String> {
        self.params
            .iter()
            .filter(|(k, _)| k == "rel")
            .take(1) // RFC 8288 §3.3: occurrences after the first are ignored
            .flat_map(|(_, v)| v.split_ascii_whitespace().map(|s| s.to_ascii_lowercase()))
            .collect()
    }
}

/// Parses a `Link` header value. Malformed link-values are skipped.
pub fn parse_link_header(value: &str) -> Vec<LinkValue> {
    let mut out = Vec::new();
    let b = value.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Skip separators and whitespace up to '<'.
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] != b'<' {
            // Not a link-value start: skip to the next top-level comma.
            i = skip_to_comma(b, i);
            continue;
        }
        let Some(close) = value[i + 1..].find('>') else {
            break;
        };
        let target = value[i + 1..i + 1 + close].trim().to_string();
        i = i + 1 + close + 1;
        let mut params = Vec::new();
        // Parameters: *( OWS ";" OWS link-param )
        loop {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= b.len() || b[i] != b';' {
                break;
            }
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let start = i;
            while i < b.len() && !matches!(b[i], b'=' | b';' | b',') && !b[i].is_ascii_whitespace()
            {
                i += 1;
            }
            let name = value[start..i].to_ascii_lowercase();
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let mut val = String::new();
            if i < b.len() && b[i] == b'=' {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < b.len() && b[i] == b'"' {
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        if b[i] == b'\\' && i + 1 < b.len() {
                            i += 1;
                        }
                        // Push the whole UTF-8 character.
                        let ch_len = utf8_len(b[i]);
                        let end = (i + ch_len).min(b.len());
                        val.push_str(value.get(i..end).unwrap_or(""));
                        i = end;
                    }
                    i += 1; // closing quote (or past the end)
                } else {
                    let s = i;
                    while i < b.len() && !matches!(b[i], b';' | b',') {
                        i += 1;
                    }
                    val = value[s..i].trim().to_string();
                }
            }
            if !name.is_empty() {
                params.push((name, val));
            }
        }
        out.push(LinkValue { target, params });
        i = skip_to_comma(b, i);
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

fn skip_to_comma(b: &[u8], mut i: usize) -> usize {
    let mut in_quote = false;
    while i < b.len() {
        match b[i] {
            b'"' => in_quote = !in_quote,
            b'\\' if in_quote => i += 1,
            b',' if !in_quote => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

/// The absolute URL of the first link with relation `next`, resolved against
/// `base` (the URL of the request whose response carried the header).
pub fn next_link(header_values: &[&str], base: &Url) -> Option<Url> {
    header_values
        .iter()
        .flat_map(|v| parse_link_header(v))
        .find(|l| l.rels().iter().any(|r| r == "next"))
        .and_then(|l| base.join(&l.target).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://huggingface.co/api/models?limit=2").unwrap()
    }

    #[test]
    fn hub_style_absolute_next() {
        let h = r#"<https://huggingface.co/api/models?limit=2&cursor=eyJ2Ijp7fX0%3D>; rel="next""#;
        let u = next_link(&[h], &base()).unwrap();
        assert_eq!(
            u.as_str(),
            "https://huggingface.co/api/models?limit=2&cursor=eyJ2Ijp7fX0%3D"
        );
    }

    #[test]
    fn relative_target_resolves_against_request() {
        let u = next_link(&["</api/models?cursor=abc>; rel=next"], &base()).unwrap();
        assert_eq!(u.as_str(), "https://huggingface.co/api/models?cursor=abc");
    }

    #[test]
    fn several_values_commas_in_quotes_and_targets() {
        let h = r#"<https://x.test/a,b>; rel="prev"; title="a, b", <https://x.test/n?c=1,2>; rel="last NEXT""#;
        let links = parse_link_header(h);
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].target, "https://x.test/a,b");
        assert_eq!(
            links[0].params[1],
            ("title".to_string(), "a, b".to_string())
        );
        let u = next_link(&[h], &base()).unwrap();
        assert_eq!(u.as_str(), "https://x.test/n?c=1,2");
    }

    #[test]
    fn no_next_and_garbage() {
        assert!(next_link(&[r#"<https://x.test/p>; rel="prev""#], &base()).is_none());
        assert!(next_link(&["garbage, ;;; <"], &base()).is_none());
        assert!(next_link(&[""], &base()).is_none());
        // Second header line carries next.
        let u = next_link(&[r#"<a>; rel="prev""#, r#"<b>; rel="next""#], &base()).unwrap();
        assert_eq!(u.as_str(), "https://huggingface.co/api/b");
    }

    #[test]
    fn only_first_rel_counts() {
        let links = parse_link_header(r#"<x>; rel="prev"; rel="next""#);
        assert_eq!(links[0].rels(), vec!["prev".to_string()]);
    }
}
