"""The DMS service of the sandbox (moto's own DMS backend is bypassed entirely)."""
