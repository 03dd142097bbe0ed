"""Settings of the test run: the project's, opted into local development.

Settings fail closed (production without DJANGO_ENV), so the tests opt in here, before
config.settings is read; subprocesses (manage.py, gunicorn) inherit the variable.
"""

import os

os.environ.setdefault("DJANGO_ENV", "local")
# The suite makes hundreds of codeframes as a handful of users (ids repeat between tests, and
# the counts live in a process-wide cache): rates that never bite, except in the tests of
# throttling, which set their own.
os.environ.setdefault("CODEFRAME_GENERATE_RATE", "1000000/hour")
os.environ.setdefault("CODEFRAME_IMPORT_RATE", "1000000/hour")

from config.settings import *  # noqa: F403
