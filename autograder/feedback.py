"""Feedback vocabulary for grader tests: bilingual text and checks that fail with a lesson.

A grader test calls the student's function itself and then one of the
``check_*`` helpers. A failed check raises :class:`GradingFailure`, whose
message is the whole feedback the student sees: what was called, what was
expected, what came back, and a hint in the course's terms. The test's source
and traceback are never shown.

The language (``en`` or ``es``) is the one of the innermost ``with
language(...)`` block, else the ``AUTOGRADER_LANG`` environment variable,
which the grading engine sets in the grading process.
"""
from __future__ import annotations

import math
import os
import reprlib
from contextlib import contextmanager

LANGUAGES = ("en", "es")
_chosen: list[str] = []


def current_language() -> str:
    """The innermost :func:`language` in force, else ``AUTOGRADER_LANG``, else English."""
    lang = _chosen[-1] if _chosen else os.environ.get("AUTOGRADER_LANG", "en")
    return lang if lang in LANGUAGES else "en"


@contextmanager
def language(lang: str):
    """Render every :class:`T` in ``lang`` inside the ``with`` block."""
    _chosen.append(lang)
    try:
        yield
    finally:
        _chosen.pop()


MAX_FIELD = 2_000      # characters of one value shown in feedback (what a submission returned, raised...)
MAX_FEEDBACK = 4_000   # characters of one test's feedback, whatever the submission did
_SHORT = reprlib.Repr()
_SHORT.maxlevel = 6
_SHORT.maxtuple = _SHORT.maxlist = _SHORT.maxarray = _SHORT.maxdict = _SHORT.maxset = _SHORT.maxfrozenset = 40
_SHORT.maxdeque = 40
_SHORT.maxstring = _SHORT.maxlong = MAX_FIELD // 2
_SHORT.maxother = MAX_FIELD


def cut(text: str, limit: int = MAX_FEEDBACK) -> str:
    """``text`` shortened to about ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"... ({len(text) - limit:,} more characters)"


class Bounded:
    """A value to be formatted into feedback: its ``repr`` and ``str`` are cut to MAX_FIELD characters
    without ever building the whole text (``reprlib``), whatever the value's size."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __repr__(self) -> str:
        return cut(_SHORT.repr(self.value), MAX_FIELD)

    def __str__(self) -> str:
        if isinstance(self.value, (list, tuple, dict, set, frozenset)):
            return repr(self)
        return cut(str(self.value), MAX_FIELD)

    def __format__(self, spec: str) -> str:
        return format(self.value, spec) if spec else str(self)


def bounded(value):
    """``value`` as it may enter feedback: numbers and short strings as they are, anything else Bounded."""
    if value is None or isinstance(value, (bool, float, T)) or (isinstance(value, int) and value.bit_length() < 3000):
        return value
    if type(value) is str and len(value) <= MAX_FIELD:
        return value
    return Bounded(value)


class T:
    """A text in English and Spanish, rendered in the current language by ``str()``.

    ``T(en="expected {n}", es="se esperaba {n}").format(n=3)`` formats both; a value that is itself a T
    gives each language its own text. Every value is cut to MAX_FIELD characters (:class:`Bounded`), so
    feedback stays small whatever a submission returns.
    """

    def __init__(self, en: str, es: str):
        self.en, self.es = en, es

    def format(self, **values) -> "T":
        values = {name: bounded(value) for name, value in values.items()}
        return T(self.en.format(**{name: value.en if isinstance(value, T) else value for name, value in values.items()}),
                 self.es.format(**{name: value.es if isinstance(value, T) else value for name, value in values.items()}))

    def __add__(self, other: "T | str") -> "T":
        if isinstance(other, T):
            return T(self.en + other.en, self.es + other.es)
        return T(self.en + other, self.es + other)

    def __str__(self) -> str:
        return self.es if current_language() == "es" else self.en

    def __repr__(self) -> str:
        return f"T(en={self.en!r}, es={self.es!r})"


class GradingFailure(AssertionError):
    """A failed check; ``str(exc)`` is the feedback shown to the student."""


HINT = T("Hint: ", "Pista: ")


def fail(message: T | str, hint: T | str | None = None) -> None:
    """Fail the current test with ``message`` and an optional ``hint``."""
    text = cut(str(message))
    if hint:
        text += "\n" + str(HINT) + cut(str(hint), MAX_FIELD)
    raise GradingFailure(text)


def describe_call(function: str, *args, **kwargs) -> str:
    """``describe_call("f", 1, s=2)`` -> ``"f(1, s=2)"``: how feedback names a call."""
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{function}({', '.join(parts)})"


def _kind(value) -> str:
    return type(value).__name__


def _same_structure(got, expected) -> bool:
    """Equal value *and* type, element by element for tuples and lists."""
    if isinstance(expected, (tuple, list)):
        return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                and all(_same_structure(g, e) for g, e in zip(got, expected)))
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(expected, int):
        return isinstance(got, int) and got == expected
    if isinstance(expected, float):
        return isinstance(got, (int, float)) and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12)
    return got == expected


def check_equal(got, expected, *, call: str, hint: T | str | None = None) -> None:
    """Fail unless ``got`` equals ``expected`` with the same type (ints stay ints).

    Tuples and lists compare element-wise, so an ``(h, w)`` pair may come back
    as a tuple or a list.
    """
    if _same_structure(got, expected):
        return
    if isinstance(expected, (int, tuple, list)) and not isinstance(expected, bool) \
            and got == expected and _kind(got) != _kind(expected):
        message = T("{call} returned {got!r} of type {gk}; expected {exp!r} of type {ek}.",
                    "{call} devolvió {got!r} de tipo {gk}; se esperaba {exp!r} de tipo {ek}.")
        fail(message.format(call=call, got=got, gk=_kind(got), exp=expected, ek=_kind(expected)),
             T("sizes and counts are whole numbers: use integer division (//) or int(), not /.",
               "los tamaños y los recuentos son enteros: usa la división entera (//) o int(), no /."))
    message = T("{call} returned {got!r}; expected {exp!r}.",
                "{call} devolvió {got!r}; se esperaba {exp!r}.")
    fail(message.format(call=call, got=got, exp=expected), hint)


def check_raises(exception: type[BaseException], function, *args, call: str,
                 hint: T | str | None = None, **kwargs) -> None:
    """Fail unless ``function(*args, **kwargs)`` raises ``exception``.

    A different exception type fails too, naming the type that came instead.
    ``NotImplementedError`` propagates, so an untouched stub is reported as such.
    """
    try:
        result = function(*args, **kwargs)
    except NotImplementedError:
        raise
    except exception:
        return
    except Exception as exc:  # the student's function raised the wrong kind of error
        message = T("{call} raised {got}: {msg}; expected a {exp}.",
                    "{call} lanzó {got}: {msg}; se esperaba un {exp}.")
        fail(message.format(call=call, got=_kind(exc), msg=exc, exp=exception.__name__), hint)
    message = T("{call} returned {got!r}; expected it to raise {exp} because the configuration is impossible.",
                "{call} devolvió {got!r}; se esperaba que lanzara {exp} porque la configuración es imposible.")
    fail(message.format(call=call, got=result, exp=exception.__name__), hint)
