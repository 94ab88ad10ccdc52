"""GGUF model files on disk: reading their headers, pairing a model with its projector, and the
manifest a download leaves beside them. A leaf package: no Qt, no engine, no library; the engine,
the library and the UI all build on it."""
