"""Run scim2-tester (python-scim) against a SCIM endpoint and print every check's result.

Called by scripts/conformance.sh inside its venv; usable on its own:

    CONFORMANCE_TOKEN=TOKEN python run_tester.py --url http://127.0.0.1:8080/scim/v2

What it does:
  - check_server() from scim2-tester with a scim2-client httpx2 engine sending
    "Authorization: Bearer TOKEN". The tester discovers /ServiceProviderConfig,
    /ResourceTypes and /Schemas itself and only exercises what the server advertises:
    the resource types listed by /ResourceTypes (optionally narrowed with
    --resource-types), the attributes listed by /Schemas, and PATCH only when
    ServiceProviderConfig says patch.supported. It has no filter/sort/bulk/etag checks.
  - every HTTP exchange is recorded (--trace, JSON lines; bodies, not headers) and
    tagged with the check that sent it; each non-passing result is printed with the
    exchanges that led to it.
  - optional value adaptations (--adapt), see ADAPTATIONS below.

Exit status: 0 all checks passed or were skipped (DEVIATION = SHOULD-level, reported,
not failing), 1 some check failed (ERROR/CRITICAL) or errored, 2 the tester could not run.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import random
import sys
import time
import traceback
import uuid
from typing import Any

import httpx2
import scim2_tester
import scim2_tester.checkers.patch_add as _patch_add
import scim2_tester.checkers.patch_replace as _patch_replace
import scim2_tester.filling as _filling
import scim2_tester.utils as _tester_utils
from scim2_client import SCIMClientException
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import SCIMException
from scim2_tester import CheckResult
from scim2_tester import Status
from scim2_tester import check_server

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
FAILED = {Status.ERROR, Status.CRITICAL}

# --------------------------------------------------------------------------------------
# HTTP trace, each exchange tagged with the check (scim2-tester @checker function) on the
# stack when it was sent, and each CheckResult given the exchanges sent since the previous
# result was created.
# --------------------------------------------------------------------------------------

_WRAPPED_CODE = None  # code object of scim2_tester.utils.checker's inner `wrapped`
_exchanges: list[dict[str, Any]] = []
_pending: list[dict[str, Any]] = []


def _current_check() -> tuple[str | None, str | None]:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is _WRAPPED_CODE:
            func = frame.f_locals.get("func")
            args = frame.f_locals.get("args") or ()
            model = next((a for a in args if isinstance(a, type)), None)
            return getattr(func, "__name__", None), getattr(model, "__name__", None)
        frame = frame.f_back
    return None, None


def _decode(content: bytes) -> Any:
    if not content:
        return None
    text = content.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _on_request(request: httpx2.Request) -> None:
    check, model = _current_check()
    request.extensions["conformance"] = {
        "seq": len(_exchanges) + 1,
        "check": check,
        "model": model,
        "method": request.method,
        "url": str(request.url),
        "request": _decode(request.read()),
        "sent_at": time.monotonic(),
    }


def _on_response(response: httpx2.Response) -> None:
    response.read()
    entry = response.request.extensions.get("conformance", {})
    entry["status"] = response.status_code
    entry["content_type"] = response.headers.get("content-type")
    entry["response"] = _decode(response.content)
    entry["ms"] = round((time.monotonic() - entry.pop("sent_at", time.monotonic())) * 1000, 1)
    _exchanges.append(entry)
    _pending.append(entry)


def _install_result_hook() -> None:
    original_init = CheckResult.__init__

    def init(self: CheckResult, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._exchanges = list(_pending)  # type: ignore[attr-defined]
        _pending.clear()

    CheckResult.__init__ = init  # type: ignore[method-assign]


def _find_wrapped_code() -> Any:
    probe = _tester_utils.checker("conformance-probe")(lambda context: [])
    _tester_utils._REGISTERED_TAGS.discard("conformance-probe")
    return probe.__code__


# --------------------------------------------------------------------------------------
# ADAPTATIONS (--adapt): scim2-tester fills every string with a random UUID. Two attributes
# of the demo mapping (gateway.toml) cannot take such values, and each blocks whole checks
# on a precondition rather than testing the behaviour they are about (and one is random):
#   userName      the demo maps it to the sample API's /email, which only accepts email
#                 addresses -> fill it with a random lower-case address.
#   manager.value RFC 7643 4.3: "The id of the SCIM resource representing the User's
#                 manager" -> fill it with the id of a User the tester creates (and
#                 deletes), as the tester itself does when a schema publishes manager.$ref.
#   phoneNumbers.type  the demo maps only phoneNumbers[type eq "work"]; the tester picks a
#                 random canonical type (work/home/mobile/fax/pager/other), so its phone checks
#                 would pass or fail by chance -> always "work".
# --------------------------------------------------------------------------------------

ADAPTED: dict[str, int] = {"userName": 0, "phoneNumbers.type": 0, "manager.value": 0}


def _install_adaptations() -> None:
    original = _filling.generate_random_value

    def generate(context: Any, path: Any, mutability: Any = None, required: Any = None) -> Any:
        value = original(context, path, mutability=mutability, required=required)
        if value is None:
            return value
        binding = path.resolve()
        field = binding.target_field_name if binding else None
        owner = getattr(binding.target_model, "__name__", "") if binding else ""
        multi = bool(binding and binding.target_is_multivalued)
        if field == "user_name" and owner.startswith("User") and isinstance(value, str):
            ADAPTED["userName"] += 1
            return f"conformance.{uuid.uuid4().hex}@example.com"
        if field == "type" and owner == "PhoneNumbers" and isinstance(value, str):
            ADAPTED["phoneNumbers.type"] += 1
            return "work"
        if field == "value" and owner == "Manager" and not multi and isinstance(value, str):
            user_model = context.client.get_resource_model("User")
            if user_model is not None:
                manager = context.resource_manager.create_and_register(user_model)
                ADAPTED["manager.value"] += 1
                return manager.id
        return value

    _filling.generate_random_value = generate
    _patch_add.generate_random_value = generate
    _patch_replace.generate_random_value = generate


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def _classify(result: CheckResult) -> str:
    if result.status in PASSED:
        return "passed"
    if result.status == Status.SKIPPED:
        return "skipped"
    if result.status == Status.DEVIATION:
        return "deviation"
    data = result.data
    if isinstance(data, Exception) and not isinstance(data, (SCIMClientException, SCIMException)):
        return "error"  # the check crashed on something other than a SCIM/HTTP failure
    return "failed"


def _short(value: Any, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        try:
            value = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=repr)
        except (TypeError, ValueError):
            value = repr(value)
    value = value.replace("\n", " / ")
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _path(url: str, base: str) -> str:
    return url[len(base) :] if url.startswith(base) else url


def _print_exchanges(result: CheckResult, base: str, limit: int, body_limit: int) -> None:
    own = [e for e in getattr(result, "_exchanges", []) if e.get("check") == result.title]
    if not own:
        return
    shown = own if len(own) <= limit else own[:2] + own[-(limit - 2) :]
    if len(shown) < len(own):
        print(f"        ({len(own) - len(shown)} earlier exchanges of this check not shown; see the trace)")
    for e in shown:
        body = _short(e.get("request"), body_limit)
        print(f"        #{e['seq']} > {e['method']} {_path(e['url'], base)}" + (f" {body}" if body else ""))
        print(f"        #{e['seq']} < {e.get('status')} {_short(e.get('response'), body_limit)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="SCIM base URL (Tenant URL)")
    parser.add_argument("--token", default=os.environ.get("CONFORMANCE_TOKEN"),
                        help="bearer token [env CONFORMANCE_TOKEN]")
    parser.add_argument("--request-timeout", type=float, default=15.0, help="seconds per HTTP request")
    parser.add_argument("--resource-types", default="", help="comma-separated names; default: all advertised")
    parser.add_argument("--include-tags", default="", help="comma-separated scim2-tester tags")
    parser.add_argument("--exclude-tags", default="", help="comma-separated scim2-tester tags")
    parser.add_argument("--adapt", action="store_true", help="see ADAPTATIONS in this file")
    parser.add_argument("--mapping", default="unnamed",
                        help="the gateway.toml the target runs, named in the output and the SUMMARY line")
    parser.add_argument("--seed", type=int, help="seed for the tester's random choices (enum values, booleans); "
                        "default: a fresh one, printed")
    parser.add_argument("--trace", help="write every HTTP exchange here (JSON lines)")
    parser.add_argument("--results", help="write the results here (JSON)")
    parser.add_argument("--max-exchanges", type=int, default=6, help="exchanges printed per non-passing result")
    parser.add_argument("--body-limit", type=int, default=700, help="characters printed per body")
    args = parser.parse_args()
    if not args.token:
        parser.error("--token or CONFORMANCE_TOKEN is required")

    def split(value: str) -> set[str] | None:
        items = {v.strip() for v in value.split(",") if v.strip()}
        return items or None

    global _WRAPPED_CODE
    _WRAPPED_CODE = _find_wrapped_code()
    _install_result_hook()
    if args.adapt:
        _install_adaptations()

    # Every SUMMARY line says what it measured: which mapping, and whether the tester's values
    # were bent to fit it (an adapted run cannot see what the adaptations hide).
    run_label = f"mapping {args.mapping}, {'adapted' if args.adapt else 'unadapted'} values"

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    random.seed(seed)

    base = args.url.rstrip("/")
    resource_types = sorted(split(args.resource_types) or []) or None
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("scim2-tester", "scim2-client", "scim2-models", "httpx2")
    )
    print(f"tester: {versions}")
    print(f"target: {base}")
    print(
        "scope: resource types "
        + (",".join(resource_types) if resource_types else "= all advertised by /ResourceTypes")
        + f"; include tags {sorted(split(args.include_tags) or []) or 'all'}"
        + f"; exclude tags {sorted(split(args.exclude_tags) or []) or 'none'}"
    )
    print(f"available tags: {', '.join(scim2_tester.get_all_available_tags())}")
    print(f"seed: {seed} (rerun with the same seed to repeat the tester's random choices)")
    print(f"mapping: {args.mapping}")
    print("values: " + ("ADAPTED to the demo mapping (userName=email, phoneNumbers.type=work, "
                        "manager.value=id of a created User); see ADAPTATIONS in run_tester.py"
                        if args.adapt else "unadapted (the tester's own random values)"))
    print()

    http = httpx2.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {args.token}"},
        timeout=args.request_timeout,
        event_hooks={"request": [_on_request], "response": [_on_response]},
    )
    scim = SyncSCIMClient(http)
    started = time.monotonic()
    try:
        results = check_server(
            scim,
            include_tags=split(args.include_tags),
            exclude_tags=split(args.exclude_tags),
            resource_types=resource_types,
        )
    except Exception:  # noqa: BLE001 - report, never hide
        print("ERROR: scim2-tester raised instead of returning results:")
        traceback.print_exc(file=sys.stdout)
        print(f"SUMMARY ({run_label}): scim2-tester could not run (0 results): passed=0 failed=0 skipped=0 error=1")
        return 2
    finally:
        http.close()
        if args.trace:
            with open(args.trace, "w", encoding="utf-8") as fh:
                for e in _exchanges:
                    fh.write(json.dumps(e, ensure_ascii=False, default=repr) + "\n")
    elapsed = time.monotonic() - started

    config = scim.provider.config
    if config is not None:
        features = {
            name: getattr(getattr(config, name, None), "supported", None)
            for name in ("patch", "bulk", "filter", "change_password", "sort", "etag")
        }
        print("advertised by /ServiceProviderConfig: " + ", ".join(f"{k}={v}" for k, v in features.items()))
        print("resource types tested: " + ", ".join(rt.name for rt in scim.provider.resource_types
                                                    if not resource_types or rt.name in resource_types))
        print()

    counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0, "deviation": 0}
    records = []
    width = max((len(r.title or "") for r in results), default=10)
    print(f"{'RESULT':<9} {'STATUS':<10} {'TYPE':<6} {'CHECK':<{width}}  REASON")
    for r in results:
        kind = _classify(r)
        counts[kind] += 1
        label = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP", "error": "ERROR", "deviation": "WARN"}[kind]
        print(f"{label:<9} {r.status.name:<10} {r.resource_type or '-':<6} {r.title or '?':<{width}}  "
              f"{_short(r.reason, 400)}")
        if kind not in ("passed", "skipped"):
            if r.data is not None:
                print(f"        data: {_short(r.data if not isinstance(r.data, Exception) else repr(r.data), args.body_limit)}")
            _print_exchanges(r, base, args.max_exchanges, args.body_limit)
        records.append({
            "result": kind, "status": r.status.name, "resource_type": r.resource_type, "title": r.title,
            "reason": r.reason, "tags": sorted(r.tags), "data": _short(r.data, 4000),
            "exchanges": [e["seq"] for e in getattr(r, "_exchanges", [])],
        })

    if args.results:
        with open(args.results, "w", encoding="utf-8") as fh:
            json.dump({"mapping": args.mapping, "counts": counts, "adapted": ADAPTED if args.adapt else None,
                       "results": records}, fh, indent=1)

    non_2xx = sum(1 for e in _exchanges if not 200 <= (e.get("status") or 0) < 300)
    deleted: set[str] = set()
    redeletes = 0
    for e in _exchanges:
        if e["method"] == "DELETE":
            if e["url"] in deleted and e.get("status") == 404:
                redeletes += 1
            deleted.add(e["url"])
    print()
    print(f"{len(_exchanges)} HTTP exchanges ({non_2xx} non-2xx, of which {redeletes} are 404s to the tester's "
          f"cleanup deleting again resources it had already deleted) in {elapsed:.1f}s"
          + (f"; adapted values: {ADAPTED}" if args.adapt else ""))
    print(
        f"SUMMARY ({run_label}): {len(results)} checks: passed={counts['passed']} failed={counts['failed']} "
        f"skipped={counts['skipped']} error={counts['error']} (deviation={counts['deviation']})"
    )
    return 1 if counts["failed"] or counts["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
