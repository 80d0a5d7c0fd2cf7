#!/usr/bin/env bash
# bench/scaleout.sh: 1, 2 and 3 gateways on one PostgreSQL and one S3
# server (versitygw), and print one Markdown table (docs/scale-out.md).
#
#   bash bench/scaleout.sh                            # 1, 2, 3 gateways; 10 s runs; 1 GiB
#   GATEWAYS="1 2" SMALL_SECS=2 BIG=16MiB bash bench/scaleout.sh   # a quick check that it works
#
# Everything runs on this machine, on 127.0.0.1: a throwaway PostgreSQL
# cluster (Debian's package; as root it runs as nobody) with fsync on, a
# versitygw posix server, and N gateways `serve --upstream postgres://...
# --blobs s3://bench`. Rows, per N:
#   - small requests: a Nimblex list of a 10-file record, CONNS connections
#     spread over the N gateways (one load generator per gateway), req/s
#     summed and the worst p99;
#   - a BIG upload through gateway 1 and its download through gateway N.
# All of it shares the machine's cores, so the table says what limits the
# scaling here, not what separate machines would do. Everything started is
# stopped on exit, by pid.
set -euo pipefail

GATEWAYS=${GATEWAYS:-"1 2 3"}
SMALL_SECS=${SMALL_SECS:-10}
CONNS=${CONNS:-64}
BIG=${BIG:-1GiB}
RATE_LIMIT=${RATE_LIMIT:-0}    # --rate-limit of each gateway (0: off); on, every request takes a token in PostgreSQL
RATE_BURST=${RATE_BURST:-400}  # --rate-burst of each gateway

cd "$(dirname "$0")/.."
mkdir -p bench/out
RUN=$(mktemp -d "$PWD/bench/out/scaleout.XXXXXX")
chmod 755 "$RUN"
DG="$RUN/gw-bench"
LOAD="$RUN/load"
declare -a PIDS=()

log() { printf '%s\n' "$*" >&2; }

cleanup() {
	local rc=$? p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$RUN"
	exit $rc
}
trap cleanup EXIT

log "building into $RUN"
go build -o "$DG" ./cmd/dragoman
(cd bench/load && go build -o "$LOAD" .)

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $PGBIN/postgres ]] || { log "no PostgreSQL server: apt-get install -y postgresql"; exit 1; }
VGW=$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")
[[ -x $VGW ]] || { log "no versitygw: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"; exit 1; }

# as_pg runs a PostgreSQL program as nobody when root (it refuses root).
as_pg() {
	if [[ $(id -u) == 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi
}

PGPORT=$("$LOAD" freeport)
mkdir -p "$RUN/pg"
printf 'bench\n' >"$RUN/pgpass"
[[ $(id -u) == 0 ]] && chown nobody "$RUN/pg" "$RUN/pgpass"
as_pg "$PGBIN/initdb" -D "$RUN/pg/data" -U postgres --pwfile "$RUN/pgpass" --auth-host=scram-sha-256 \
	--auth-local=trust -E UTF8 --no-instructions >"$RUN/initdb.log"
as_pg "$PGBIN/postgres" -D "$RUN/pg/data" -h 127.0.0.1 -p "$PGPORT" -k "" -c max_connections=300 \
	>"$RUN/postgres.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" && break
	sleep 0.1
done
PGPASSWORD=bench "$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -c 'CREATE DATABASE dragoman' >/dev/null
DB="postgres://postgres:bench@127.0.0.1:$PGPORT/dragoman"

S3PORT=$("$LOAD" freeport)
mkdir -p "$RUN/s3/bench"
export AWS_ACCESS_KEY_ID=benchaccess AWS_SECRET_ACCESS_KEY=benchsecret AWS_REGION=us-east-1
"$VGW" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --port "127.0.0.1:$S3PORT" --quiet posix "$RUN/s3" \
	>"$RUN/versitygw.log" 2>&1 &
PIDS+=($!)
S3="http://127.0.0.1:$S3PORT"

KEY=$("$DG" keys create --upstream "$DB" --name bench)

# start_gws N starts gateways 1..N (those not running yet) and fills URLS.
declare -a URLS=()
start_gws() {
	local n=$1 i port
	for ((i = ${#URLS[@]}; i < n; i++)); do
		port=$("$LOAD" freeport)
		"$DG" serve --listen "127.0.0.1:$port" --data "$RUN/gw$i" --rate-limit "$RATE_LIMIT" --rate-burst "$RATE_BURST" --access-log=false \
			--upstream "$DB" --blobs s3://bench --s3-endpoint "$S3" >>"$RUN/gw$i.log" 2>&1 &
		PIDS+=($!)
		URLS+=("http://127.0.0.1:$port")
		"$LOAD" wait -url "${URLS[$i]}" -timeout 30s
	done
}

# field KEY LINE prints the value of KEY=VALUE in LINE.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

start_gws 1
"$LOAD" seed -url "${URLS[0]}" -key "$KEY" -collection bench -record list10 -n 10 -size 1KiB >/dev/null

ROWS=""
for n in $GATEWAYS; do
	start_gws "$n"
	log "small requests over $n gateway(s)"
	outs=()
	for ((i = 0; i < n; i++)); do
		"$LOAD" small -url "${URLS[$i]}/jsonapi/records/bench/list10/attachments" -key "$KEY" \
			-c $((CONNS / n)) -d "${SMALL_SECS}s" >"$RUN/small$i.out" 2>/dev/null &
		outs+=($!)
	done
	for p in "${outs[@]}"; do wait "$p"; done
	rps=0 p99=0
	for ((i = 0; i < n; i++)); do
		line=$(cat "$RUN/small$i.out")
		rps=$(awk -v a="$rps" -v b="$(field rps "$line")" 'BEGIN { printf "%.0f", a + b }')
		p99=$(awk -v a="$p99" -v b="$(field p99_ms "$line")" 'BEGIN { printf "%.2f", (b > a ? b : a) }')
	done
	log "upload of $BIG through gateway 1, download through gateway $n"
	up=$("$LOAD" upload -url "${URLS[0]}/jsonapi/records/bench/big$n/attachments/content/big.bin" -key "$KEY" -size "$BIG")
	down=$("$LOAD" download -url "${URLS[$((n - 1))]}/jsonapi/records/bench/big$n/attachments/content/big.bin" -key "$KEY")
	ROWS+="| $n | $rps | $p99 | $(field mbps "$up") | $(field mbps "$down") |"$'\n'
done

cat <<TABLE
| gateways ($(date -u +%F), $(git rev-parse --short HEAD), $(nproc) cores) | nimblex list req/s | worst p99 ms | $BIG upload MB/s | $BIG download MB/s |
|---|---|---|---|---|
${ROWS%$'\n'}
TABLE
