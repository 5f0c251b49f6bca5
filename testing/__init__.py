"""Test support shared by every app's tests; not part of the product (not packaged).

`testing.fixtures` and `testing.browser` are pytest plugins, registered in the root conftest.py:
their fixtures (`reader`, `staff_client`, `page`, ...) are available to every test, and the
helper functions tests call are imported from `testing.fixtures`. `testing.metrics` reads this
process's metrics.
"""
