"""The portal's tests (the ``web`` package), on fake sandboxes and grading
(``fakes``) unless marked ``cluster``; ``helpers`` are shared with
tests/author and tests/security."""
