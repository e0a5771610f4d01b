"""GET / and GET /<ms>/: the sync or the async view, as FANOUT_VIEW says (the blog chose with
ROOT_URLCONF)."""
from django.conf import settings
from django.urls import path

from . import views

view = views.sync_view if settings.FANOUT_VIEW == "sync" else views.async_view
urlpatterns = [path("", view), path("<int:ms>/", view)]
