//! Helpers shared by the store's benchmark drivers (`ingest_bench`,
//! `trends_bench`): CPU clocks read from /proc (the machine may be shared, so
//! CPU time is printed beside wall time) and a seeded splitmix64 generator.
//! Each driver uses a subset.
#![allow(dead_code)]

/// On-CPU time of this thread (seconds, from /proc/thread-self/schedstat).
pub fn cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

/// CPU time of the whole process, all threads incl. exited ones (seconds;
/// utime + stime from /proc/self/stat, in USER_HZ = 100 ticks: 10 ms resolution).
pub fn proc_cpu() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
        })
        .map_or(0.0, |ticks| ticks / 100.0)
}

/// splitmix64: seeded, the same sequence on every machine.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// An index below `n`, skewed towards 0 (u³).
    pub fn skewed(&mut self, n: usize) -> usize {
        let u = self.f();
        ((u * u * u) * n as f64) as usize % n
    }
}

// Category names of the generated populations: trends_bench uses every
// entry, ingest_bench the first ones (its populations predate the longer lists).
pub const PIPELINES: &[&str] = &[
    "text-generation",
    "image-text-to-text",
    "text-to-image",
    "automatic-speech-recognition",
    "text-classification",
    "feature-extraction",
    "sentence-similarity",
    "image-classification",
    "text-to-speech",
    "token-classification",
    "translation",
    "summarization",
    "fill-mask",
    "object-detection",
    "image-to-image",
    "text-to-video",
    "image-to-video",
    "question-answering",
    "zero-shot-classification",
    "reinforcement-learning",
    "audio-classification",
    "depth-estimation",
    "image-segmentation",
    "any-to-any",
    "video-text-to-text",
    "text-to-audio",
    "image-to-text",
    "visual-question-answering",
];
pub const LIBRARIES: &[&str] = &[
    "transformers",
    "diffusers",
    "sentence-transformers",
    "gguf",
    "peft",
    "mlx",
    "timm",
    "onnx",
    "keras",
    "pytorch",
    "stable-baselines3",
    "ml-agents",
    "nemo",
    "speechbrain",
    "open_clip",
    "ctranslate2",
    "flair",
    "spacy",
    "fastai",
    "unity-sentis",
];
pub const BASES: &[&str] = &[
    "Qwen/Qwen2.5-7B-Instruct",
    "meta-llama/Llama-3.1-8B-Instruct",
    "mistralai/Mistral-7B-v0.1",
    "google/gemma-2-9b",
    "Qwen/Qwen3-8B",
    "meta-llama/Llama-3.2-1B",
    "microsoft/phi-4",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
    "black-forest-labs/FLUX.1-dev",
    "stabilityai/stable-diffusion-xl-base-1.0",
    "openai/whisper-large-v3",
    "google-bert/bert-base-uncased",
];
