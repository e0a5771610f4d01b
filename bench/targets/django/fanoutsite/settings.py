"""Production settings for the blog's page: DEBUG off, no database, the page the peers share
(bench/targets/page.html, through loader.py). What the views need from the harness comes from
the environment:

FANOUT_UPSTREAM  the country API's base URL (http://127.0.0.1:PORT)
FANOUT_VIEW      sync (a ThreadPoolExecutor over an httpx.Client; WSGI) or async
                 (asyncio.gather over an httpx.AsyncClient; ASGI)
FANOUT_CLIENT    request: a new client for every page, as the blog's views do; process: one
                 client for the whole process, its pool sized by FANOUT_POOL (the -reuse targets)
FANOUT_POOL      connections of that one client (default 300: three calls for each of 100 users)
"""
import os

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "fanout-benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "fanoutsite.urls"
INSTALLED_APPS = ["fanoutsite"]
# Django's default middleware less what needs a database (sessions, auth, messages).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.dirname(os.path.dirname(BASE_DIR))],  # bench/targets: page.html
        "APP_DIRS": False,
        # Django caches its loaders itself when DEBUG is off and none are named; named, as here,
        # the cache must be named too.
        "OPTIONS": {
            "loaders": [("django.template.loaders.cached.Loader", ["fanoutsite.loader.Loader"])],
        },
    }
]
DATABASES = {}
USE_TZ = True
WSGI_APPLICATION = "fanoutsite.wsgi.application"

FANOUT_UPSTREAM = os.environ.get("FANOUT_UPSTREAM", "http://127.0.0.1:5000").rstrip("/")
FANOUT_VIEW = os.environ.get("FANOUT_VIEW", "sync")
FANOUT_CLIENT = os.environ.get("FANOUT_CLIENT", "request")
FANOUT_POOL = int(os.environ.get("FANOUT_POOL", "300"))
if FANOUT_VIEW not in ("sync", "async") or FANOUT_CLIENT not in ("request", "process"):
    raise RuntimeError("FANOUT_VIEW is sync or async and FANOUT_CLIENT request or process, not %r, %r"
                       % (FANOUT_VIEW, FANOUT_CLIENT))
