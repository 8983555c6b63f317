//! Normalizers shared by the scorers: answer text (SQuAD-style), numbers
//! (with thousands separators and simple fractions), units, and dates.

use chrono::NaiveDate;

/// Lowercase, drop punctuation, drop the articles "a", "an", "the", and
/// collapse whitespace (the SQuAD answer normalization).
pub fn text(s: &str) -> String {
    let lowered = s.to_lowercase();
    let no_punct: String = lowered
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect();
    no_punct
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Tokens of the normalized text.
pub fn tokens(s: &str) -> Vec<String> {
    text(s).split_whitespace().map(str::to_string).collect()
}

/// A number found in text, with the word(s) that follow it (a unit candidate).
#[derive(Debug, Clone, PartialEq)]
pub struct FoundNumber {
    pub value: f64,
    /// Up to three words after the number, lowercased (unit candidates).
    pub after: String,
}

/// Parse a whole string as a number: "1,500,000", "-3.5e2", "2 1/2", "3/4",
/// "45%", "$2,000" (currency symbols and a trailing % are dropped).
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s
        .trim()
        .trim_start_matches(['$', '€', '£', '¥'])
        .trim_end_matches('%')
        .trim();
    if t.is_empty() {
        return None;
    }
    // "2 1/2" mixed fraction.
    if let Some((whole, frac)) = t.split_once(' ')
        && let (Some(w), Some(f)) = (parse_plain(whole), parse_fraction(frac.trim()))
    {
        return Some(if w < 0.0 { w - f } else { w + f });
    }
    parse_plain(t).or_else(|| parse_fraction(t))
}

fn parse_plain(t: &str) -> Option<f64> {
    let cleaned: String = t
        .chars()
        .filter(|&c| c != ',' && c != '_' && c != '\u{a0}' && c != '\u{202f}')
        .collect();
    if cleaned.is_empty() || !cleaned.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    // Only plain decimal / scientific notation; refuse "inf", "nan", hex.
    if !cleaned
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
    {
        return None;
    }
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn parse_fraction(t: &str) -> Option<f64> {
    let (n, d) = t.split_once('/')?;
    let n: f64 = n.trim().parse().ok()?;
    let d: f64 = d.trim().parse().ok()?;
    (d != 0.0).then(|| n / d).filter(|v| v.is_finite())
}

/// Every number in the text, in order. Thousands separators (`1,500,000`),
/// decimals, a leading sign and exponents are recognised; a fraction
/// `a/b` right after a whole number ("2 1/2") is added to it.
pub fn numbers_in(s: &str) -> Vec<FoundNumber> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let starts = c.is_ascii_digit()
            || ((c == b'-' || c == b'+' || c == b'.')
                && b.get(i + 1).is_some_and(u8::is_ascii_digit)
                && (i == 0 || !b[i - 1].is_ascii_alphanumeric()));
        if !starts || (i > 0 && (b[i - 1].is_ascii_alphabetic() || b[i - 1] == b'_')) {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < b.len() {
            let ch = b[i];
            let next_digit = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if ch.is_ascii_digit() || ((ch == b'.' || ch == b',') && next_digit) {
                i += 1;
            } else if (ch == b'e' || ch == b'E')
                && (next_digit
                    || (matches!(b.get(i + 1), Some(b'-' | b'+'))
                        && b.get(i + 2).is_some_and(u8::is_ascii_digit)))
            {
                i += 2;
            } else {
                break;
            }
        }
        let mut raw = s[start..i].to_string();
        // A comma followed by more than 3 digits is a list separator, not thousands: keep simple by
        // accepting the parse as is (documented in docs/eval.md).
        if raw.ends_with(',') {
            raw.pop();
        }
        let Some(mut value) = parse_plain(&raw) else {
            continue;
        };
        // Mixed fraction "2 1/2" or plain fraction "3/4".
        let rest = &s[i..];
        if let Some(frac) = leading_fraction(rest.strip_prefix(' ').unwrap_or("")) {
            value += frac.1.copysign(value);
            i += 1 + frac.0;
        } else if let Some(after_slash) = rest.strip_prefix('/') {
            let den: String = after_slash
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if let Ok(d) = den.parse::<f64>()
                && d != 0.0
            {
                value /= d;
                i += 1 + den.len();
            }
        }
        let after: String = s[i..]
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        out.push(FoundNumber { value, after });
    }
    out
}

/// `"1/2 in"` → (bytes consumed, 0.5).
fn leading_fraction(s: &str) -> Option<(usize, f64)> {
    let num: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let rest = s.get(num.len()..)?.strip_prefix('/')?;
    let den: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if num.is_empty() || den.is_empty() {
        return None;
    }
    let (n, d): (f64, f64) = (num.parse().ok()?, den.parse().ok()?);
    (d != 0.0).then_some((num.len() + 1 + den.len(), n / d))
}

/// A unit's dimension and its factor to the dimension's base unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit {
    pub dimension: &'static str,
    pub factor: f64,
}

/// Known units (lowercase spellings → dimension, factor to base). Base units:
/// metre, gram, second, litre, byte, watt, joule, hertz, percent, USD-free
/// currencies are compared by name only (no exchange rates).
const UNITS: &[(&[&str], &str, f64)] = &[
    (&["m", "metre", "metres", "meter", "meters"], "length", 1.0),
    (
        &["km", "kilometre", "kilometres", "kilometer", "kilometers"],
        "length",
        1e3,
    ),
    (
        &[
            "cm",
            "centimetre",
            "centimetres",
            "centimeter",
            "centimeters",
        ],
        "length",
        1e-2,
    ),
    (
        &[
            "mm",
            "millimetre",
            "millimetres",
            "millimeter",
            "millimeters",
        ],
        "length",
        1e-3,
    ),
    (
        &["nm", "nanometre", "nanometres", "nanometer", "nanometers"],
        "length",
        1e-9,
    ),
    (
        &["pm", "picometre", "picometres", "picometer", "picometers"],
        "length",
        1e-12,
    ),
    (&["mi", "mile", "miles"], "length", 1609.344),
    (&["ft", "foot", "feet"], "length", 0.3048),
    (&["in", "inch", "inches"], "length", 0.0254),
    (&["yd", "yard", "yards"], "length", 0.9144),
    (&["g", "gram", "grams", "gramme", "grammes"], "mass", 1.0),
    (&["kg", "kilogram", "kilograms", "kilogramme"], "mass", 1e3),
    (
        &["mg", "milligram", "milligrams", "milligramme"],
        "mass",
        1e-3,
    ),
    (&["µg", "ug", "microgram", "micrograms"], "mass", 1e-6),
    (
        &["t", "tonne", "tonnes", "metric ton", "metric tons"],
        "mass",
        1e6,
    ),
    (&["lb", "lbs", "pound", "pounds"], "mass", 453.592_37),
    (&["oz", "ounce", "ounces"], "mass", 28.349_523_125),
    (&["s", "sec", "second", "seconds"], "time", 1.0),
    (&["ms", "millisecond", "milliseconds"], "time", 1e-3),
    (&["min", "minute", "minutes"], "time", 60.0),
    (&["h", "hr", "hour", "hours"], "time", 3600.0),
    (&["day", "days"], "time", 86_400.0),
    (&["week", "weeks"], "time", 604_800.0),
    (&["l", "litre", "litres", "liter", "liters"], "volume", 1.0),
    (
        &[
            "ml",
            "millilitre",
            "millilitres",
            "milliliter",
            "milliliters",
        ],
        "volume",
        1e-3,
    ),
    (
        &[
            "cl",
            "centilitre",
            "centilitres",
            "centiliter",
            "centiliters",
        ],
        "volume",
        1e-2,
    ),
    (&["gal", "gallon", "gallons"], "volume", 3.785_411_784),
    (&["b", "byte", "bytes"], "data", 1.0),
    (&["kb", "kilobyte", "kilobytes"], "data", 1e3),
    (&["kib", "kibibyte", "kibibytes"], "data", 1024.0),
    (&["mb", "megabyte", "megabytes"], "data", 1e6),
    (&["gb", "gigabyte", "gigabytes"], "data", 1e9),
    (&["tb", "terabyte", "terabytes"], "data", 1e12),
    (&["w", "watt", "watts"], "power", 1.0),
    (&["kw", "kilowatt", "kilowatts"], "power", 1e3),
    (&["mw", "megawatt", "megawatts"], "power", 1e6),
    (&["hz", "hertz"], "frequency", 1.0),
    (&["khz", "kilohertz"], "frequency", 1e3),
    (&["mhz", "megahertz"], "frequency", 1e6),
    (&["ghz", "gigahertz"], "frequency", 1e9),
    (&["%", "percent", "per cent", "percentage"], "ratio", 0.01),
];

/// Look a unit up by spelling (case-insensitive, trailing '.' ignored).
pub fn unit(name: &str) -> Option<Unit> {
    let n = name.trim().trim_end_matches('.').to_lowercase();
    UNITS
        .iter()
        .find(|(names, _, _)| names.contains(&n.as_str()))
        .map(|&(_, dimension, factor)| Unit { dimension, factor })
}

/// The longest known unit at the start of `after` (1–3 words, or a bare
/// symbol like `km` or `%`).
pub fn leading_unit(after: &str) -> Option<(String, Unit)> {
    let words: Vec<&str> = after.split_whitespace().collect();
    for take in (1..=words.len().min(3)).rev() {
        let cand = words[..take].join(" ");
        let cand = cand.trim_end_matches([',', '.', ';', ':', ')']);
        if let Some(u) = unit(cand) {
            return Some((cand.to_string(), u));
        }
    }
    None
}

/// Parse a date written as ISO `2024-03-05` (optionally with a time),
/// `2024/03/05`, `5 March 2024`, `March 5, 2024`, `Mar 5 2024`, or `05.03.2024`
/// (day first). Ambiguous `03/05/2024` is refused rather than guessed.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let t = s.trim();
    let head = t.get(..10).unwrap_or(t);
    if let Ok(d) = NaiveDate::parse_from_str(head, "%Y-%m-%d") {
        return Some(d);
    }
    let cleaned = t.replace(',', " ");
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    for fmt in [
        "%Y/%m/%d", "%d.%m.%Y", "%d %B %Y", "%B %d %Y", "%d %b %Y", "%b %d %Y",
    ] {
        if let Ok(d) = NaiveDate::parse_from_str(&cleaned, fmt) {
            return Some(d);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_normalization() {
        assert_eq!(
            text("  The Eiffel-Tower, in PARIS! "),
            "eiffeltower in paris"
        );
        assert_eq!(text("an apple a day"), "apple day");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("1,500,000"), Some(1_500_000.0));
        assert_eq!(parse_number("2 1/2"), Some(2.5));
        assert_eq!(parse_number("$2,000"), Some(2000.0));
        assert_eq!(parse_number("45%"), Some(45.0));
        assert_eq!(parse_number("nan"), None);
        assert_eq!(parse_number("inf"), None);
        let found =
            numbers_in("The door is 2 1/2 in thick; L2 is 1,500,000 km away, -3.5e2 and 3/4.");
        let v: Vec<f64> = found.iter().map(|f| f.value).collect();
        assert_eq!(v, vec![2.5, 1_500_000.0, -350.0, 0.75]);
        assert_eq!(found[0].after, "in thick; l2");
        assert_eq!(leading_unit(&found[1].after).map(|u| u.1.factor), Some(1e3));
    }

    #[test]
    fn dates() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 5);
        for s in [
            "2024-03-05",
            "2024-03-05T10:00:00Z",
            "2024/03/05",
            "5 March 2024",
            "March 5, 2024",
            "Mar 5 2024",
            "05.03.2024",
        ] {
            assert_eq!(parse_date(s), d, "{s}");
        }
        assert_eq!(parse_date("03/05/2024"), None);
    }
}
