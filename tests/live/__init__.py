"""The only tests that read the live configs/ (see tests/conftest.py, which fails any other test that does).

configs/ is the organisation's configuration, changed by teams in their own pull requests, so these tests
assert only what every valid change keeps true: every environment validates, .github/CODEOWNERS is what
`dmsctl codeowners` generates from it, and a plan of it compiles. Never counts or names of teams, tasks or
tables: those belong to the teams. test_independence.py checks that a valid edit of configs/ leaves the
rest of the suite unaffected.
"""
