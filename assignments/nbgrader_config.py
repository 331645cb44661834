"""nbgrader configuration of the course directory (assignments/).

Run nbgrader from this folder, e.g. ``nbgrader generate_assignment a1``.
Generated state (release/, submitted/, autograded/, feedback/, gradebook.db)
is ignored by git.
"""
import os
import sys

c = get_config()  # noqa: F821 (provided by nbgrader/traitlets when loading)

# nbgrader makes a new gradebook with the `alembic` command: the one beside this nbgrader's Python, so that
# `.venv/bin/nbgrader ...` works from a shell where the virtual environment is not activated.
_bin = os.path.dirname(sys.executable)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([_bin, os.environ.get("PATH", "")])

c.CourseDirectory.course_id = "cnn-course"
# The course directory is the folder that holds this file.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# Stubs written into the released notebooks (nbgrader defaults, made explicit).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# `nbgrader autograde` does not run the submitted notebooks (nbgrader's autograde steps without Execute):
# the course's engine grades the tasks, with the student's code confined (`autograder grade-all --nbgrader`
# writes the scores into the gradebook); autograde records the submission, its timestamp and lateness, and
# the written answers that formgrader grades by hand.
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,  # noqa: E402
                                    LimitOutput, SaveAutoGrades)

c.Autograde.autograde_preprocessors = [IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
                                       AssignLatePenalties, CheckCellMetadata]

# Optional settings, left at their defaults:
# c.Exchange.root = "/usr/local/share/nbgrader/exchange"   # the exchange folder shared with the students
# c.Exchange.timezone = "UTC"                              # of the submissions' timestamps
# c.LateSubmissionPlugin.penalty_method = "zero"            # a late submission scores 0 (default "none")
# c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
