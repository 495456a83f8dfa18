"""The grading pipeline behind the `socket-course` command, built on nbgrader's API.

- `course`: where the notebooks are, nbgrader configured from grading/nbgrader_config.py
- `cells`: reading nbgrader cell metadata (solutions, graded cells, which exercise owns which)
- `release`: student versions (generate_assignment)
- `check`: the learner's self-check (nbgrader's Validator, with an exit status that means something)
- `grade`: autograde a folder of submissions, grades.csv and feedback
- `feedback`: feedback without hidden tests
"""
