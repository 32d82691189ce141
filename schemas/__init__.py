"""JSON Schemas of the config files (and of the JSON plan), read through importlib.resources."""
