"""A minimal Django project with the blog's two views (bench/targets/django/README.md)."""
