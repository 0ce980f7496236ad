"""Operations: backups and restore, deletion by end user, retention, the audit trail and the
operator's view of the store's health."""
