"""The student side of the trust boundary: the only engine code the student process can read.

- ``wire``: the codec, plain data to frames and back, without pickle (shared with the trusted side);
- ``worker``: the student process's loop: import the submission's modules, run calls, keep handles;
- ``helpers/``: grader helpers that must run next to student code (networks to trace, probes that
  watch a training loop). They hold no expected answer, no threshold and no hidden input generator.

Nothing here imports the trusted side (``autograder.runner``, ``autograder.graders``...). The
grading process copies this folder next to the submission and starts ``worker`` confined.
"""
