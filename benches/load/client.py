"""Sends GET /recordings requests one after another on one keep-alive
connection, each answered 200 or the run fails (instructions.sh).

    python3 client.py BASE_URL COUNT (--header VALUE | --tokens FILE)

--header sends that Authorization value every time; --tokens sends
"Bearer <line>" for each line of FILE in turn.
"""
import argparse
import http.client
import itertools
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("base_url")
parser.add_argument("count", type=int)
credential = parser.add_mutually_exclusive_group(required=True)
credential.add_argument("--header")
credential.add_argument("--tokens")
args = parser.parse_args()

if args.tokens:
    with open(args.tokens) as lines:
        values = ["Bearer " + line.strip() for line in lines if line.strip()]
else:
    values = [args.header]
url = urllib.parse.urlsplit(args.base_url)
connection = http.client.HTTPConnection(url.hostname, url.port)
for value in itertools.islice(itertools.cycle(values), args.count):
    connection.request("GET", "/recordings", headers={"Authorization": value})
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"GET /recordings answered {response.status}")
