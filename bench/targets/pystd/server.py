"""The front page on Python's standard library only: the target that tests the target mechanism.

A threaded HTTP/1.1 server (http.server.ThreadingHTTPServer, a thread per connection) whose
GET /<ms>/ calls the country API's /<ms>/, /<2*ms>/ and /<ms/2>/ at once (three threads of a
shared pool, each keeping its own keep-alive connection to the API with http.client), and renders
the first call's country name and the fan-out's duration; 502 when a call fails, 504 when one
times out. At most --threads pages are served at once (a semaphore), so that its size caps
concurrency as the threads model's does. It needs nothing outside the standard library, so
`make test` can run it anywhere the suite builds.

usage: server.py --port PORT --upstream http://127.0.0.1:PORT [--threads N] [--timeout S]
"""
import argparse
import concurrent.futures
import html
import http.client
import http.server
import json
import re
import socket
import threading
import time
import urllib.parse

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Random country</title></head>
<body>
<div class="box">
<p>And the random country selected for today is...</p>
<h1>{name}</h1>
<p><code>duration: {duration:.3f}</code></p>
</div>
</body>
</html>
"""
MAX_MS = 60000


class Upstream:
    """The country API: one keep-alive connection per pool thread."""

    def __init__(self, base, timeout):
        url = urllib.parse.urlsplit(base)
        self.host, self.port, self.timeout = url.hostname, url.port or 80, timeout
        self.local = threading.local()

    def get(self, ms):
        """The country name of GET /<ms>/; raises on failure (after one retry on a fresh
        connection when a kept-alive one was closed by the API meanwhile)."""
        for attempt in (0, 1):
            conn = getattr(self.local, "conn", None)
            fresh = conn is None
            if fresh:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.local.conn = conn
            try:
                conn.request("GET", "/%d/" % ms)
                resp = conn.getresponse()
                body = resp.read()
            except (http.client.HTTPException, ConnectionError) as e:
                conn.close()
                self.local.conn = None
                if fresh or attempt:
                    raise e
                continue
            except Exception:
                conn.close()
                self.local.conn = None
                raise
            if resp.status != 200:
                raise http.client.HTTPException("the API answered %d" % resp.status)
            return json.loads(body)["name"]
        raise AssertionError("unreachable")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # one line a request would be the run's cost
        pass

    def send(self, status, body, ctype="text/plain; charset=utf-8"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        m = re.fullmatch(r"/(?:(\d{1,5})/?)?", self.path.split("?")[0])
        if not m or (m.group(1) and int(m.group(1)) > MAX_MS):
            return self.send(404, "not found: GET /<ms>/ with ms from 0 to %d\n" % MAX_MS)
        ms = int(m.group(1) or 300)
        with self.server.slots:
            start = time.monotonic()
            calls = [self.server.pool.submit(self.server.upstream.get, t) for t in (ms, 2 * ms, ms // 2)]
            try:
                names = [c.result() for c in calls]
            except (socket.timeout, TimeoutError):
                return self.send(504, "the country API did not answer in time\n")
            except Exception as e:  # any failed call fails the page, clearly
                return self.send(502, "the country API failed: %s\n" % e)
            page = PAGE.format(name=html.escape(names[0]), duration=time.monotonic() - start)
        self.send(200, page, "text/html; charset=utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--threads", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    if a.threads < 1:
        ap.error("--threads must be 1 or more")
    http.server.ThreadingHTTPServer.request_queue_size = 1024
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.slots = threading.BoundedSemaphore(a.threads)
    srv.pool = concurrent.futures.ThreadPoolExecutor(max_workers=3 * a.threads)
    srv.upstream = Upstream(a.upstream, a.timeout)
    print("listening on 127.0.0.1:%d" % a.port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
