"""Message parsing: summaries and the MIME structure stored at delivery."""
