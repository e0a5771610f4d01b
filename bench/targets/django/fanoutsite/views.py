"""The blog's two views: three calls to the country API at once (/<ms>/, /<2*ms>/, /<ms/2>/),
then the page with the first call's country and the fan-out's duration (the three calls, from
the first sent to the last answered; making the client is before it).

sync_view: a ThreadPoolExecutor per page running the calls on an httpx.Client (under gevent the
threads are greenlets); async_view: asyncio.gather over an httpx.AsyncClient. As in the blog, a
new client for every page, unless FANOUT_CLIENT=process: then one client per process (the
-reuse targets), so that a reader sees what the per-page client costs (its TLS context and CA
bundle: tens of ms of CPU) apart from the model. Unlike the blog, a failed call is a 502 and
one that timed out a 504, as every page in this suite (shared/WORKLOAD.md)."""
import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render

TIMEOUT = 60.0  # the C models' --upstream-timeout in bench.sh
_lock = threading.Lock()
_clients = {}


def _urls(ms):
    base = settings.FANOUT_UPSTREAM
    return (f"{base}/{ms}/", f"{base}/{ms * 2}/", f"{base}/{int(ms / 2)}/")


def _shared(kind):
    """The process's one client of kind (httpx.Client or httpx.AsyncClient), made on first use:
    an AsyncClient must be made on the loop that uses it."""
    with _lock:
        if kind not in _clients:
            limits = httpx.Limits(max_connections=settings.FANOUT_POOL,
                                  max_keepalive_connections=settings.FANOUT_POOL)
            _clients[kind] = kind(timeout=TIMEOUT, limits=limits)
        return _clients[kind]


def _failed(e):
    if isinstance(e, httpx.TimeoutException):
        return HttpResponse("the country API did not answer in time\n", status=504,
                            content_type="text/plain")
    return HttpResponse(f"the country API failed: {e}\n", status=502, content_type="text/plain")


def _page(request, results, start):
    for r in results:
        r.raise_for_status()
    country = results[0].json()
    return render(request, "page.html",
                  {"country": country, "duration": "%.3f" % (time.monotonic() - start)})


def sync_view(request, ms=300):
    reuse = settings.FANOUT_CLIENT == "process"
    client = _shared(httpx.Client) if reuse else httpx.Client(timeout=TIMEOUT)
    start = time.monotonic()
    try:
        with ThreadPoolExecutor() as executor:
            results = list(executor.map(client.get, _urls(ms)))
        return _page(request, results, start)
    except (httpx.HTTPError, ValueError, KeyError) as e:
        return _failed(e)
    finally:
        if not reuse:
            client.close()


async def async_view(request, ms=300):
    reuse = settings.FANOUT_CLIENT == "process"
    client = _shared(httpx.AsyncClient) if reuse else httpx.AsyncClient(timeout=TIMEOUT)
    start = time.monotonic()
    try:
        results = await asyncio.gather(*[client.get(url) for url in _urls(ms)])
        return _page(request, results, start)
    except (httpx.HTTPError, ValueError, KeyError) as e:
        return _failed(e)
    finally:
        if not reuse:
            await client.aclose()
