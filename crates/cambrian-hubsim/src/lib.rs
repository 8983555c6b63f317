//! Local Hugging Face Hub simulator.
