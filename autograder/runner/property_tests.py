"""Property tests (Hypothesis) end at once when the student's code raises.

Hypothesis treats an exception as a failing example: it replays it, shrinks it and looks for more, each
time calling the student's function again. When the exception comes from the student's code (an untouched
stub's ``NotImplementedError``, a function that raises for every input), none of that changes the
feedback, which names the exception and the line that raised it, not the example; it only makes the
weakest submissions the slowest to grade. Hypothesis tries the simplest example first, so the first
exception is already the minimal one.

Loaded as a pytest plugin in the trusted grading process (``-p autograder.runner.property_tests``): every
collected Hypothesis test gets its inner test wrapped (Hypothesis's documented ``inner_test`` hook) so that
a student exception escaping it leaves as :class:`StudentStop`, a ``BaseException`` that Hypothesis does
not catch. The plugin's feedback unwraps it: the student reads exactly what the exception alone gives.
A wrong value (a failed check) is untouched: Hypothesis still shrinks it to the smallest input that shows it.
"""
from __future__ import annotations

import functools

from autograder.runner.remote import MissingFunction, StudentRaised

_WRAPPED = "_autograder_stops_on_student_errors"


class StudentStop(BaseException):
    """A student exception that ended a property test; ``raised`` is that exception."""

    def __init__(self, raised: BaseException):
        super().__init__(raised)
        self.raised = raised


def unwrap(exc: BaseException) -> BaseException:
    return exc.raised if isinstance(exc, StudentStop) else exc


def pytest_itemcollected(item):
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    inner = getattr(handle, "inner_test", None)
    if inner is None or getattr(inner, _WRAPPED, False):
        return

    @functools.wraps(inner)
    def stop_on_student_errors(*args, **kwargs):
        try:
            return inner(*args, **kwargs)
        except (StudentRaised, MissingFunction) as exc:
            raise StudentStop(exc) from exc

    setattr(stop_on_student_errors, _WRAPPED, True)
    handle.inner_test = stop_on_student_errors
