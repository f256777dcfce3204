"""Settings of the example shop-and-blog site.

Secrets and per-machine values come from the environment, read from the repository's
``.env`` (copy ``.env.example``), or from the file DJANGO_ENV_FILE names. SQLite by default;
PostgreSQL when DATABASE_URL is set.
"""

import os
from pathlib import Path

import environ

from cdp_bridge.conf import load_yaml

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(os.environ.get("DJANGO_ENV_FILE", BASE_DIR.parent / ".env"))

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="example-project-not-secret")
DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", ".localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "cdp_bridge",
    "shop",
    "blog",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cdp_bridge.middleware.SegmentsMiddleware",  # request.cdp_segments
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
TIME_ZONE = "Europe/Oslo"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
LOGIN_REDIRECT_URL = LOGOUT_REDIRECT_URL = "home"

# Celery (optional: the `celery` extra), for workers and beat; see example_project/celery.py.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TIMEZONE = TIME_ZONE  # beat reads the export schedule on the site's clock

# Where the CDP's services are (config/cdp.yaml reads them from the environment): Raptor's,
# unless the environment or .env names others. The README's demo (manage.py cdp_demo) points
# them at a local sandbox (manage.py cdp_sandbox, docs/sandbox.md).
CDP_SERVICES = {
    "CDP_STREAM_BASE_URL": "https://in.raptorsmartadvisor.com",
    "CDP_TRACKING_SCRIPT_URL": "https://deliver.raptorstatic.com/script/raptor-3.0.min.js",
    "CDP_TRACKING_SERVER_URL": "https://t.raptorsmartadvisor.com",
}
for name, default in CDP_SERVICES.items():
    os.environ.setdefault(name, default)

# The CDP configuration, in the format of Ibexa's ibexa_cdp.yaml.
CDP_BRIDGE = load_yaml(BASE_DIR / "config" / "cdp.yaml")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "cdp_bridge": {"handlers": ["console"], "level": env.str("CDP_LOG_LEVEL", default="INFO")}
    },
}
