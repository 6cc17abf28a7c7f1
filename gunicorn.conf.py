"""gunicorn settings for `make run` and the container; values come from app.config."""

from app.config import from_environ

_config = from_environ()

bind = f"{_config['HOST']}:{_config['PORT']}"
workers = _config["WEB_CONCURRENCY"]
worker_class = "gthread"
threads = 4
timeout = 60
graceful_timeout = 20
# gunicorn's own access log is off: the app writes one structured line per request.
accesslog = None
errorlog = "-"
wsgi_app = "app:create_app()"
