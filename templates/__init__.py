"""Jinja2 templates and the default ReplicationTaskSettings, read through importlib.resources."""
