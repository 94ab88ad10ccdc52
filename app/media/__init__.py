"""What the chat composer needs besides text: the microphone, and checking attachment files.

Free of Qt, and of heavy imports until something is actually recorded or checked.
"""
