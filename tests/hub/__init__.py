"""A local stand-in for the Hugging Face Hub, for download tests over real HTTP."""
