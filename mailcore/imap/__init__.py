"""IMAP4rev2/IMAP4rev1 codec (RFC 9051, RFC 3501): command parser and response formatter.

Pure functions only: no sockets, no database. The connection layer in `imapserver`
reads lines and literals; `literal_request` tells it when a line ends in a literal.
"""
