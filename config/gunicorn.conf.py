"""Gunicorn settings for counsel behind a TLS-terminating reverse proxy (config/nginx/counsel.conf).

Start with: gunicorn -c config/gunicorn.conf.py counsel.wsgi:app
(config/systemd/counsel@.service does, one instance per port).
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
# Gunicorn 27's control socket sits at one path per user: two instances on one host would share
# it. systemd starts, reloads and stops the instances instead.
control_socket_disable = True


def on_starting(server):  # type: ignore[no-untyped-def]
    """Refuse to start a production server that would count rate limits per worker or distrust its proxy."""
    from counsel.settings import SettingsError, check_server, load

    try:
        check_server(load(), workers=server.cfg.workers, serves_tls=bool(server.cfg.certfile))
    except SettingsError as exc:
        raise SystemExit(str(exc)) from None
