"""LEGACY RUNNER, MARKED FOR REMOVAL: student code in the grading process (A4-A6 only, see supervisor.py)."""
