"""How production serves the app: `gunicorn -c config/gunicorn.conf.py config.wsgi:application`.

Threaded workers, so a quick request (stats, metrics, a page) is not queued behind codeframe
generations that hold every worker for seconds; the model is shared by a worker's threads
(embedding and clustering release the GIL in numpy/torch). Command-line flags override these.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A 50,000-answer generation takes minutes on a small machine; the limits below bound it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "300"))
graceful_timeout = 30
accesslog = "-"
