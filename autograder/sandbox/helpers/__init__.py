"""Grader helpers run in the student process, one module per assignment (``a1.py``...).

Grader tests reach them through the ``helpers`` fixture: ``helpers("a1").build(spec)`` runs
``build`` here and returns a handle to the network it made. A helper only builds inputs or
observes student code; whatever it reports is checked by the trusted side, which holds every
expected value.
"""
