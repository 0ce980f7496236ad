"""The Argilla round trip: push review queues and golden sets to an Argilla server as
datasets, pull annotators' responses back as grades (named so as not to shadow ``argilla``)."""
