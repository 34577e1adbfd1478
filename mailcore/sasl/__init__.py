"""SASL secrets and mechanisms shared by SMTP and IMAP."""
