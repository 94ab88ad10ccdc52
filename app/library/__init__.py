"""Getting models onto the user's disk: resumable, verified downloads from the Hugging Face Hub.

Qt-free: the UI drives these objects from a worker thread and adapts their callbacks to signals.
Nothing is imported here, so code that only needs, say, the error kinds does not pay for importing
huggingface_hub and its HTTP stack at start-up.
"""
