"""How production serves the app: `gunicorn -c config/gunicorn.conf.py config.wsgi:application`.

Threaded workers, so a quick request (stats, metrics, a page) is not queued behind codeframe
generations that hold every worker for seconds; the model is shared by a worker's threads
(embedding and clustering release the GIL in numpy/torch). Command-line flags override these.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # gunicorn runs this as a file
from config.env import env_number

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = env_number("GUNICORN_WORKERS", 2)
worker_class = "gthread"
threads = env_number("GUNICORN_THREADS", 4)
# A 50,000-answer generation takes minutes on a small machine; the limits below bound it.
timeout = env_number("GUNICORN_TIMEOUT", 300)
graceful_timeout = 30
accesslog = "-"
# gunicorn's control socket (`gunicornc`) sits at one path per user ($HOME/.gunicorn): a second
# server on the machine (another port, another checkout) took it over and deleted it on exit.
# Nothing here uses it; GUNICORN_CONTROL_SOCKET=<path> turns it on at a path of its own.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
