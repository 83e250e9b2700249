"""Busbook's business rules and data. Never imports the web layer."""
