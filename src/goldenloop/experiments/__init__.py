"""Experiments and canaries: golden sets run against targets (an endpoint with a prompt, or an
application entry point), scored, compared run against run, and scheduled as canaries."""
