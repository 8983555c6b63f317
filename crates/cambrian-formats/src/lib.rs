//! Bounded-memory parsers for model file headers: safetensors and GGUF.
