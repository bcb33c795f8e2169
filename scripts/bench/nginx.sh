# Sourced by scripts/bench.sh: nginx processes for the runs that need one. Each is its own
# master with one worker (so it competes for the two cores like one more process, no more),
# configured in $tmp/nginx-NAME/, stopped by the bench's cleanup.
#
#   static   a downstream that answers from memory: GET /api/v1/accounts/{id} echoes the id in an
#            account record, GET /api/v1/accounts?email=E lists one account whose email is E,
#            POST /api/v1/accounts returns 201 with a fresh random id. What the gateway and a
#            plain proxy add to a downstream that costs nothing.
#   proxy    a plain reverse proxy (keep-alive upstream) in front of the static downstream: the
#            reference row, what any proxy at all costs.
#   balance  round-robin over the gateway instances of the scale-out run.

declare -A nginx_pid=()

# One account record of the sample API's shape; ID and EMAIL are nginx expressions.
static_account() { # id-expression email-expression
    printf '{"id":"%s","email":"%s","first_name":"Bench","last_name":"Static","status":"active","role":"user","licences":[],"department":null,"employee_number":null,"manager_id":null,"external_ref":null,"phone":null,"metadata":{},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}' "$1" "$2"
}

# The server block of the static downstream on PORT.
static_server() { # port
    cat <<EOF
    server {
        listen 127.0.0.1:$1;
        location ~ ^/api/v1/accounts/([0-9a-z]+)\$ {
            return 200 '{"account":$(static_account '$1' 'bench$1')}';
        }
        location = /api/v1/accounts {
            if (\$request_method = POST) {
                return 201 '{"account":$(static_account '$request_id' 'bench$request_id')}';
            }
            return 200 '{"data":[$(static_account 1 '$arg_email')],"meta":{"page":1,"per_page":100,"total":1}}';
        }
        location / { return 200 '{}'; }
    }
EOF
}

# The server block of a proxy on PORT to the upstream servers given as host:port.
proxy_server() { # port upstream...
    local port=$1 backend
    shift
    echo "    upstream backends_$port {"
    for backend in "$@"; do echo "        server $backend;"; done
    echo "        keepalive 64;"
    echo "    }"
    cat <<EOF
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://backends_$port;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$http_host;
        }
    }
EOF
}

# Starts nginx NAME with the server blocks read from stdin and waits until PORT answers.
nginx_start() { # name port < server blocks
    local name=$1 port=$2 dir="$tmp/nginx-$1" i
    mkdir -p "$dir"
    {
        echo "worker_processes 1; daemon off; pid $dir/nginx.pid; error_log $dir/error.log warn;"
        echo "events { worker_connections 4096; }"
        echo "http {"
        echo "    access_log off; default_type application/json;"
        cat
        echo "}"
    } >"$dir/nginx.conf"
    nginx -c "$dir/nginx.conf" -p "$dir" >"$dir/out.log" 2>&1 &
    nginx_pid[$name]=$!
    for ((i = 0; i < 100; i++)); do
        kill -0 "${nginx_pid[$name]}" 2>/dev/null || die "nginx $name exited: $(tail -n 3 "$dir/error.log" "$dir/out.log" 2>/dev/null)"
        [[ $(http_code "http://127.0.0.1:$port/") != 000 ]] && return 0
        sleep 0.1
    done
    die "nginx $name did not answer on port $port"
}

nginx_stop() { # name
    stop_pid "${nginx_pid[$1]:-}" "nginx $1"
    nginx_pid[$1]=""
}

nginx_stop_all() {
    local name
    for name in "${!nginx_pid[@]}"; do nginx_stop "$name"; done
}
