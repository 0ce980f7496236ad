"""The Compare versions page and its charts."""
