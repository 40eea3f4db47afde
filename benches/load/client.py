"""Sends COUNT GET /recordings requests over CONNECTIONS keep-alive
connections at once, each connection sending its next request when the
last one is answered, like wrk; each answered 200 or the run fails
(instructions.sh). With requests waiting on many connections the server
rarely runs out of work, so it parks (waits in epoll) about as seldom as
under the load benchmark, not once per request.

    python3 client.py BASE_URL COUNT (--header VALUE | --tokens FILE) [--connections N]

--header sends that Authorization value every time; --tokens sends
"Bearer <line>" for each line of FILE in turn.
"""
import argparse
import http.client
import itertools
import threading
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("base_url")
parser.add_argument("count", type=int)
credential = parser.add_mutually_exclusive_group(required=True)
credential.add_argument("--header")
credential.add_argument("--tokens")
parser.add_argument("--connections", type=int, default=32)
args = parser.parse_args()

if args.tokens:
    with open(args.tokens) as lines:
        values = ["Bearer " + line.strip() for line in lines if line.strip()]
else:
    values = [args.header]
url = urllib.parse.urlsplit(args.base_url)
# The index of the next request; `next` on it is atomic in CPython.
next_request = itertools.count()
failures = []


def send_until_done():
    connection = http.client.HTTPConnection(url.hostname, url.port)
    try:
        for index in iter(lambda: next(next_request), None):
            if index >= args.count or failures:
                return
            connection.request("GET", "/recordings", headers={"Authorization": values[index % len(values)]})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(f"GET /recordings answered {response.status}")
    except OSError as error:
        failures.append(f"GET /recordings failed: {error}")


threads = [threading.Thread(target=send_until_done) for _ in range(args.connections)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
if failures:
    raise SystemExit(failures[0])
