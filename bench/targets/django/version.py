"""Prints a Django target's version string, "uWSGI 2.0.21-debian, Django 3.2.25, httpx 0.23.3,
Python 3.11.2", and fails (exit 1, saying what is missing) when the stack is not installed here:
the harness's test of whether a target can run (fo_target_installed in scripts/targets.sh).

usage: version.py uwsgi|gunicorn|uvicorn [MODULE|PLUGIN...]
  extra words: Python modules the stack needs (gevent), or for uwsgi its plugins (gevent_python3),
  checked in Debian's plugin folder when there is one.
"""
import importlib
import os
import platform
import subprocess
import sys

PLUGINS = "/usr/lib/uwsgi/plugins"


def main():
    server, extra = sys.argv[1], sys.argv[2:]
    try:
        django, httpx = importlib.import_module("django"), importlib.import_module("httpx")
        if server == "uwsgi":
            for p in ["http", "python3"] + extra:
                if os.path.isdir(PLUGINS) and not os.path.exists(f"{PLUGINS}/{p}_plugin.so"):
                    raise ImportError(f"uWSGI's {p} plugin ({PLUGINS}/{p}_plugin.so)")
            version = "uWSGI " + subprocess.run(["uwsgi", "--version"], check=True, text=True,
                                                capture_output=True).stdout.strip()
        else:
            for m in extra:
                importlib.import_module(m)
            mod = importlib.import_module(server)
            version = f"{server.capitalize()} {mod.__version__}"
        if "gevent" in " ".join(extra):
            version += ", gevent " + importlib.import_module("gevent").__version__
    except (ImportError, OSError, subprocess.CalledProcessError) as e:
        print(f"not installed: {e}", file=sys.stderr)
        return 1
    print(f"{version}, Django {django.__version__}, httpx {httpx.__version__}, "
          f"Python {platform.python_version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
