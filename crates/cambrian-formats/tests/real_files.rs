//! Parsers against real files copied into testdata/fit (see ATTRIBUTION.md).

use cambrian_formats::{Parse, gguf, safetensors};

fn testdata(name: &str) -> Vec<u8> {
    let p = format!("{}/../../testdata/fit/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[test]
fn minilm_safetensors_header() {
    let b = testdata("minilm.safetensors.header-only");
    // The real file is 90,868,376 bytes; only the header was kept.
    let h = match safetensors::parse(&b, Some(90_868_376)).unwrap() {
        Parse::Complete(h) => h,
        Parse::NeedMore { total } => panic!("need {total}"),
    };
    assert_eq!(h.tensors.len(), 104); // 105 entries incl. __metadata__
    assert_eq!(h.param_count(), 22_713_728);
    let by = h.params_by_dtype();
    assert_eq!(by.get("I64"), Some(&512));
    assert_eq!(by.get("F32"), Some(&22_713_216));
    assert_eq!(h.metadata.get("format").map(String::as_str), Some("pt"));
    assert!(h.issues.is_empty(), "{:?}", h.issues);
    assert_eq!(h.expected_file_len(), 90_868_376);
    // A 64 KB ranged read covers it; a 4 KB one asks for exactly the header.
    assert_eq!(
        safetensors::parse(&b[..4096], None).unwrap(),
        Parse::NeedMore { total: 11_416 }
    );
    // The reader interface gives the same.
    let h2 = safetensors::read_header(&b[..], None).unwrap();
    assert_eq!(h2.tensors, h.tensors);
}

#[test]
fn tiny_llama_gguf() {
    let b = testdata("llama-2-tiny-random.gguf");
    let o = gguf::ParseOptions::default();
    let h = gguf::parse(&b, Some(b.len() as u64), &o)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!(h.version, 3);
    assert_eq!(h.metadata.len(), 18);
    assert_eq!(h.tensors.len(), 12);
    assert_eq!(h.param_count(), 513_048);
    assert_eq!(h.architecture(), Some("llama"));
    assert_eq!(h.arch_u64("context_length"), Some(4096));
    assert_eq!(h.arch_u64("embedding_length"), Some(8));
    assert_eq!(h.arch_u64("block_count"), Some(1));
    assert_eq!(h.arch_u64("attention.head_count"), Some(2));
    assert_eq!(h.arch_u64("attention.head_count_kv"), Some(2));
    assert_eq!(h.arch_u64("feed_forward_length"), Some(32));
    assert!(h.issues.is_empty(), "{:?}", h.issues);
    let types = h.by_type();
    assert!(
        types.contains_key("F16") && types.contains_key("F32"),
        "{types:?}"
    );
    // Data section plus tensor bytes ends at the end of the file.
    assert!(h.data_start + h.data_bytes() <= b.len() as u64);
    // The vocabulary array is counted in full but only partly kept.
    match h.get("tokenizer.ggml.tokens") {
        Some(gguf::GgufValue::Array(a)) => {
            assert_eq!(a.len, 32_000);
            assert_eq!(a.values.len(), o.max_array_values);
        }
        other => panic!("{other:?}"),
    }
    // Incremental: a short prefix asks for more, and the answer grows until complete.
    let mut n = 1024u64;
    let mut rounds = 0;
    loop {
        rounds += 1;
        match gguf::parse(&b[..n.min(b.len() as u64) as usize], None, &o).unwrap() {
            Parse::Complete(h2) => {
                assert_eq!(h2.tensors, h.tensors);
                break;
            }
            Parse::NeedMore { total } => {
                assert!(total > n.min(b.len() as u64), "progress");
                n = total.max(n * 2);
            }
        }
        assert!(rounds < 20);
    }
    // Every truncation of the real file is NeedMore (no length known) or an
    // error (length known), never a panic.
    for cut in (0..h.header_end as usize).step_by(20_011) {
        assert!(matches!(
            gguf::parse(&b[..cut], None, &o),
            Ok(Parse::NeedMore { .. })
        ));
        assert!(gguf::parse(&b[..cut], Some(cut as u64), &o).is_err());
    }
}
