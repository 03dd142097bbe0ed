"""Settings of the test run: the project's, opted into local development.

Settings fail closed (production without DJANGO_ENV), so the tests opt in here, before
config.settings is read; subprocesses (manage.py, gunicorn) inherit the variable.
"""

import os

os.environ.setdefault("DJANGO_ENV", "local")

from config.settings import *  # noqa: F403
