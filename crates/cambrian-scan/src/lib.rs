//! Static risk scanner for model files: pickle, PyTorch zip, NumPy, safetensors, GGUF, templates, cards. Never executes anything.
