"""The Home page: what the store holds, and links to every page."""
