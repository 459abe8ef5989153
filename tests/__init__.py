"""Proctor's tests. tests/ and its suites are packages, so two suites may each
have a ``test_validate.py``, and shared support is imported by name
(``tests.portal.fakes``, ``tests.portal.helpers``, ``tests.e2e.e2e_portal``)
with no folder put on ``sys.path``."""
