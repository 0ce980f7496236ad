"""The Conversations page and its charts."""
