#!/usr/bin/env bash
# Throughput and latency of scim-gateway against the legacy API it fronts.
#
# Starts the sample legacy API and the gateway on free loopback ports, seeds users through
# the gateway, then runs each scenario with wrk twice in the same run: DIRECT against the
# legacy API and THROUGH the gateway. Prints a comparison table on stdout; progress goes to
# stderr. Both servers are always stopped on exit.
#
# Then an Entra cycle: `scim-gateway demo` on a free port, and `scim-gateway entra-cycle`
# against it (match, create and PATCH each user, delta PATCH, disable, then verify every user
# through SCIM), with the cycle's per-phase summary printed after the table.
#
# Then a paced Entra burst: the same cycle against `scim-gateway serve` whose [downstream] has a
# rate_limit (20 calls/s, burst 1: evenly spaced), in front of `scim-gateway legacy`; printed:
# the elapsed time, the failed SCIM calls (must be 0) and the most calls the sample API saw
# within one second.
#
# Then the gateway against a downstream that costs nothing (nginx answering from memory), with a
# plain nginx reverse proxy in front of the same downstream as the reference row (proxy-get,
# proxy-search), and beside it the floor: a bare reverse proxy on the gateway's own stack
# (scripts/bench/passthrough.rs: hyper's server, reqwest's client, nothing else) against the
# same nginx (floor-get), so the gateway's ratio reads against what any proxy on these crates
# gets; the resident memory of `serve` with BENCH_RSS_USERS users in its store; and
# two gateway instances on one PostgreSQL schema behind a round-robin nginx, under mixed load,
# counting stale answers (scripts/bench/stale.py), then the same two with a [downstream]
# rate_limit, counting the most calls the sample API saw within one second. wrk and nginx are
# installed with apt-get when missing.
#
# Usage: scripts/bench.sh            (from any directory)
#
# Environment (with defaults):
#   BENCH_USERS=1000        users seeded before the runs
#   BENCH_SECONDS=10        measured duration of each wrk run
#   BENCH_WARMUP=2          unmeasured seconds of the same load before each measured run
#                           (not for create, which starts on a fresh stack each time)
#   BENCH_THREADS=2         wrk threads
#   BENCH_CONNECTIONS=16    wrk connections
#   BENCH_TIMEOUT=5         wrk per-request timeout, seconds
#   BENCH_SCENARIOS="proxy-get proxy-search floor-get get get-cold search search-cold patch create"
#                           subset and order ("" skips wrk); proxy-* and floor-get compare
#                           with nginx, the others with the sample API; patch-unrecorded and
#                           create-unrecorded (not run by default) are patch and create on a
#                           gateway that records no activity ([admin] keep_days = 0): beside
#                           patch and create in one run, their ratios give what recording
#                           activity costs
#   BENCH_BUILD=1           0 skips `cargo build --release` (uses the existing binary)
#   BENCH_BUILD_TIMEOUT=1800  seconds allowed for the build
#   BENCH_KEEP=0            1 keeps the temp dir (config, server logs, raw wrk output)
#   BENCH_CYCLE_USERS=10000 users in the Entra cycle (0 skips it)
#   BENCH_CYCLE_CONCURRENCY=16  users in flight in the Entra cycle
#   BENCH_CYCLE_TIMEOUT=3600    seconds allowed for the Entra cycle
#   BENCH_PACED_USERS=1000      users in the paced Entra burst (0 skips it); in flight:
#                               BENCH_CYCLE_CONCURRENCY
#   BENCH_PACED_RATE=20         the gateway's [downstream] rate_limit in that run, calls/s
#   BENCH_PACED_BURST=1         ... and its burst
#   BENCH_PACED_TIMEOUT=1800    seconds allowed for the paced burst
#   BENCH_RSS_USERS=100000      users created before reading serve's RSS (0 skips it)
#   BENCH_RSS_CONFIG=""         a section appended to serve's config in that run, e.g.
#                               $'[cache]\nmemory_mb = 64' (default: the defaults)
#   BENCH_SCALE_SECONDS=20      seconds of mixed load on two instances (0 skips the scale-out run)
#   BENCH_SCALE_WORKERS=16      clients in that run
#   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test   the scale-out run's database (a
#                               schema of its own is made and dropped)
#
# The wrk scripts (one per scenario, each serving both sides) are in scripts/bench/.
# Before each scenario the script samples CPU use for 1 s and notes under the table when
# other processes were busy (builds, tests), since that skews the figures.
#
# Exit status: 0, or 2 when a scenario had non-2xx responses or socket errors (the table is
# still printed, with those rows flagged) or the Entra cycle failed (a failed SCIM call, or a
# lost, duplicated or wrong user; its summary is still printed) or the paced burst failed (the
# same, or a peak over rate + burst), or 1 when the benchmark itself could not run.
#
# Notes on reading the figures:
#   - wrk, the legacy API and the gateway share the machine's cores, so DIRECT runs have
#     one process less competing for CPU than gateway runs.
#   - The gateway caches records by id and store rows ([cache] records_ttl_ms / store_ttl_ms),
#     so after the warm-up "GET by id (cached)" makes no downstream call at all, and "search
#     (cached)" is a store lookup plus at most a GET, while the direct row is the API's own
#     search. The "-cold" scenarios run on a stack whose gateway has both caches off, so each
#     gateway request does the downstream work the direct request does, plus its own.
#   - PATCH always reads and writes downstream.
#   - The sample API checks email uniqueness by scanning every account, so creates slow
#     down as the store grows; each create run therefore starts on a fresh, freshly seeded
#     stack, and its req/s is an average over a growing store.
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$script_dir/.." && pwd)
cd -- "$root"

users=${BENCH_USERS:-1000}
duration=${BENCH_SECONDS:-10}
warmup=${BENCH_WARMUP:-2}
threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-16}
req_timeout=${BENCH_TIMEOUT:-5}
scenarios=${BENCH_SCENARIOS-proxy-get proxy-search floor-get get get-cold search search-cold patch create}
do_build=${BENCH_BUILD:-1}
build_timeout=${BENCH_BUILD_TIMEOUT:-1800}
keep=${BENCH_KEEP:-0}
cycle_users=${BENCH_CYCLE_USERS:-10000}
cycle_concurrency=${BENCH_CYCLE_CONCURRENCY:-16}
cycle_timeout=${BENCH_CYCLE_TIMEOUT:-3600}
paced_users=${BENCH_PACED_USERS:-1000}
paced_rate=${BENCH_PACED_RATE:-20}
paced_burst=${BENCH_PACED_BURST:-1}
paced_timeout=${BENCH_PACED_TIMEOUT:-1800}
rss_users=${BENCH_RSS_USERS:-100000}
rss_config=${BENCH_RSS_CONFIG:-}
scale_seconds=${BENCH_SCALE_SECONDS:-20}
scale_workers=${BENCH_SCALE_WORKERS:-16}
pg_url=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}

lua_dir="$script_dir/bench"
bin="${CARGO_TARGET_DIR:-$root/target}/release/scim-gateway"
passthrough_bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/passthrough"
scim_base=/scim/v2

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for var in users duration warmup threads connections req_timeout build_timeout \
    cycle_users cycle_concurrency cycle_timeout paced_users paced_rate paced_burst paced_timeout \
    rss_users scale_seconds scale_workers; do
    [[ ${!var} =~ ^[0-9]+$ ]] || die "$var must be a whole number, got '${!var}'"
done
((users >= 1)) || die "BENCH_USERS must be at least 1"
((duration >= 1)) || die "BENCH_SECONDS must be at least 1"
((threads >= 1 && connections >= threads)) || die "need 1 <= BENCH_THREADS <= BENCH_CONNECTIONS"
((cycle_concurrency >= 1)) || die "BENCH_CYCLE_CONCURRENCY must be at least 1"
((paced_rate >= 1 && paced_burst >= 1)) || die "BENCH_PACED_RATE and BENCH_PACED_BURST must be at least 1"
for s in $scenarios; do
    case $s in proxy-get | proxy-search | floor-get | get | get-cold | search | search-cold | patch | create | patch-unrecorded | create-unrecorded) ;;
        *) die "unknown scenario '$s' (proxy-get proxy-search floor-get get get-cold search search-cold patch create patch-unrecorded create-unrecorded)" ;;
    esac
done
command -v curl >/dev/null || die "curl is required"

# --- temp dir, servers and cleanup -----------------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/scim-bench.XXXXXX")
legacy_pid=""
gateway_pid=""
passthrough_pid=""
wrk_pid=""
demo_pid=""
cycle_pid=""
scale_pids=() # the scale-out run's gateways

stop_pid() { # pid name: TERM, up to 5 s grace, then KILL
    local pid=$1 name=$2 i
    [[ -n $pid ]] || return 0
    kill -0 "$pid" 2>/dev/null || {
        wait "$pid" 2>/dev/null || true
        return 0
    }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) did not stop on TERM, killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

stop_stack() {
    stop_pid "$gateway_pid" gateway
    gateway_pid=""
    stop_pid "$passthrough_pid" passthrough
    passthrough_pid=""
    stop_pid "$legacy_pid" "legacy API"
    legacy_pid=""
    if declare -F nginx_stop_all >/dev/null; then nginx_stop_all; fi
    direct_port=""
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_pid "$wrk_pid" wrk
    stop_pid "$cycle_pid" entra-cycle
    stop_pid "$demo_pid" demo
    for pid in "${scale_pids[@]}"; do stop_pid "$pid" gateway; done
    stop_stack
    if ((status == 1)); then
        for f in "$tmp"/legacy.log "$tmp"/gateway.log "$tmp"/demo.log; do
            [[ -s $f ]] || continue
            log "last lines of $(basename "$f"):"
            tail -n 20 "$f" >&2 || true
        done
    fi
    if [[ $keep == 1 ]]; then
        log "kept $tmp"
    else
        rm -rf -- "$tmp"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 1' INT TERM

# --- build and tools ---------------------------------------------------------------------------

if [[ $do_build == 1 ]]; then
    command -v cargo >/dev/null || die "cargo is required (or set BENCH_BUILD=0)"
    log "building release (cargo build --release, up to ${build_timeout}s)"
    timeout "$build_timeout" cargo build --release >&2 || die "cargo build --release failed"
    if [[ $scenarios == *floor-* ]]; then
        timeout "$build_timeout" cargo build --release --example passthrough >&2 ||
            die "cargo build --release --example passthrough failed"
    fi
fi
if [[ $scenarios == *floor-* ]]; then
    [[ -x $passthrough_bin ]] ||
        die "$passthrough_bin not found; build it with cargo build --release --example passthrough"
    cp -- "$passthrough_bin" "$tmp/passthrough"
    passthrough_bin="$tmp/passthrough"
fi
[[ -x $bin ]] || die "$bin not found; build it with cargo build --release"
# Run a private copy: a rebuild by someone else during the run must not swap the binary
# between the stacks this run starts.
cp -- "$bin" "$tmp/scim-gateway"
bin="$tmp/scim-gateway"

# Installs the Debian packages that provide the given commands, when a command is missing.
need_commands() { # command:package ...
    local pair missing=() sudo=()
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
    done
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]} with apt-get"
    command -v apt-get >/dev/null || die "${missing[*]} required and apt-get is not available"
    if (($(id -u) != 0)); then
        command -v sudo >/dev/null || die "${missing[*]} required; install them (apt-get install ${missing[*]}) or run as root"
        sudo=(sudo -n)
    fi
    timeout 300 "${sudo[@]}" apt-get update -qq >&2 || die "apt-get update failed"
    timeout 600 "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
        die "apt-get install ${missing[*]} failed"
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null || die "${pair%%:*} still not found after installing ${pair#*:}"
    done
}

if [[ -n ${scenarios//[[:space:]]/} ]] || ((rss_users > 0 || scale_seconds > 0)); then
    need_commands wrk:wrk nginx:nginx-light
fi
# shellcheck source=bench/nginx.sh
source "$lua_dir/nginx.sh"
# shellcheck source=bench/fill.sh
source "$lua_dir/fill.sh"

# --- stack -------------------------------------------------------------------------------------

downstream_extra="" # a line added to the gateway's [downstream] (the paced burst sets one)
cache_extra=""      # a section appended to the gateway's config ([cache] for -cold, [admin] for -unrecorded)
store_extra=""      # a [store] section appended to it (the scale-out run)
direct_port=""      # where the direct side of wrk goes when not to the sample API (nginx)
cold_cache=$'[cache]\nrecords_ttl_ms = 0\nstore_ttl_ms = 0'
unrecorded=$'[admin]\nkeep_days = 0'
api_key="bench-key-$RANDOM$RANDOM"
token="bench-token-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
legacy_port=""
gateway_port=""

port_free() { # nothing accepts connections on it (bind failures are caught at start-up)
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() { # [port to avoid]
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        [[ $p != "${1:-}" ]] && port_free "$p" && {
            echo "$p"
            return 0
        }
    done
    return 1
}

http_code() { # url [curl args...]
    local url=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null || true
}

wait_ready() { # pid name url [curl args...]: up to 15 s for a 200
    local pid=$1 name=$2 url=$3 i code=""
    shift 3
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        code=$(http_code "$url" "$@")
        [[ $code == 200 ]] && return 0
        sleep 0.1
    done
    log "$name did not answer 200 at $url within 15 s (last status: ${code:-none})"
    return 1
}

start_legacy() {
    local attempt
    for attempt in 1 2 3; do
        legacy_port=$(free_port "$gateway_port") || die "no free loopback port found"
        RUST_LOG=warn "$bin" legacy --listen "127.0.0.1:$legacy_port" --api-key "$api_key" \
            >"$tmp/legacy.log" 2>&1 &
        legacy_pid=$!
        if wait_ready "$legacy_pid" "legacy API" \
            "http://127.0.0.1:$legacy_port/api/v1/accounts?page=1&per_page=1" \
            -H "X-Api-Key: $api_key"; then
            return 0
        fi
        stop_pid "$legacy_pid" "legacy API"
        legacy_pid=""
        log "legacy API failed to start on port $legacy_port (attempt $attempt)"
    done
    die "the legacy API did not start"
}

start_gateway() {
    local attempt config="$tmp/gateway.toml"
    for attempt in 1 2 3; do
        gateway_port=$(free_port "$legacy_port") || die "no free loopback port found"
        sed -E "s|^([[:space:]]*listen[[:space:]]*=[[:space:]]*)\"[^\"]*\"|\1\"127.0.0.1:$gateway_port\"|" \
            gateway.toml >"$config"
        grep -q "^[[:space:]]*listen[[:space:]]*=[[:space:]]*\"127.0.0.1:$gateway_port\"" "$config" ||
            die "could not set the listen address in a copy of gateway.toml"
        # The -cold scenarios: every cache of the gateway off.
        [[ -n $cache_extra ]] && printf '\n%s\n' "$cache_extra" >>"$config"
        [[ -n $store_extra ]] && printf '\n%s\n' "$store_extra" >>"$config"
        if [[ -n $downstream_extra ]]; then
            # Into [downstream], after its timeout_ms line.
            awk -v extra="$downstream_extra" '{ print } !done && /^timeout_ms[[:space:]]*=/ { print extra; done = 1 }' \
                "$config" >"$config.new" && mv -- "$config.new" "$config"
            grep -qF -- "$downstream_extra" "$config" || die "could not add '$downstream_extra' to [downstream]"
        fi
        # The gateway's store (SQLite beside the config unless [store] says otherwise) must
        # start empty like the fresh legacy API, or it still holds the previous stack's
        # userNames and seeding a fresh stack gets 409s.
        rm -f -- "$tmp/gateway.db" "$tmp/gateway.db-wal" "$tmp/gateway.db-shm"
        RUST_LOG=warn LEGACY_URL="http://127.0.0.1:$legacy_port" LEGACY_API_KEY="$api_key" \
            SCIM_TOKEN="$token" "$bin" serve --config "$config" >"$tmp/gateway.log" 2>&1 &
        gateway_pid=$!
        if wait_ready "$gateway_pid" gateway \
            "http://127.0.0.1:$gateway_port$scim_base/Users?count=1" \
            -H "Authorization: Bearer $token"; then
            return 0
        fi
        stop_pid "$gateway_pid" gateway
        gateway_pid=""
        log "gateway failed to start on port $gateway_port (attempt $attempt)"
    done
    die "the gateway did not start"
}

# Seeds $users users through the gateway with one curl process (one kept-alive connection)
# and writes "<id> <email>" lines to $tmp/users.txt.
seed() {
    local conf="$tmp/seed.curl" out="$tmp/seed.out" i email created
    local url="http://127.0.0.1:$gateway_port$scim_base/Users"
    {
        for ((i = 1; i <= users; i++)); do
            email="bench-seed-$i@example.com"
            ((i > 1)) && echo "next"
            printf 'url = "%s"\n' "$url"
            printf 'header = "Authorization: Bearer %s"\n' "$token"
            printf 'header = "Content-Type: application/scim+json"\n'
            printf 'max-time = 10\n'
            printf 'write-out = "\\n@@status %%{http_code}\\n"\n'
            # Unquoted: the JSON holds no whitespace.
            printf 'data = {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s","name":{"givenName":"Bench","familyName":"Seed%d"},"active":true}\n' \
                "$email" "$i"
        done
    } >"$conf"
    timeout $((60 + users / 20)) curl -sS -K "$conf" >"$out" 2>"$tmp/seed.err" ||
        die "seeding failed: $(head -c 300 "$tmp/seed.err")"
    # Each response is a one-line body followed by "@@status NNN"; keep 201s with their ids.
    awk '
        /^@@status / {
            if ($2 == 201 && id != "" && name != "") print id, name
            else if (bad++ < 1) print "seed: status " $2 ": " substr(body, 1, 300) > "/dev/stderr"
            id = ""; name = ""; body = ""; next
        }
        NF {
            body = $0
            if (match($0, /"id"[[:space:]]*:[[:space:]]*"[^"]*"/)) {
                id = substr($0, RSTART, RLENGTH); sub(/^"id"[[:space:]]*:[[:space:]]*"/, "", id); sub(/"$/, "", id)
            }
            if (match($0, /"userName"[[:space:]]*:[[:space:]]*"[^"]*"/)) {
                name = substr($0, RSTART, RLENGTH); sub(/^"userName"[[:space:]]*:[[:space:]]*"/, "", name); sub(/"$/, "", name)
            }
        }
    ' "$out" >"$tmp/users.txt"
    created=$(wc -l <"$tmp/users.txt")
    ((created == users)) || die "seeded $created of $users users"
}

# One request of each kind on both sides before the load, so a scenario that would only
# measure error answers (or empty search results) fails here instead.
smoke_check() {
    local id email direct="http://127.0.0.1:$legacy_port/api/v1/accounts"
    local gw="http://127.0.0.1:$gateway_port$scim_base/Users" body name="Smoke$RANDOM"
    read -r id email <"$tmp/users.txt"
    local -a dh=(-H "X-Api-Key: $api_key") gh=(-H "Authorization: Bearer $token")
    expect() { # what body needle
        [[ $2 == *"$3"* ]] || die "smoke check: $1 did not answer as expected: ${2:0:300}"
    }
    body=$(curl -sS --max-time 5 -f "${dh[@]}" "$direct/$id") || die "smoke check: direct GET failed"
    expect "direct GET" "$body" "\"$email\""
    body=$(curl -sS --max-time 5 -f "${gh[@]}" "$gw/$id") || die "smoke check: gateway GET failed"
    expect "gateway GET" "$body" "\"id\":\"$id\""
    body=$(curl -sS --max-time 5 -f -G "${dh[@]}" --data-urlencode "email=$email" "$direct") ||
        die "smoke check: direct search failed"
    expect "direct search" "$body" "\"total\":1"
    body=$(curl -sS --max-time 5 -f -G "${gh[@]}" --data-urlencode "filter=userName eq \"$email\"" "$gw") ||
        die "smoke check: gateway search failed"
    expect "gateway search" "$body" "\"totalResults\":1"
    body=$(curl -sS --max-time 5 -f -X PATCH "${gh[@]}" -H "Content-Type: application/scim+json" \
        --data "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"Replace\",\"path\":\"name.givenName\",\"value\":\"$name\"}]}" \
        "$gw/$id") || die "smoke check: gateway PATCH failed"
    body=$(curl -sS --max-time 5 -f "${dh[@]}" "$direct/$id") || die "smoke check: direct GET failed"
    expect "gateway PATCH (read back directly)" "$body" "\"first_name\":\"$name\""
}

# The static downstream, a plain nginx proxy in front of it (the direct side of the proxy-*
# scenarios) and the gateway in front of it with its record cache off, so that every GET makes
# the downstream call the proxy makes. The users file holds ids the static downstream echoes.
start_static_stack() {
    local static_port proxy_port i
    static_port=$(free_port) || die "no free loopback port found"
    nginx_start static "$static_port" < <(static_server "$static_port")
    proxy_port=$(free_port "$static_port") || die "no free loopback port found"
    nginx_start proxy "$proxy_port" < <(proxy_server "$proxy_port" "127.0.0.1:$static_port")
    legacy_port=$static_port
    start_gateway
    direct_port=$proxy_port
    [[ $scenarios == *floor-* ]] && start_passthrough "$static_port"
    for ((i = 1; i <= users; i++)); do echo "$i bench$i"; done >"$tmp/users.txt"
    log "static downstream on 127.0.0.1:$static_port, nginx proxy on 127.0.0.1:$proxy_port, gateway on 127.0.0.1:$gateway_port"
}

# The bare reverse proxy on the gateway's stack (floor-* scenarios), in front of the static
# downstream on PORT.
start_passthrough() { # port
    passthrough_port=$(free_port "$gateway_port") || die "no free loopback port found"
    "$passthrough_bin" "127.0.0.1:$passthrough_port" "http://127.0.0.1:$1" >"$tmp/passthrough.log" 2>&1 &
    passthrough_pid=$!
    wait_ready "$passthrough_pid" passthrough "http://127.0.0.1:$passthrough_port/api/v1/accounts/1" ||
        die "the passthrough did not start: $(tail -n 3 "$tmp/passthrough.log")"
}

start_stack() {
    start_legacy
    start_gateway
    log "legacy API on 127.0.0.1:$legacy_port, gateway on 127.0.0.1:$gateway_port; seeding $users users"
    local t0=$SECONDS
    seed
    log "seeded $users users in $((SECONDS - t0)) s"
}

# --- wrk ---------------------------------------------------------------------------------------

wrk_script() { # scenario: get-cold, proxy-get and floor-get use get.lua, patch-unrecorded patch.lua, and so on
    local name=${1%-cold}
    name=${name%-unrecorded}
    name=${name#floor-}
    echo "${name#proxy-}"
}

# run_wrk scenario side seconds outfile; a floor-* scenario's gateway side is the passthrough,
# sent the direct side's requests (it forwards them as they are, as nginx does).
run_wrk() {
    local scenario=$1 side=$2 secs=$3 outfile=$4 port requests=$2
    if [[ $side == direct ]]; then port=${direct_port:-$legacy_port}; else port=$gateway_port; fi
    if [[ $scenario == floor-* && $side == gateway ]]; then port=$passthrough_port requests=direct; fi
    BENCH_SIDE=$requests BENCH_API_KEY=$api_key BENCH_TOKEN=$token BENCH_USERS_FILE="$tmp/users.txt" \
        BENCH_LUA_DIR="$lua_dir" BENCH_SCIM_BASE=$scim_base \
        BENCH_TAG="${side:0:1}$((++wrk_runs))x$RANDOM" \
        timeout $((secs + req_timeout + 30)) \
        wrk -t "$threads" -c "$connections" -d "${secs}s" --timeout "${req_timeout}s" --latency \
        -s "$lua_dir/$(wrk_script "$scenario").lua" "http://127.0.0.1:$port/" >"$outfile" 2>&1 &
    # In the background so that INT/TERM reach the trap at once, not after the run.
    wrk_pid=$!
    wait "$wrk_pid" || die "wrk failed for $scenario/$side: $(tail -n 5 "$outfile")"
    wrk_pid=""
    grep -q '^Requests/sec:' "$outfile" || die "no Requests/sec in wrk output for $scenario/$side: $(tail -n 5 "$outfile")"
}
wrk_runs=0

# parse_wrk file -> "rps p50_ms p99_ms non2xx socket_errors requests" (n/a when missing)
parse_wrk() {
    awk '
        function ms(v,   n) {
            n = v + 0
            if (v ~ /us$/) return n / 1000
            if (v ~ /ms$/) return n
            if (v ~ /s$/) return n * 1000
            if (v ~ /m$/) return n * 60000
            if (v ~ /h$/) return n * 3600000
            return n
        }
        /^Requests\/sec:/ { rps = $2 }
        /Latency Distribution/ { dist = 1; next }
        dist && $1 == "50%" { p50 = ms($2) }
        dist && $1 == "99%" { p99 = ms($2); dist = 0 }
        /requests in/ { reqs = $1 }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { line = $0; gsub(/,/, "", line); split(line, f, " ")
                           sock = f[4] + f[6] + f[8] + f[10] }
        END {
            printf "%s %s %s %d %d %s\n", (rps == "" ? "n/a" : rps),
                (p50 == "" ? "n/a" : sprintf("%.3f", p50)), (p99 == "" ? "n/a" : sprintf("%.3f", p99)),
                non2xx, sock, (reqs == "" ? 0 : reqs)
        }
    ' "$1"
}

# Percentage of CPU time other processes used over one second (our servers idle, wrk not
# running), or nothing where /proc/stat is missing.
cpu_busy() {
    [[ -r /proc/stat ]] || return 0
    local _cpu u1 n1 s1 i1 w1 q1 sq1 st1 u2 n2 s2 i2 w2 q2 sq2 st2
    read -r _cpu u1 n1 s1 i1 w1 q1 sq1 st1 _ </proc/stat
    sleep 1
    read -r _cpu u2 n2 s2 i2 w2 q2 sq2 st2 _ </proc/stat
    local busy=$(((u2 + n2 + s2 + q2 + sq2 + st2) - (u1 + n1 + s1 + q1 + sq1 + st1)))
    local idle=$(((i2 + w2) - (i1 + w1)))
    ((busy + idle > 0)) && echo $((100 * busy / (busy + idle)))
}

busy_notes=""
check_quiet() { # scenario
    local pct
    pct=$(cpu_busy)
    if [[ -n $pct ]] && ((pct > 15)); then
        log "warning: other processes use ${pct}% of the CPUs before '$1'; its figures will be skewed"
        busy_notes+=" $1:${pct}%"
    fi
}

# --- scenarios ---------------------------------------------------------------------------------

declare -A result
measure() { # scenario side
    local scenario=$1 side=$2 out="$tmp/wrk-$1-$2.txt"
    if [[ $scenario != create* ]] && ((warmup > 0)); then
        log "  $side: ${warmup}s warm-up"
        run_wrk "$scenario" "$side" "$warmup" "$tmp/wrk-$scenario-$side-warmup.txt"
    fi
    log "  $side: ${duration}s measured"
    run_wrk "$scenario" "$side" "$duration" "$out"
    result[$scenario.$side]=$(parse_wrk "$out")
    local rps p50 p99 non2xx sock reqs
    read -r rps p50 p99 non2xx sock reqs <<<"${result[$scenario.$side]}"
    log "  $side: $rps req/s, p50 $p50 ms, p99 $p99 ms, $reqs requests, non-2xx $non2xx, socket errors $sock"
}

flagged=0
if [[ -n ${scenarios//[[:space:]]/} ]]; then
    started=$SECONDS
    log "wrk: $threads threads, $connections connections, ${duration}s per run (+${warmup}s warm-up); $users users; $(nproc) cores"
    stack=""
    for scenario in $scenarios; do
        log "scenario $scenario"
        # proxy-* need the static stack, -cold a stack whose gateway caches nothing, the others
        # the sample API with the default caches.
        want_cache=""
        want_stack=legacy
        [[ $scenario == *-cold ]] && want_cache=$cold_cache
        [[ $scenario == *-unrecorded ]] && want_cache=$unrecorded
        [[ $scenario == proxy-* || $scenario == floor-* ]] && want_stack=static want_cache=$'[cache]\nrecords_ttl_ms = 0'
        if [[ $want_stack/$want_cache != "$stack" ]]; then
            case $want_cache in
                "") what="its default caches" ;;
                "$unrecorded") what="no activity recorded" ;;
                "$cold_cache") what="both caches off" ;;
                *) what="its record cache off" ;;
            esac
            log "  fresh $want_stack stack, the gateway with $what"
            stop_stack
            cache_extra=$want_cache
            if [[ $want_stack == static ]]; then
                start_static_stack
            else
                start_stack
                smoke_check
                log "  smoke check passed (GET, search and PATCH on both sides)"
            fi
            stack=$want_stack/$want_cache
        fi
        check_quiet "$scenario"
        for side in direct gateway; do
            if [[ $scenario == create* ]]; then
                log "  fresh stack for $side create"
                stop_stack
                start_stack
            fi
            measure "$scenario" "$side"
        done
    done
    stop_stack
    log "finished in $((SECONDS - started)) s"

    # --- table -------------------------------------------------------------------------------------

    declare -A label=(
        [proxy-get]="GET id vs nginx"
        [proxy-search]="filter vs nginx"
        [floor-get]="floor vs nginx"
        [get]="GET id (cached)"
        [get-cold]="GET id (no cache)"
        [search]="search (cached)"
        [search-cold]="search (no cache)"
        [patch]="PATCH name"
        [create]="POST create"
        [patch-unrecorded]="PATCH, no activity"
        [create-unrecorded]="POST, no activity"
    )

    fmt='%-16s | %12s | %13s | %6s | %19s | %19s | %12s | %s\n'
    {
        echo
        echo "scim-gateway vs legacy API: wrk -t$threads -c$connections -d${duration}s, $users seeded users, $(nproc) cores, $(wrk --version 2>&1 | head -n 1 | awk '{print $1, $2}')"
        if [[ $scenarios == *proxy-* || $scenarios == *floor-* ]]; then
            echo "(\"vs nginx\" rows: direct = a plain nginx reverse proxy in front of a static downstream (nginx answering from memory); gateway = scim-gateway in front of the same downstream, record cache off, so each GET makes one downstream call)"
        fi
        if [[ $scenarios == *floor-* ]]; then
            echo "(\"floor\" row: its gateway column is scripts/bench/passthrough.rs, a bare reverse proxy on the gateway's stack (hyper server, reqwest client) forwarding the same GETs as nginx: the most any proxy on these crates gets here)"
        fi
        # shellcheck disable=SC2059
        printf "$fmt" scenario "direct req/s" "gateway req/s" ratio "direct p50 / p99" "gateway p50 / p99" "added p50" "errors (non-2xx, socket) direct; gateway"
        # shellcheck disable=SC2059
        printf "$fmt" "----------------" "------------" "-------------" "------" "-------------------" "-------------------" "------------" "---------------------------------------"
        for scenario in $scenarios; do
            read -r d_rps d_p50 d_p99 d_non d_sock _ <<<"${result[$scenario.direct]}"
            read -r g_rps g_p50 g_p99 g_non g_sock _ <<<"${result[$scenario.gateway]}"
            ratio=$(awk -v d="$d_rps" -v g="$g_rps" 'BEGIN { if (d + 0 > 0 && g != "n/a") printf "%.2fx", g / d; else print "n/a" }')
            added=$(awk -v d="$d_p50" -v g="$g_p50" 'BEGIN { if (d != "n/a" && g != "n/a") printf "%+.3f ms", g - d; else print "n/a" }')
            errors="$d_non, $d_sock; $g_non, $g_sock"
            name=${label[$scenario]}
            if ((d_non + d_sock + g_non + g_sock > 0)); then
                errors="$errors  <-- ERRORS"
                name="! $name"
                flagged=1
            fi
            # shellcheck disable=SC2059
            printf "$fmt" "$name" "$d_rps" "$g_rps" "$ratio" "$d_p50 / $d_p99 ms" "$g_p50 / $g_p99 ms" "$added" "$errors"
        done
        if [[ -n $busy_notes ]]; then
            echo "note: the machine was busy with other work before some scenarios (CPU use:$busy_notes); rerun when idle."
        fi
        if ((flagged)); then
            echo "! = some requests failed (non-2xx responses or socket errors); those figures are not comparable."
        fi
    }
fi

# --- Entra cycle ---------------------------------------------------------------------------------

# Starts `scim-gateway demo` on a free port and reads its Tenant URL and Secret Token.
start_demo() {
    local i
    RUST_LOG=warn "$bin" demo --listen 127.0.0.1:0 >"$tmp/demo.out" 2>"$tmp/demo.log" &
    demo_pid=$!
    demo_url=""
    demo_token=""
    for ((i = 0; i < 150; i++)); do
        kill -0 "$demo_pid" 2>/dev/null || die "the demo exited: $(tail -n 5 "$tmp/demo.log")"
        demo_url=$(sed -n 's/^  Tenant URL:[[:space:]]*//p' "$tmp/demo.out")
        demo_token=$(sed -n 's/^  Secret Token:[[:space:]]*//p' "$tmp/demo.out")
        [[ -n $demo_url && -n $demo_token ]] && break
        sleep 0.1
    done
    [[ -n $demo_url && -n $demo_token ]] || die "the demo printed no Tenant URL and Secret Token within 15 s"
    wait_ready "$demo_pid" demo "$demo_url/Users?count=1" -H "Authorization: Bearer $demo_token" ||
        die "the demo gateway did not become ready"
}

cycle_failed=0
if ((cycle_users > 0)); then
    log "Entra cycle: $cycle_users users, concurrency $cycle_concurrency, against scim-gateway demo"
    check_quiet entra-cycle
    start_demo
    log "demo gateway at $demo_url"
    # The token goes through the environment, not the command line (ps shows arguments).
    # In the background so that INT/TERM reach the trap at once; progress goes to stderr.
    SCIM_TOKEN=$demo_token timeout "$cycle_timeout" "$bin" entra-cycle --url "$demo_url" \
        --users "$cycle_users" --concurrency "$cycle_concurrency" --prefix bench-cycle \
        >"$tmp/cycle.out" &
    cycle_pid=$!
    cycle_status=0
    wait "$cycle_pid" || cycle_status=$?
    cycle_pid=""
    stop_pid "$demo_pid" demo
    demo_pid=""
    case $cycle_status in
        0) log "Entra cycle passed" ;;
        124) die "the Entra cycle did not finish within ${cycle_timeout}s (BENCH_CYCLE_TIMEOUT)" ;;
        *)
            [[ -s $tmp/cycle.out ]] || die "entra-cycle failed (status $cycle_status) before its summary"
            log "Entra cycle FAILED (status $cycle_status); its summary follows"
            cycle_failed=1
            ;;
    esac
    {
        echo
        echo "Entra cycle: scim-gateway entra-cycle against scim-gateway demo, $(nproc) cores"
        cat -- "$tmp/cycle.out"
        if [[ $busy_notes == *entra-cycle:* ]]; then
            echo "note: the machine was busy with other work before the cycle; rerun when idle."
        fi
    }
fi

# --- paced Entra burst ---------------------------------------------------------------------------

# The sample API alone, the gateway in front of it with a [downstream] rate_limit, and an Entra
# cycle bursting at it ($cycle_concurrency users in flight). Calls over the rate must wait, not
# fail: 0 failed SCIM calls, and the sample API never sees more than rate + burst calls within
# one second (it prints its peak when stopped with Ctrl-C).

# Stops the sample API with SIGINT, so that it prints its pace line, and echoes that line.
stop_legacy_for_pace() {
    local i
    kill -INT "$legacy_pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$legacy_pid" 2>/dev/null || break
        sleep 0.1
    done
    stop_pid "$legacy_pid" "legacy API"
    legacy_pid=""
    grep 'requests in one second' "$tmp/legacy.log" | tail -n 1
}

paced_failed=0
if ((paced_users > 0)); then
    log "paced Entra burst: $paced_users users, concurrency $cycle_concurrency, [downstream] rate_limit $paced_rate/s, burst $paced_burst"
    check_quiet paced-burst
    downstream_extra="rate_limit = { requests_per_second = $paced_rate, burst = $paced_burst }"
    start_legacy
    start_gateway
    downstream_extra=""
    paced_url="http://127.0.0.1:$gateway_port$scim_base"
    paced_started=$(date +%s.%N)
    SCIM_TOKEN=$token timeout "$paced_timeout" "$bin" entra-cycle --url "$paced_url" \
        --users "$paced_users" --concurrency "$cycle_concurrency" --prefix bench-paced \
        >"$tmp/paced.out" &
    cycle_pid=$!
    paced_status=0
    wait "$cycle_pid" || paced_status=$?
    cycle_pid=""
    paced_elapsed=$(awk -v s="$paced_started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    stop_pid "$gateway_pid" gateway
    gateway_pid=""
    pace=$(stop_legacy_for_pace)
    case $paced_status in
        0) log "paced Entra burst passed" ;;
        124) die "the paced Entra burst did not finish within ${paced_timeout}s (BENCH_PACED_TIMEOUT)" ;;
        *)
            [[ -s $tmp/paced.out ]] || die "entra-cycle failed (status $paced_status) before its summary"
            log "paced Entra burst FAILED (status $paced_status); its summary follows"
            paced_failed=1
            ;;
    esac
    failed_calls=$(awk '$1 == "total" { print $NF }' "$tmp/paced.out")
    downstream_calls=$(sed -n 's/^sample legacy API: \([0-9]*\) requests.*/\1/p' <<<"$pace")
    peak=$(sed -n 's/.*peak \([0-9]*\) requests in one second.*/\1/p' <<<"$pace")
    allowed=$((paced_rate + paced_burst))
    if [[ -z $peak ]] || ((peak > allowed)); then
        log "the sample API saw ${peak:-an unknown number of} calls within one second, over $allowed"
        paced_failed=1
    fi
    {
        echo
        echo "Paced Entra burst: entra-cycle -> gateway ([downstream] rate_limit = $paced_rate/s, burst $paced_burst) -> sample API, $(nproc) cores"
        echo "  users, in flight:      $paced_users, $cycle_concurrency"
        echo "  elapsed:               $paced_elapsed s (initial, delta, disable and verify phases)"
        echo "  failed SCIM calls:     ${failed_calls:-n/a} (must be 0: calls over the rate wait)"
        echo "  downstream calls:      ${downstream_calls:-n/a}"
        echo "  peak downstream rate:  ${peak:-n/a} calls within one second (at most rate + burst = $allowed)"
        echo "  the cycle's summary:"
        sed 's/^/    /' "$tmp/paced.out"
        if [[ $busy_notes == *paced-burst:* ]]; then
            echo "note: the machine was busy with other work before the paced burst; rerun when idle."
        fi
    }
fi

# --- memory at scale ------------------------------------------------------------------------------

# `serve` in front of the static downstream, its store (SQLite) and caches at their defaults,
# after $rss_users users were created through it: each create writes a store row and fills the
# store cache and the record cache (which hold what was used within their TTLs).
if ((rss_users > 0)); then
    log "memory: serve with $rss_users users created through it (static downstream)"
    check_quiet rss
    rss_port=$(free_port) || die "no free loopback port found"
    nginx_start static "$rss_port" < <(static_server "$rss_port")
    legacy_port=$rss_port cache_extra=$rss_config store_extra=""
    start_gateway
    read -r rss_idle _ <<<"$(rss_of "$gateway_pid")"
    rss_started=$SECONDS
    rss_created=$(fill_users "$rss_users")
    rss_secs=$((SECONDS - rss_started))
    read -r rss_full rss_peak <<<"$(rss_of "$gateway_pid")"
    rss_rows=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from resources").fetchone()[0])' "$tmp/gateway.db" 2>/dev/null || echo n/a)
    stop_stack
    {
        echo
        echo "Memory: scim-gateway serve (SQLite store, ${rss_config:+caches as in }${rss_config:-default caches}) in front of a static downstream, $(nproc) cores"
        echo "  users created:         $rss_created of $rss_users in ${rss_secs} s (store rows: $rss_rows)"
        echo "  RSS idle:              $rss_idle MB"
        echo "  RSS after:             $rss_full MB (peak $rss_peak MB)"
    }
    ((rss_created == rss_users)) || {
        log "only $rss_created of $rss_users creates answered 201: $(head -c 300 "$tmp/fill.err")"
        flagged=1
    }
fi

# --- two instances on one PostgreSQL -------------------------------------------------------------

# One run: a fresh schema, a fresh sample API, two gateways on that schema behind a round-robin
# nginx, stale.py's mixed load; prints stale.py's counts and the sample API's pace line.
scale_run() { # seconds [a line for [downstream]]
    local seconds=$1 schema="bench_$RANDOM$RANDOM" ports=() balance_port n
    psql -q "$pg_url" -c "CREATE SCHEMA $schema" >&2 || die "psql could not create a schema at $pg_url"
    store_extra=$(printf '[store]\nurl = "%s%soptions=-c%%20search_path%%3D%s"' \
        "$pg_url" "$([[ $pg_url == *\?* ]] && echo '&' || echo '?')" "$schema")
    downstream_extra=${2:-}
    start_legacy
    for n in 1 2; do
        start_gateway
        scale_pids+=("$gateway_pid") ports+=("127.0.0.1:$gateway_port")
        gateway_pid=""
    done
    balance_port=$(free_port) || die "no free loopback port found"
    nginx_start balance "$balance_port" < <(proxy_server "$balance_port" "${ports[@]}")
    SCIM_TOKEN=$token timeout $((seconds + 300)) python3 "$lua_dir/stale.py" \
        "http://127.0.0.1:$balance_port$scim_base" "$scale_workers" "$seconds" "bench-$schema" ||
        echo "stale.py failed"
    for n in "${scale_pids[@]}"; do stop_pid "$n" gateway; done
    scale_pids=()
    nginx_stop balance
    stop_legacy_for_pace
    store_extra="" downstream_extra=""
    PGOPTIONS=--client-min-messages=warning psql -q "$pg_url" -c "DROP SCHEMA $schema CASCADE" >&2 || log "could not drop schema $schema"
}

scale_failed=0
if ((scale_seconds > 0)); then
    need_commands psql:postgresql-client
    log "scale-out: two gateways on one PostgreSQL schema, ${scale_seconds}s of mixed load, $scale_workers clients"
    check_quiet scale-out
    scale_run "$scale_seconds" >"$tmp/scale-mixed.txt"
    mapfile -t mixed <"$tmp/scale-mixed.txt"
    paced_line="rate_limit = { requests_per_second = $paced_rate, burst = $paced_burst }"
    log "scale-out, paced: the same with [downstream] $paced_line on both, 5 s"
    scale_run 5 "$paced_line" >"$tmp/scale-paced.txt"
    mapfile -t paced <"$tmp/scale-paced.txt"
    read -r _ answers _ stale _ errors _ lost _ dup _ undel <<<"${mixed[0]:-}"
    peak=$(sed -n 's/.*peak \([0-9]*\) requests in one second.*/\1/p' <<<"${paced[1]:-}")
    {
        echo
        echo "Two instances on one PostgreSQL behind a round-robin nginx, $scale_workers clients, $(nproc) cores"
        echo "  mixed load, ${scale_seconds} s:    ${mixed[0]:-no result}"
        echo "  paced ($paced_line), 5 s:"
        echo "                         ${paced[0]:-no result}"
        echo "  peak downstream rate:  ${peak:-n/a} calls within one second (rate + burst = $((paced_rate + paced_burst)))"
    }
    if [[ ${stale:-x} != 0 || ${lost:-x} != 0 || ${dup:-x} != 0 || ${undel:-x} != 0 ]]; then
        log "the scale-out run saw stale, lost, duplicated or undeleted users"
        scale_failed=1
    fi
    if [[ -z $peak ]] || ((peak > paced_rate + paced_burst)); then
        log "two paced instances sent ${peak:-an unknown number of} calls within one second"
        scale_failed=1
    fi
fi

if ((flagged)); then
    log "some scenarios had errors (rows marked !)"
fi
if ((cycle_failed)); then
    log "the Entra cycle failed (see its summary)"
fi
if ((paced_failed)); then
    log "the paced Entra burst failed (see its figures)"
fi
if ((scale_failed)); then
    log "the scale-out run failed (see its figures)"
fi
if ((flagged || cycle_failed || paced_failed || scale_failed)); then
    exit 2
fi
