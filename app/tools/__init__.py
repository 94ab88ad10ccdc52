"""Tools the model may call: plain Python callables with a JSON schema, registered in one place,
all offline. Qt-free; the chat runs them and feeds their results back to the model."""
