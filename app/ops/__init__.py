"""The operations pages: Imports, Jobs, Operations and the Audit log."""
