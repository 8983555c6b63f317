//! NumPy `.npy` headers: magic, version, header length, and the `descr`
//! of the array. An object dtype means a pickle follows the header
//! (`np.load(..., allow_pickle=True)` unpickles it).

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    pub version: (u8, u8),
    /// The header dictionary text.
    pub dict: String,
    /// Offset of the array data (the pickle, for object arrays).
    pub data_offset: u64,
    /// True when the dtype (or a field of it) is `O`.
    pub has_object: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyError {
    #[error("not a .npy file (no \\x93NUMPY magic)")]
    NotNpy,
    #[error("unsupported .npy version {0}.{1}")]
    Version(u8, u8),
    #[error(".npy header claims {claimed} bytes but the file has {available} after the preamble")]
    Truncated { claimed: u64, available: u64 },
    #[error(".npy header is not a dictionary with 'descr': {0}")]
    BadHeader(String),
}

pub const MAGIC: &[u8] = b"\x93NUMPY";

/// Parse the header from a prefix of the file (`file_len` is the full size).
pub fn parse_header(head: &[u8], file_len: u64) -> Result<NpyHeader, NpyError> {
    if !head.starts_with(MAGIC) || head.len() < 10 {
        return Err(NpyError::NotNpy);
    }
    let (maj, min) = (head[6], head[7]);
    let (hlen, pre) = match maj {
        1 => (u16::from_le_bytes([head[8], head[9]]) as u64, 10u64),
        2 | 3 => {
            let b = head.get(8..12).ok_or(NpyError::Truncated {
                claimed: 4,
                available: head.len() as u64 - 8,
            })?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64, 12u64)
        }
        _ => return Err(NpyError::Version(maj, min)),
    };
    if pre + hlen > file_len || pre + hlen > head.len() as u64 {
        return Err(NpyError::Truncated {
            claimed: hlen,
            available: file_len.saturating_sub(pre).min(head.len() as u64 - pre),
        });
    }
    let dict = String::from_utf8_lossy(&head[pre as usize..(pre + hlen) as usize]).into_owned();
    let Some(d) = dict.find("'descr'").or_else(|| dict.find("\"descr\"")) else {
        return Err(NpyError::BadHeader(dict.chars().take(80).collect()));
    };
    // The descr value runs to the next top-level key.
    let rest = &dict[d + 7..];
    let end = [
        "'fortran_order'",
        "'shape'",
        "\"fortran_order\"",
        "\"shape\"",
    ]
    .iter()
    .filter_map(|k| rest.find(k))
    .min()
    .unwrap_or(rest.len());
    let descr = &rest[..end];
    let has_object = quoted_strings(descr).iter().any(|s| is_object_code(s));
    Ok(NpyHeader {
        version: (maj, min),
        dict,
        data_offset: pre + hlen,
        has_object,
    })
}

fn quoted_strings(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let q = b[i];
        if (q == b'\'' || q == b'"')
            && let Some(j) = s[i + 1..].find(q as char)
        {
            out.push(&s[i + 1..i + 1 + j]);
            i += j + 2;
            continue;
        }
        i += 1;
    }
    out
}

/// `|O`, `O`, `<O8`, `O8`: the object type code with optional byte order/size.
fn is_object_code(s: &str) -> bool {
    let s = s.trim_start_matches(['<', '>', '|', '=']);
    s.starts_with('O') && s[1..].chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(dict: &str) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[1, 0]);
        v.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        v.extend_from_slice(dict.as_bytes());
        v
    }

    #[test]
    fn object_and_plain() {
        let v = npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }\n");
        assert!(parse_header(&v, v.len() as u64).expect("h").has_object);
        let v = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }\n");
        assert!(!parse_header(&v, v.len() as u64).expect("h").has_object);
        let v = npy(
            "{'descr': [('a', '<i4'), ('b', '|O')], 'fortran_order': False, 'shape': (2,), }\n",
        );
        assert!(parse_header(&v, v.len() as u64).expect("h").has_object);
    }

    #[test]
    fn forged_header_length() {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[2, 0]);
        v.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            parse_header(&v, v.len() as u64),
            Err(NpyError::Truncated { .. })
        ));
    }
}
