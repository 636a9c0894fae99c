"""Gunicorn settings for counsel behind a TLS-terminating reverse proxy.

Start with: gunicorn -c config/gunicorn.conf.py counsel.wsgi:app
"""

import multiprocessing
import os

bind = os.environ.get("COUNSEL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("COUNSEL_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = 30
graceful_timeout = 30
# The proxy sets X-Forwarded-For/Proto; trust only the local proxy.
forwarded_allow_ips = os.environ.get("COUNSEL_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Request lines and headers never carry client data; keep access logs free of query strings.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(D)sus'
errorlog = "-"
limit_request_line = 4094
