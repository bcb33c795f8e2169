#!/usr/bin/env python3
"""Counts stale answers of gateways behind a round-robin proxy (scripts/bench.sh, scale-out).

Each worker owns one user at a time and loops: PATCH its givenName to a new value, then GET it;
the GET (likely answered by the other instance) must show the value the PATCH answered with.
Every tenth round it DELETEs the user, GETs it (must be 404) and creates a new one. At the end
every userName the workers made is looked up by filter: each live one must be found exactly once
(nothing lost, nothing duplicated), each deleted one not at all.

Usage: SCIM_TOKEN=... stale.py URL WORKERS SECONDS PREFIX   (the token not on the command line)
Prints one line: "answers N stale N errors N lost N duplicated N undeleted N".
Exit status 0 always when it ran; the caller judges the counts.
"""

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


class Client:
    """One kept-alive HTTP/1.1 connection to the proxy."""

    def __init__(self, base, token):
        url = urllib.parse.urlsplit(base)
        self.host, self.port, self.path = url.hostname, url.port, url.path.rstrip("/")
        self.headers = {
            "Authorization": "Bearer " + token,
            "Content-Type": "application/scim+json",
            "Accept": "application/scim+json",
        }
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                data = None if body is None else json.dumps(body)
                self.conn.request(method, self.path + path, body=data, headers=self.headers)
                response = self.conn.getresponse()
                text = response.read()
                try:
                    parsed = json.loads(text) if text else None
                except ValueError:
                    parsed = None
                return response.status, parsed
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 2:
                    return 0, None
        return 0, None


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.answers = self.stale = self.errors = 0
        self.live, self.deleted = [], []

    def add(self, answers=0, stale=0, errors=0):
        with self.lock:
            self.answers += answers
            self.stale += stale
            self.errors += errors


def create(client, tally, name):
    body = {"schemas": [USER], "userName": name, "name": {"givenName": "G0", "familyName": "F"},
            "emails": [{"type": "work", "value": name, "primary": True}], "active": True}
    status, created = client.call("POST", "/Users", body)
    tally.add(answers=1, errors=0 if status == 201 else 1)
    return created.get("id") if status == 201 and isinstance(created, dict) else None


def worker(n, base, token, prefix, until, tally):
    client = Client(base, token)
    serial, rounds = 0, 0
    name = f"{prefix}-w{n}-u{serial}@example.com"
    user = create(client, tally, name)
    while time.monotonic() < until:
        if user is None:
            serial += 1
            name = f"{prefix}-w{n}-u{serial}@example.com"
            user = create(client, tally, name)
            continue
        rounds += 1
        if rounds % 10 == 0:
            status, _ = client.call("DELETE", f"/Users/{user}")
            tally.add(answers=1, errors=0 if status == 204 else 1)
            status, _ = client.call("GET", f"/Users/{user}")
            tally.add(answers=1, stale=1 if status == 200 else 0,
                      errors=0 if status in (200, 404) else 1)
            with tally.lock:
                tally.deleted.append(name)
            user = None
            continue
        value = f"G{rounds}"
        patch = {"schemas": [PATCH_OP],
                 "Operations": [{"op": "replace", "path": "name.givenName", "value": value}]}
        status, answered = client.call("PATCH", f"/Users/{user}", patch)
        tally.add(answers=1, errors=0 if status == 200 else 1)
        if status != 200:
            continue
        status, seen = client.call("GET", f"/Users/{user}")
        given = (seen or {}).get("name", {}).get("givenName") if status == 200 else None
        tally.add(answers=1, stale=1 if status == 200 and given != value else 0,
                  errors=0 if status == 200 else 1)
    if user is not None:
        with tally.lock:
            tally.live.append(name)


def count(client, name):
    query = urllib.parse.quote(f'userName eq "{name}"')
    status, found = client.call("GET", f"/Users?filter={query}")
    return found.get("totalResults", -1) if status == 200 and isinstance(found, dict) else -1


def main():
    base, workers, seconds, prefix = sys.argv[1:5]
    token = os.environ["SCIM_TOKEN"]
    until = time.monotonic() + float(seconds)
    tally = Tally()
    threads = [threading.Thread(target=worker, args=(n, base, token, prefix, until, tally))
               for n in range(int(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client = Client(base, token)
    lost = sum(1 for name in tally.live if count(client, name) < 1)
    duplicated = sum(1 for name in tally.live if count(client, name) > 1)
    undeleted = sum(1 for name in tally.deleted if count(client, name) != 0)
    print(f"answers {tally.answers} stale {tally.stale} errors {tally.errors} "
          f"lost {lost} duplicated {duplicated} undeleted {undeleted}")


if __name__ == "__main__":
    main()
