"""nbgrader configuration of the course directory (assignments/).

Run nbgrader from this folder, e.g. ``nbgrader generate_assignment a1``.
Generated state (release/, submitted/, autograded/, feedback/, gradebook.db)
is ignored by git.
"""
import os

c = get_config()  # noqa: F821 (provided by nbgrader/traitlets when loading)

c.CourseDirectory.course_id = "cnn-course"
# The course directory is the folder that holds this file.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# Stubs written into the released notebooks (nbgrader defaults, made explicit).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Optional settings, left at their defaults:
# c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
# c.ExecutePreprocessor.timeout = 120
