"""Edges: the only importers of peewee, imapclient, smtplib and the parse pool (database, mailboxes, SMTP, model files)."""
