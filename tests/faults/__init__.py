"""Fault tests: the database stopped, a worker killed, the mail server down."""
