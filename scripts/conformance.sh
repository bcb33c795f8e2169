#!/usr/bin/env bash
# External SCIM 2.0 conformance run: scim2-tester (python-scim, RFC 7643/7644 checks) against
# `scim-gateway demo`.
#
# Creates (or reuses) a Python venv with the pinned tester (scripts/conformance/requirements.txt),
# builds the release binary, starts `scim-gateway demo --listen 127.0.0.1:0 [--config FILE]`,
# reads the Tenant URL and Secret Token from its stdout, waits until it answers, runs every check
# (scripts/conformance/run_tester.py), prints each result and a final line naming the mapping
# and whether the tester's values were adapted to it
#   SUMMARY (mapping <name>, <adapted|unadapted> values): <n> checks: passed=<n> failed=<n> skipped=<n> error=<n> (deviation=<n>)
# and stops the demo on exit. Everything printed is also written to the run's log.
#
# Usage: scripts/conformance.sh            (from any directory)
#
# Two runs matter (.ci/run does both):
#   the demo mapping (gateway.toml), adapted: CONFORMANCE_ADAPT=1 (the default). The sample API's
#     accounts take only email addresses as keys and integer manager ids, so the tester's random
#     values are made to fit (see CONFORMANCE_ADAPT).
#   the open mapping, unadapted: CONFORMANCE_CONFIG=scripts/conformance/open.toml CONFORMANCE_ADAPT=0.
#     It maps onto the sample API's members resource, which stores any value, so the tester's
#     own values (a UUID as userName, any phone type, a manager id naming no one) test the
#     gateway and nothing hides behind an adaptation.
#
# The tester only exercises what the gateway advertises: the resource types of /ResourceTypes,
# the attributes of /Schemas, PATCH only if /ServiceProviderConfig says patch.supported.
#
# Environment (defaults in brackets):
#   CONFORMANCE_CONFIG=              gateway.toml the demo runs (`demo --config`; it gets LEGACY_URL,
#                                    LEGACY_API_KEY and SCIM_TOKEN) [the bundled gateway.toml]
#   CONFORMANCE_PROFILE=release      cargo profile to build and run (CI uses debug: already built)
#   CONFORMANCE_BUILD=1              0 skips `cargo build` (uses the existing binary)
#   CONFORMANCE_BUILD_TIMEOUT=1800   seconds allowed for the build
#   CONFORMANCE_VENV=<root>/target/conformance-venv   venv, reused while the requirements match
#   CONFORMANCE_PIP_TIMEOUT=600      seconds allowed for creating the venv and pip install
#   CONFORMANCE_START_TIMEOUT=30     seconds for the demo to print its URL and answer
#   CONFORMANCE_TIMEOUT=600          seconds allowed for the whole tester run
#   CONFORMANCE_REQUEST_TIMEOUT=15   seconds per HTTP request of the tester
#   CONFORMANCE_RESOURCE_TYPES=      comma-separated resource types to test [all advertised]
#   CONFORMANCE_INCLUDE_TAGS=        comma-separated scim2-tester tags to run only [all]
#   CONFORMANCE_EXCLUDE_TAGS=        comma-separated scim2-tester tags to skip [none]
#                                    tags: discovery service-provider-config resource-types schemas
#                                    misc crud crud:create crud:read crud:read:attributes
#                                    crud:update crud:delete patch:add patch:remove patch:replace
#   CONFORMANCE_ADAPT=1              1 makes the tester's random values fit the demo mapping
#                                    (userName = an email address, phoneNumbers.type = work,
#                                    manager.value = id of a User it creates); 0 runs the tester
#                                    unchanged (on the demo mapping most User checks then fail on
#                                    the sample accounts' rules; the open mapping takes them).
#                                    See ADAPTATIONS in scripts/conformance/run_tester.py.
#   CONFORMANCE_SEED=                seed of the tester's random choices [fresh, printed]
#   CONFORMANCE_OUT=<root>/target/conformance/<timestamp>-<pid>   run directory: conformance.log (this
#                                    output), demo.log, http-trace.jsonl, results.json;
#                                    <root>/target/conformance/latest points at the last run
#
# Exit status: 0 every check passed or was skipped; 1 some check failed or errored;
# 2 the run itself could not be done (build, venv, demo start, tester crash or timeout).
# shellcheck disable=SC2317  # stop_demo and cleanup run from traps
set -euo pipefail

caller_dir=$PWD
script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$script_dir/.." && pwd)
cd -- "$root"

# --- run directory and log: re-run this script with its output going through tee ---------------

if [[ -z ${_CONFORMANCE_LOGGING:-} ]]; then
    out=${CONFORMANCE_OUT:-$root/target/conformance/$(date +%Y%m%d-%H%M%S)-$$}
    [[ $out == /* ]] || out=$caller_dir/$out
    mkdir -p -- "$out"
    out=$(cd -- "$out" && pwd)
    if [[ -z ${CONFORMANCE_OUT:-} ]]; then
        ln -sfn -- "$(basename -- "$out")" "$root/target/conformance/latest"
    fi
    export _CONFORMANCE_LOGGING=1 _CONFORMANCE_DIR=$out
    # On Ctrl-C the run below stops the demo and exits; tee keeps logging until it has.
    trap ':' INT
    set +e
    "$BASH" "${BASH_SOURCE[0]}" "$@" 2>&1 | (trap '' INT && exec tee -- "$out/conformance.log")
    status=${PIPESTATUS[0]}
    set -e
    exit "$status"
fi

out=$_CONFORMANCE_DIR
do_build=${CONFORMANCE_BUILD:-1}
build_timeout=${CONFORMANCE_BUILD_TIMEOUT:-1800}
venv=${CONFORMANCE_VENV:-$root/target/conformance-venv}
pip_timeout=${CONFORMANCE_PIP_TIMEOUT:-600}
start_timeout=${CONFORMANCE_START_TIMEOUT:-30}
tester_timeout=${CONFORMANCE_TIMEOUT:-600}
request_timeout=${CONFORMANCE_REQUEST_TIMEOUT:-15}
adapt=${CONFORMANCE_ADAPT:-1}
seed=${CONFORMANCE_SEED:-}
config=${CONFORMANCE_CONFIG:-}

profile=${CONFORMANCE_PROFILE:-release}
case $profile in
    release) build_args=(--release); bin="$root/target/release/scim-gateway" ;;
    debug) build_args=(); bin="$root/target/debug/scim-gateway" ;;
    *) echo "CONFORMANCE_PROFILE must be release or debug" >&2; exit 2 ;;
esac
helpers="$script_dir/conformance"
requirements="$helpers/requirements.txt"

log() { printf '[conformance %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
    log "error: $*"
    exit 2
}

for var in build_timeout pip_timeout start_timeout tester_timeout request_timeout; do
    if ! [[ ${!var} =~ ^[0-9]+$ ]] || ((${!var} == 0)); then
        die "$var must be a positive whole number, got '${!var}'"
    fi
done
[[ -z $seed || $seed =~ ^[0-9]+$ ]] || die "CONFORMANCE_SEED must be a whole number, got '$seed'"
[[ $adapt == 0 || $adapt == 1 ]] || die "CONFORMANCE_ADAPT must be 0 or 1, got '$adapt'"
demo_args=(demo --listen 127.0.0.1:0)
if [[ -n $config ]]; then
    [[ $config == /* ]] || config=$caller_dir/$config
    [[ -f $config ]] || die "CONFORMANCE_CONFIG: no file $config"
    demo_args+=(--config "$config")
    mapping=${config#"$root"/}
else
    mapping="gateway.toml (bundled)"
fi
if [[ $adapt == 1 ]]; then
    values="adapted values (userName = an email address, phoneNumbers.type = work, manager.value = id of a created User)"
else
    values="unadapted values (the tester's own random values)"
fi
command -v curl >/dev/null || die "curl is required"
command -v python3 >/dev/null || die "python3 is required"

log "run directory: $out"
log "mapping: $mapping"
log "$values"

# --- demo process and cleanup ------------------------------------------------------------------

demo_pid=""

stop_demo() { # TERM, up to 5 s grace, then KILL
    local i
    [[ -n $demo_pid ]] || return 0
    if kill -0 "$demo_pid" 2>/dev/null; then
        kill -TERM "$demo_pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$demo_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$demo_pid" 2>/dev/null; then
            log "demo (pid $demo_pid) did not stop on TERM, killing it"
            kill -KILL "$demo_pid" 2>/dev/null || true
        fi
    fi
    wait "$demo_pid" 2>/dev/null || true
    demo_pid=""
}

gateway_log() { # demo.log without the start-up banner (which ends with "Ctrl-C stops the demo.")
    if grep -q 'Ctrl-C stops the demo' "$out/demo.log"; then
        sed '1,/Ctrl-C stops the demo/d' "$out/demo.log"
    else
        cat -- "$out/demo.log"
    fi
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_demo
    if [[ -f $out/demo.log ]]; then
        local lines
        lines=$(gateway_log | grep -c . || true)
        log "gateway log (RUST_LOG=warn): $lines lines in $out/demo.log; distinct messages (ids as {id}):"
        gateway_log |
            sed -E -e 's/^[0-9T:.-]+Z +//' -e 's#/[0-9]+([" ]|$)#/{id}\1#g' |
            sort | uniq -c | sort -rn | head -n 40 | sed 's/^/    /'
    fi
    log "log: $out/conformance.log"
    exit "$status"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 2' INT TERM HUP
trap '' PIPE # if tee dies first (Ctrl-C), fail writes instead of dying before stopping the demo

# --- venv with the pinned tester ---------------------------------------------------------------

venv_stamp="$venv/.conformance-stamp"
want_stamp="$(python3 --version 2>&1) $(sha256sum <"$requirements" | cut -d' ' -f1)"
if [[ -x $venv/bin/python && -f $venv_stamp && $(<"$venv_stamp") == "$want_stamp" ]]; then
    log "reusing venv $venv"
else
    log "creating venv $venv and installing $(grep -m1 '^scim2-tester' "$requirements")"
    rm -rf -- "$venv"
    timeout "$pip_timeout" python3 -m venv "$venv" || die "python3 -m venv failed"
    timeout "$pip_timeout" "$venv/bin/python" -m pip install --disable-pip-version-check \
        --no-input --quiet --timeout 60 -r "$requirements" || die "pip install failed"
    printf '%s' "$want_stamp" >"$venv_stamp"
fi
"$venv/bin/python" -c 'import scim2_tester, scim2_client.engines.httpx2' ||
    die "the venv at $venv cannot import scim2_tester; delete it and rerun"

# --- build -------------------------------------------------------------------------------------

if [[ $do_build == 1 ]]; then
    command -v cargo >/dev/null || die "cargo is required (or set CONFORMANCE_BUILD=0)"
    log "building $profile (cargo build ${build_args[*]}, up to ${build_timeout}s)"
    timeout "$build_timeout" cargo build "${build_args[@]}" || die "cargo build ${build_args[*]} failed or timed out"
fi
[[ -x $bin ]] || die "$bin not found; build it with cargo build ${build_args[*]}"

# --- start the demo ----------------------------------------------------------------------------

log "starting $bin ${demo_args[*]}"
# Created here, not by the background job's redirection: the loop below may read it first.
: >"$out/demo.log"
NO_COLOR=1 RUST_LOG=warn "$bin" "${demo_args[@]}" >"$out/demo.log" 2>&1 </dev/null &
demo_pid=$!

tenant_url=""
token=""
for ((i = 0; i < start_timeout * 10; i++)); do
    kill -0 "$demo_pid" 2>/dev/null || die "the demo exited during start-up"
    tenant_url=$(sed -n 's/^ *Tenant URL: *\(http[^ ]*\) *$/\1/p' "$out/demo.log" | head -n 1)
    token=$(sed -n 's/^ *Secret Token: *\([^ ]*\) *$/\1/p' "$out/demo.log" | head -n 1)
    [[ -n $tenant_url && -n $token ]] && break
    sleep 0.1
done
[[ -n $tenant_url && -n $token ]] || die "the demo printed no Tenant URL / Secret Token within ${start_timeout}s"
log "Tenant URL: $tenant_url"

code=""
for ((i = 0; i < start_timeout * 10; i++)); do
    kill -0 "$demo_pid" 2>/dev/null || die "the demo exited before answering"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        -H "Authorization: Bearer $token" "$tenant_url/ServiceProviderConfig" 2>/dev/null || true)
    [[ $code == 200 ]] && break
    sleep 0.1
done
[[ $code == 200 ]] || die "GET $tenant_url/ServiceProviderConfig did not answer 200 within ${start_timeout}s (last: ${code:-none})"
log "gateway answers; running scim2-tester (up to ${tester_timeout}s)"
echo

# --- run the tester ----------------------------------------------------------------------------

tester_args=(
    --url "$tenant_url"
    --request-timeout "$request_timeout"
    --resource-types "${CONFORMANCE_RESOURCE_TYPES:-}"
    --include-tags "${CONFORMANCE_INCLUDE_TAGS:-}"
    --exclude-tags "${CONFORMANCE_EXCLUDE_TAGS:-}"
    --trace "$out/http-trace.jsonl"
    --results "$out/results.json"
    --mapping "$mapping"
)
[[ $adapt == 1 ]] && tester_args+=(--adapt)
[[ -n $seed ]] && tester_args+=(--seed "$seed")

set +e
CONFORMANCE_TOKEN=$token timeout --kill-after=10 "$tester_timeout" "$venv/bin/python" -u "$helpers/run_tester.py" "${tester_args[@]}"
tester_status=$?
set -e
echo

case $tester_status in
    0) log "all checks passed or were skipped" ;;
    1) log "some checks FAILED (details above; every HTTP exchange in $out/http-trace.jsonl)" ;;
    124 | 137) die "scim2-tester did not finish within ${tester_timeout}s" ;;
    *) die "scim2-tester could not run (exit status $tester_status)" ;;
esac
exit "$tester_status"
