"""Entry point for gunicorn: `gunicorn -c config/gunicorn.conf.py counsel.wsgi:app`."""

from counsel import create_app

app = create_app()
