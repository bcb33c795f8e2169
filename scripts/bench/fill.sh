# Sourced by scripts/bench.sh: creates N users through the gateway as fast as it takes them,
# with one curl process making 16 requests at a time, and echoes how many answered 201.
fill_users() { # n
    local n=$1 conf="$tmp/fill.curl" url="http://127.0.0.1:$gateway_port$scim_base/Users"
    awk -v n="$n" -v url="$url" -v token="$token" 'BEGIN {
        for (i = 1; i <= n; i++) {
            if (i > 1) print "next"
            printf "url = \"%s\"\n", url
            printf "header = \"Authorization: Bearer %s\"\n", token
            print "header = \"Content-Type: application/scim+json\""
            print "output = \"/dev/null\""
            print "write-out = \"%{http_code}\\n\""
            printf "data = {\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"fill-%d@example.com\",\"name\":{\"givenName\":\"Fill\",\"familyName\":\"U%d\"},\"active\":true}\n", i, i
        }
    }' >"$conf"
    timeout $((120 + n / 100)) curl -sS --parallel --parallel-max 16 -K "$conf" 2>"$tmp/fill.err" |
        grep -c '^201$' || true
}

# Resident and peak resident memory of a process, in MB: "rss hwm".
rss_of() { # pid
    awk '/^VmRSS:/ { rss = $2 } /^VmHWM:/ { hwm = $2 } END { printf "%.1f %.1f\n", rss / 1024, hwm / 1024 }' "/proc/$1/status"
}
