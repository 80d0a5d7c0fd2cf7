#!/usr/bin/env bash
# bench/run.sh: benchmark the running dragoman binary and print one Markdown
# table (docs/benchmarks.md explains every row).
#
#   bash bench/run.sh               # about 10-15 minutes on 2 cores
#   RUNS=1 SMALL_SECS=3 bash bench/run.sh   # a quicker, noisier pass
#   REV=HEAD bash bench/run.sh      # the gateway of a commit (git archive), not the working tree
#
# It builds the gateway and the load generator (bench/load) into a temp dir
# under bench/out/ (git-ignored, on the same disk as the checkout), starts
# the gateway on a free 127.0.0.1 port with the per-key rate limit off
# (--rate-limit 0), and starts a fresh server for each phase so that each
# phase's peak RSS (VmHWM) is its own. The hop and pass-through phases run
# a second gateway in front of the first (--upstream), and nginx and Caddy
# as reverse proxies for comparison (each installed from Debian's packages
# if it is missing; skipped, and said so, if that fails). Everything it started and
# wrote is removed on exit; the table is also left in bench/out/last-run.md.
set -euo pipefail

RUNS=${RUNS:-3}              # repetitions of the dd / upload / download phases and hop / pass-through runs (median reported)
SMALL_SECS=${SMALL_SECS:-10} # duration of each small-request run
REV=${REV:-}                 # build the gateway from this git revision instead of the working tree
QUIET_WAIT=${QUIET_WAIT:-60} # before each group of phases, wait up to this many seconds for an idle machine
SMALL_TRIES=${SMALL_TRIES:-3} # small-request runs repeated (at most) while the machine was busy
NGINX_WORKERS=${NGINX_WORKERS:-2} # nginx worker_processes for the pass-through comparison (2 = one per core here)
ACCESS_LOG=${ACCESS_LOG:-false} # the gateways' access log (--access-log), off as nginx's is: a line per request is its own cost
BIG=1GiB
BIG_BYTES=1073741824
IL_WORKERS=16
IL_ROUNDS=4
IL_SIZE=10MB
ESPO_SIZE=256MiB # EspoCRM's cap per attachment, sent in 64 chunks of 4 MiB
ESPO_CHUNK=4MiB
CONNS=64
PASS_PATH=/api/v1/Account/abc/opportunities # not modelled by the gateway: passes through
MODELED_PATH=/api/v1/Account/abc            # EspoCRM's record read: modelled (record.get)

cd "$(dirname "$0")/.."
REPO=$(pwd)
mkdir -p bench/out
RUN=$(mktemp -d "$REPO/bench/out/run.XXXXXX")
DATA="$RUN/data"
DG="$RUN/gw-bench" # not "dragoman": a broad kill by name elsewhere must not hit it
LOAD="$RUN/load"
SERVER_PID=
BASE=
declare -A PIDS=() URLS=() KIDS=()

log() { printf '%s\n' "$*" >&2; }

# stop_proc NAME stops the process the script started as NAME: TERM, then
# KILL after 10 s (and then the children recorded for it, nginx's workers).
stop_proc() {
	local name=$1 pid=${PIDS[$1]:-} k
	[[ -n $pid ]] || return 0
	printf '%s bench: stopping %s (pid %s)\n' "$(date -u +%T.%3N)" "$name" "$pid" >>"$RUN/$name.log"
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		for k in ${KIDS[$name]:-}; do
			kill -KILL "$k" 2>/dev/null || true
		done
	fi
	wait "$pid" 2>/dev/null || true
	unset "PIDS[$name]" "URLS[$name]" "KIDS[$name]"
}

stop_server() {
	stop_proc main
	SERVER_PID=
}

cleanup() {
	local rc=$? name
	for name in "${!PIDS[@]}"; do
		stop_proc "$name"
	done
	if [[ $rc -ne 0 ]]; then
		for name in "$RUN"/*.log "$RUN"/nginx/error.log "$RUN"/caddy/caddy.log; do
			[[ -s $name ]] || continue
			log "--- last lines of $(basename "$name"):"
			tail -n 20 "$name" >&2 || true
		done
	fi
	rm -rf "$RUN"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_gw NAME DATA [serve flags...] starts a fresh gateway NAME on a free
# port over DATA; its pid is PIDS[NAME], its base URL URLS[NAME].
start_gw() {
	local name=$1 data=$2 port
	shift 2
	stop_proc "$name"
	port=$("$LOAD" freeport)
	"$DG" serve --listen "127.0.0.1:$port" --data "$data" --rate-limit 0 --access-log="$ACCESS_LOG" "$@" >>"$RUN/$name.log" 2>&1 &
	PIDS[$name]=$!
	URLS[$name]="http://127.0.0.1:$port"
	"$LOAD" wait -url "${URLS[$name]}" -timeout 20s
}

# start_server starts a fresh gateway on a free port over $DATA.
start_server() {
	start_gw main "$DATA"
	SERVER_PID=${PIDS[main]}
	BASE=${URLS[main]}
}

# peak_kib [PID...] prints the peak RSS (VmHWM) in KiB of the running
# server (or of the processes given, added up); it fails if one is gone,
# since then the phase did not measure what it says.
peak_kib() {
	local p sum=0 kib
	(($# > 0)) || set -- "$SERVER_PID"
	for p in "$@"; do
		if ! kill -0 "$p" 2>/dev/null; then
			log "the server (pid $p) exited during the phase"
			return 1
		fi
		kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status")
		sum=$((sum + kib))
	done
	echo "$sum"
}

# kv KEY LINE prints the value of KEY=VALUE in LINE.
kv() { sed -n "s/.*[[:space:]]$1=\\([^[:space:]]*\\).*/\\1/p" <<<" $2"; }

# median prints the median (lower middle) of its arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# f EXPR evaluates an awk expression.
f() { awk "BEGIN { print $1 }"; }

# verdict OK: PASS if the awk condition holds.
verdict() { if [[ $(f "($1) ? 1 : 0") == 1 ]]; then echo PASS; else echo MISS; fi; }

mib() { f "sprintf(\"%.1f MiB\", $1 / 1024)"; }

# ms VALUE DECIMALS
ms() { f "sprintf(\"%.$2f ms\", $1)"; }

# wait_quiet waits (at most QUIET_WAIT seconds) until the machine is
# nearly idle over one second: other work on a 2-core machine halves the
# numbers. It never fails; the table says how quiet it was.
wait_quiet() {
	local waited=0 a b busy
	while ((waited < QUIET_WAIT)); do
		read -ra a < <(head -n 1 /proc/stat)
		sleep 1
		read -ra b < <(head -n 1 /proc/stat)
		# busy = all - idle - iowait, in USER_HZ over one second, per core
		busy=$(awk -v n="$(nproc)" -v t="$(( (b[1]+b[2]+b[3]+b[4]+b[5]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[4]+a[5]+a[6]+a[7]+a[8]) ))" \
			-v i="$(( (b[4]+b[5]) - (a[4]+a[5]) ))" 'BEGIN { printf "%.2f", (t > 0 ? n * (t - i) / t : 0) }')
		if [[ $(f "$busy < 0.15") == 1 ]]; then
			return 0
		fi
		((waited % 10 == 0)) && log "  machine busy ($busy cores in use); waiting for it to settle (${waited}s of ${QUIET_WAIT}s)"
		waited=$((waited + 1))
	done
	log "  still busy after ${QUIET_WAIT}s; measuring anyway"
}

ROWS=()
QUIET=()
row() { ROWS+=("| $1 | $2 | $3 | $4 |"); }
NOTES=()

# --- build, key -------------------------------------------------------------
log "building dragoman${REV:+ at $REV} and bench/load into $RUN"
if [[ -n $REV ]]; then
	mkdir "$RUN/src"
	git archive "$REV" | tar -x -C "$RUN/src"
	(cd "$RUN/src" && go build -o "$DG" ./cmd/dragoman)
	REVISION="$(git rev-parse --short "$REV^{commit}") (git archive of $REV)"
else
	go build -o "$DG" ./cmd/dragoman
	REVISION=$(git rev-parse --short HEAD)
	# Only what goes into the binary: not tests, docs or this benchmark.
	changed=$(git status --porcelain -- . ':!bench' ':!*.md' ':!*_test.go' ':!**/testdata/**' | wc -l)
	if [[ $changed -gt 0 ]]; then
		REVISION+=" + working tree ($changed paths changed)"
	fi
fi
go build -o "$LOAD" ./bench/load
KEY=$("$DG" keys create --data "$DATA" --name bench)
# The front gateways of the hop and pass-through phases: data dirs and keys
# of their own (a client shows the front its key; the front shows B $KEY).
A_DATA="$RUN/a-data" P_DATA="$RUN/p-data"
KEY_A=$("$DG" keys create --data "$A_DATA" --name bench-a)
KEY_P=$("$DG" keys create --data "$P_DATA" --name bench-p)

# nginx, for the pass-through comparison: Debian's, installed if missing
# (that needs root; apt's output goes to the run dir's apt.log).
NGINX=
if command -v nginx >/dev/null || {
	log "installing nginx from Debian's packages"
	(apt-get update && apt-get install -y nginx-light || apt-get install -y nginx) >"$RUN/apt.log" 2>&1
}; then
	NGINX=$(command -v nginx || true)
fi
NGINX_VERSION=
if [[ -n $NGINX ]]; then
	NGINX_VERSION=$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/||p')
else
	log "nginx is missing and could not be installed; the pass-through comparison is skipped"
fi

# Caddy, the second peer of the pass-through comparison: Debian's too.
CADDY=
if command -v caddy >/dev/null || {
	log "installing caddy from Debian's packages"
	(apt-get update && apt-get install -y caddy) >>"$RUN/apt.log" 2>&1
}; then
	CADDY=$(command -v caddy || true)
fi
CADDY_VERSION=
if [[ -n $CADDY ]]; then
	CADDY_VERSION=$("$CADDY" version 2>/dev/null | awk '{ print $1; exit }')
else
	log "caddy is missing and could not be installed; its pass-through rows are skipped"
fi

DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
RAM=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
FS=$(df -PT "$RUN" | awk 'NR == 2 { print $2 " on " $1 }')
MACHINE="$(nproc) × ${CPU_MODEL:-unknown CPU}, $RAM RAM, $(uname -sr), $(go env GOVERSION), data dir on $FS"

# --- 1 GiB raw upload (with dd beside it) and download ------------------------
BIG_URL_PATH=/jsonapi/records/bench/r1/attachments/content/big.bin
dd_mbps=() floor_bare=() floor_dig=() up_mbps=() up_kib=() up_cores=() up_other=() down_mbps=() down_kib=() down_cores=() down_client=()
mp_mbps=() mp_kib=() mp_cores=() mp_other=() espo_mbps=() espo_kib=() espo_cores=() espo_other=() espo_p50=() espo_last=()
wait_quiet
for i in $(seq "$RUNS"); do
	log "run $i/$RUNS: dd bs=1M count=1024 conv=fsync"
	out=$(LC_ALL=C dd if=/dev/zero of="$RUN/dd.bin" bs=1M count=1024 conv=fsync 2>&1 | tail -n 1)
	rm -f "$RUN/dd.bin"
	secs=$(sed -n 's/.*copied, \([0-9.e+-]*\) s,.*/\1/p' <<<"$out")
	dd_mbps+=("$(f "$BIG_BYTES / $secs / 1e6")")

	# The floor of an upload with no gateway: the same bytes through a
	# loopback socket into a fsynced file, bare and with the two digests
	# every upload computes, so that a miss against dd can be told apart
	# from what this machine's cores allow.
	log "run $i/$RUNS: upload floor (loopback TCP -> file -> fsync), bare and with sha256+md5"
	floor_bare+=("$(kv mbps "$("$LOAD" floor -dir "$RUN" -size "$BIG" -digests none)")")
	floor_dig+=("$(kv mbps "$("$LOAD" floor -dir "$RUN" -size "$BIG" -digests sha256+md5)")")

	log "run $i/$RUNS: nimblex upload of $BIG (fresh server)"
	start_server
	out=$("$LOAD" upload -url "$BASE$BIG_URL_PATH" -key "$KEY" -size "$BIG" -pid "$SERVER_PID")
	kib=$(peak_kib)
	up_mbps+=("$(kv mbps "$out")") up_cores+=("$(kv server_cores "$out")") up_kib+=("$kib") up_other+=("$(kv other_cores "$out")")

	# Beside each raw upload, so that both meet the same machine.
	log "run $i/$RUNS: transactionlink multipart upload of $BIG (fresh server)"
	start_server
	out=$("$LOAD" multipart -url "$BASE/tables/bench/records/r1/attachments" -key "$KEY" -size "$BIG" -pid "$SERVER_PID")
	kib=$(peak_kib)
	mp_mbps+=("$(kv mbps "$out")") mp_cores+=("$(kv server_cores "$out")") mp_kib+=("$kib") mp_other+=("$(kv other_cores "$out")")

	log "run $i/$RUNS: espocrm chunked upload of $ESPO_SIZE in $ESPO_CHUNK chunks (fresh server)"
	start_server
	out=$("$LOAD" espochunk -url "$BASE" -key "$KEY" -size "$ESPO_SIZE" -chunk "$ESPO_CHUNK" -pid "$SERVER_PID")
	kib=$(peak_kib)
	espo_mbps+=("$(kv mbps "$out")") espo_cores+=("$(kv server_cores "$out")") espo_kib+=("$kib")
	espo_other+=("$(kv other_cores "$out")") espo_p50+=("$(kv chunk_p50_ms "$out")") espo_last+=("$(kv last_chunk_ms "$out")")
done
for i in $(seq "$RUNS"); do
	log "run $i/$RUNS: nimblex download of $BIG (fresh server)"
	start_server
	out=$("$LOAD" download -url "$BASE$BIG_URL_PATH" -key "$KEY" -size "$BIG" -pid "$SERVER_PID")
	kib=$(peak_kib)
	down_mbps+=("$(kv mbps "$out")") down_cores+=("$(kv server_cores "$out")") down_kib+=("$kib") down_client+=("$(kv client_cores "$out")")
done
DD=$(median "${dd_mbps[@]}")
UP=$(median "${up_mbps[@]}")
UP_KIB=$(printf '%s\n' "${up_kib[@]}" | sort -n | tail -n 1)
DOWN=$(median "${down_mbps[@]}")
DOWN_KIB=$(printf '%s\n' "${down_kib[@]}" | sort -n | tail -n 1)
RATIO=$(f "$UP / $DD")
runs="median of $RUNS"
row "dd bs=1M count=1024 conv=fsync, same disk" "$(f "sprintf(\"%.0f MB/s\", $DD)") ($runs)" "reference" "—"
FLOOR_BARE=$(median "${floor_bare[@]}")
FLOOR_DIG=$(median "${floor_dig[@]}")
row "upload floor: 1 GiB over loopback TCP into a fsynced file, no gateway" "$(f "sprintf(\"%.0f MB/s bare, %.0f MB/s with sha256+md5\", $FLOOR_BARE, $FLOOR_DIG)") ($runs)" "reference" "—"
row "nimblex raw upload, 1 GiB" "$(f "sprintf(\"%.0f MB/s = %.0f%% of dd, %.0f%% of the floor with digests\", $UP, 100 * $RATIO, 100 * $UP / $FLOOR_DIG)") ($runs)" "≥ 90% of dd" "$(verdict "$RATIO >= 0.90")"
row "server peak RSS, upload" "$(mib "$UP_KIB") (max of $RUNS)" "< 64 MiB" "$(verdict "$UP_KIB < 65536")"
MP=$(median "${mp_mbps[@]}")
MP_KIB=$(printf '%s\n' "${mp_kib[@]}" | sort -n | tail -n 1)
MP_RATIO=$(f "$MP / $UP")
MP_DD=$(f "$MP / $DD")
row "transactionlink multipart upload, 1 GiB (tags field + file part)" \
	"$(f "sprintf(\"%.0f MB/s = %.0f%% of dd, %.0f%% of the raw upload\", $MP, 100 * $MP_DD, 100 * $MP_RATIO)") ($runs)" "≥ 90% of dd" "$(verdict "$MP_DD >= 0.90")"
row "server peak RSS, multipart upload" "$(mib "$MP_KIB") (max of $RUNS)" "< 64 MiB" "$(verdict "$MP_KIB < 65536")"
ESPO=$(median "${espo_mbps[@]}")
ESPO_KIB=$(printf '%s\n' "${espo_kib[@]}" | sort -n | tail -n 1)
ESPO_RATIO=$(f "$ESPO / $UP")
row "espocrm chunked upload, $ESPO_SIZE in 4 MiB data-URI chunks" \
	"$(f "sprintf(\"%.0f MB/s decoded = %.0f%% of the raw upload\", $ESPO, 100 * $ESPO_RATIO)") ($runs)" "≥ 70% of raw upload" "$(verdict "$ESPO_RATIO >= 0.70")"
row "server peak RSS, chunked upload" "$(mib "$ESPO_KIB") (max of $RUNS)" "reported" "—"
row "nimblex download, 1 GiB" "$(f "sprintf(\"%.0f MB/s\", $DOWN)") ($runs)" "≥ 1000 MB/s" "$(verdict "$DOWN >= 1000")"
row "server peak RSS, download" "$(mib "$DOWN_KIB") (max of $RUNS)" "< 64 MiB" "$(verdict "$DOWN_KIB < 65536")"
NOTES+=("upload floor runs (MB/s), bare: ${floor_bare[*]}; with sha256+md5: ${floor_dig[*]}")
NOTES+=("upload runs (MB/s): ${up_mbps[*]}; server CPU (cores): ${up_cores[*]}; CPU busy outside server and generator (cores): ${up_other[*]}")
ratios=()
for i in "${!up_mbps[@]}"; do
	ratios+=("$(f "sprintf(\"%.0f%%/%.0f%%\", 100 * ${mp_mbps[i]} / ${up_mbps[i]}, 100 * ${espo_mbps[i]} / ${up_mbps[i]})")")
done
NOTES+=("multipart upload runs (MB/s): ${mp_mbps[*]}; server CPU (cores): ${mp_cores[*]}; busy elsewhere (cores): ${mp_other[*]}")
NOTES+=("chunked upload runs (MB/s of decoded bytes): ${espo_mbps[*]}; per-chunk p50 (ms): ${espo_p50[*]}; the last chunk, which completes the file (ms): ${espo_last[*]}; server CPU (cores): ${espo_cores[*]}; busy elsewhere (cores): ${espo_other[*]}; each download checked for length and sha256")
NOTES+=("multipart / chunked as a share of the raw upload beside it, run by run: ${ratios[*]}")
NOTES+=("download runs (MB/s): ${down_mbps[*]}; server CPU (cores): ${down_cores[*]}; load generator (cores): ${down_client[*]}")
NOTES+=("dd runs (MB/s): $(printf '%.0f ' "${dd_mbps[@]}")")

# --- infolobby 10 MB create / get, 16 in flight --------------------------------
for op in create get; do
	wait_quiet
	log "infolobby files/$op of $IL_SIZE, $IL_WORKERS at once × $IL_ROUNDS rounds (fresh server)"
	start_server
	out=$("$LOAD" infolobby -op "$op" -url "$BASE" -key "$KEY" -workers "$IL_WORKERS" -rounds "$IL_ROUNDS" \
		-size "$IL_SIZE" -paths "$RUN/il-paths" -pid "$SERVER_PID")
	kib=$(peak_kib)
	body=$(kv body_bytes "$out")
	ratio=$(f "$kib * 1024 / ($IL_WORKERS * $body)")
	what=$([[ $op == create ]] && echo "request" || echo "response")
	row "infolobby files/$op, 10 MB, $IL_WORKERS at once ($(kv reqs "$out") requests)" \
		"p50 $(ms "$(kv p50_ms "$out")" 0), p99 $(ms "$(kv p99_ms "$out")" 0)" "reported" "—"
	row "server peak RSS, files/$op" \
		"$(mib "$kib") = $(f "sprintf(\"%.2f\", $ratio)") × ($IL_WORKERS × $(f "sprintf(\"%.1f\", $body / 1e6)") MB $what body)" \
		"< 4 × body per request in flight" "$(verdict "$ratio < 4")"
	NOTES+=("infolobby files/$op: $(kv reqs "$out") requests in $(kv secs "$out") s, p90 $(ms "$(kv p90_ms "$out")" 0), max $(ms "$(kv max_ms "$out")" 0); server CPU $(kv server_cores "$out") cores, load generator $(kv client_cores "$out"), busy elsewhere $(kv other_cores "$out")")
done

# --- small requests at 64 connections -----------------------------------------
wait_quiet
log "small requests: 64 connections, ${SMALL_SECS}s each (fresh server)"
start_server
"$LOAD" seed -url "$BASE" -key "$KEY" -collection bench -record small -n 10 >"$RUN/seed.out"
if [[ $(kv record_json_valid "$(cat "$RUN/seed.out")") == false ]]; then
	NOTES+=("**the infolobby record get answer for the 10-file record is not valid JSON** (measured anyway)")
fi
small() { # small NAME PATH [KEY]
	local out try cand rps p99 errs cpu_us
	# Other work on the machine skews these most; up to SMALL_TRIES runs,
	# keeping the one with the least CPU busy elsewhere.
	for try in $(seq "$SMALL_TRIES"); do
		((try == 1)) || wait_quiet
		cand=$("$LOAD" small -url "$BASE$2" ${3:+-key "$3"} -c 64 -d "${SMALL_SECS}s" -pid "$SERVER_PID")
		if [[ -z ${out:-} || $(f "$(kv other_cores "$cand") < $(kv other_cores "$out")") == 1 ]]; then
			out=$cand
		fi
		if [[ $(f "$(kv other_cores "$out") < 0.15") == 1 ]]; then
			break
		fi
	done
	rps=$(kv rps "$out") p99=$(kv p99_ms "$out")
	errs=$(($(kv errors "$out") + $(kv bad_status "$out")))
	SMALL_OUT=$out
	QUIET+=("$(kv other_cores "$out")")
	if [[ $1 == ref ]]; then
		return
	fi
	row "$1, 64 conns, ${SMALL_SECS} s: throughput" "$(f "sprintf(\"%.0f\", $rps)") req/s ($(kv reqs "$out") requests, $errs errors)" \
		"≥ 25,000 req/s" "$(verdict "$rps >= 25000 && $errs == 0")"
	row "$1: latency" "p50 $(ms "$(kv p50_ms "$out")" 2), p90 $(ms "$(kv p90_ms "$out")" 2), p99 $(ms "$p99" 2)" \
		"p99 < 10 ms" "$(verdict "$p99 < 10 && $errs == 0")"
	cpu_us=$(f "$(kv server_cores "$out") / $rps * 1e6")
	row "$1: server CPU per request" "$(f "sprintf(\"%.0f\", $cpu_us)") µs ($(kv server_cores "$out") cores at $(f "sprintf(\"%.0f\", $rps)") req/s)" \
		"≤ 40 µs" "$(verdict "$cpu_us <= 40 && $errs == 0")"
	NOTES+=("$1: server CPU $(kv server_cores "$out") cores = $(f "sprintf(\"%.0f\", $(kv server_cores "$out") / $rps * 1e6)") µs per request; load generator $(kv client_cores "$out") cores; busy elsewhere $(kv other_cores "$out"), idle $(kv idle_cores "$out") cores")
}
small ref /healthz
NOTES+=("load generator ceiling, GET /healthz (no key, no metadata read) at 64 connections: $(kv rps "$SMALL_OUT") req/s, p99 $(ms "$(kv p99_ms "$SMALL_OUT")" 2); server $(kv server_cores "$SMALL_OUT") cores, load generator $(kv client_cores "$SMALL_OUT") cores")
small "nimblex list, 10-file record" /jsonapi/records/bench/small/attachments "$KEY"
small "infolobby record get, same record" /api/table/bench/record/small/get "$KEY"
kib=$(peak_kib)
NOTES+=("server peak RSS over the small-request runs: $(mib "$kib")")
# Small requests write nothing, so CPU busy outside the gateway and the
# generator then is other work on the machine, which skews every row.
NOISE=$(printf '%s\n' "${QUIET[@]}" | sort -g | tail -n 1)
row "CPU busy outside gateway and generator during the small-request runs (max)" "$NOISE cores of $(nproc)" \
	"≈ 0: a quiet machine" "$(if [[ $(f "$NOISE < 0.15") == 1 ]]; then echo quiet; else echo "NOISY: numbers are low"; fi)"
stop_server

# Helpers of the hop and pass-through phases. small_run runs the load
# generator's small mode at $CONNS connections for SMALL_SECS; medkv KEY
# LINE... is the median of KEY over the lines, sumkv the sum, maxkv the
# largest.
small_run() { "$LOAD" small -c "$CONNS" -d "${SMALL_SECS}s" "$@"; }
medkv() {
	local k=$1 l v=()
	shift
	for l in "$@"; do v+=("$(kv "$k" "$l")"); done
	median "${v[@]}"
}
sumkv() {
	local k=$1 l n=0
	shift
	for l in "$@"; do n=$((n + $(kv "$k" "$l"))); done
	echo "$n"
}
maxkv() {
	local k=$1 l
	shift
	for l in "$@"; do kv "$k" "$l"; done | sort -g | tail -n 1
}
# listkv KEY LINE... prints KEY of each line, space-separated.
listkv() {
	local k=$1 l
	shift
	for l in "$@"; do kv "$k" "$l"; done | xargs
}
errs_of() { echo $(($(sumkv errors "$@") + $(sumkv bad_status "$@"))); }
# lat2 LINE... prints "p50 X ms, p99 Y ms", medians over the lines.
lat2() { echo "p50 $(ms "$(medkv p50_ms "$@")" 2), p99 $(ms "$(medkv p99_ms "$@")" 2)"; }
# per_req CORES RPS prints CPU microseconds per request.
per_req() { f "sprintf(\"%.0f\", $1 / $2 * 1e6)"; }
HOP_RUNS=()

# --- the overhead of a hop: A -> B -> bundled against B -> bundled ------------
# B is a gateway on the bundled store ($DATA: it holds the 10-file record
# and the 1 GiB file by now); A is a gateway whose store is B, spoken to in
# nimblex (--upstream nimblex+URL_B --upstream-token KEY_OF_B).
LIST_PATH=/jsonapi/records/bench/small/attachments
start_chain() {
	stop_proc hopa
	start_gw hopb "$DATA"
	start_gw hopa "$A_DATA" --upstream "nimblex+${URLS[hopb]}" --upstream-token "$KEY"
}
wait_quiet
log "hop: nimblex list of the 10-file record, $CONNS connections, B alone and A -> B (fresh servers)"
start_chain
# Both views of the record, read through the chain, show its 10 files.
"$LOAD" seed -url "${URLS[hopa]}" -key "$KEY_A" -collection bench -record small -n 10 -upload=false >/dev/null
hop_direct=() hop_chain=() one_direct=() one_chain=()
for i in $(seq "$RUNS"); do
	log "run $i/$RUNS: nimblex list, B alone, then through A -> B; $CONNS connections, then one"
	hop_direct+=("$(small_run -url "${URLS[hopb]}$LIST_PATH" -key "$KEY" -pid "${PIDS[hopb]}")")
	hop_chain+=("$(small_run -url "${URLS[hopa]}$LIST_PATH" -key "$KEY_A" -pid "${PIDS[hopa]}" -upstream-pid "${PIDS[hopb]}")")
	one_direct+=("$(small_run -c 1 -url "${URLS[hopb]}$LIST_PATH" -key "$KEY" -pid "${PIDS[hopb]}")")
	one_chain+=("$(small_run -c 1 -url "${URLS[hopa]}$LIST_PATH" -key "$KEY_A" -pid "${PIDS[hopa]}" -upstream-pid "${PIDS[hopb]}")")
done
B_PEAK=$(medkv rps "${hop_direct[@]}")
C_PEAK=$(medkv rps "${hop_chain[@]}")
HALF=$(f "int($B_PEAK / 2)")
HALF_C=$(f "int($C_PEAK / 2)")
half_direct=() half_chain=() halfc_direct=() halfc_chain=()
for i in $(seq "$RUNS"); do
	log "run $i/$RUNS: nimblex list at $HALF req/s (half of B's peak), then at $HALF_C (half of the chain's), B alone, then through A -> B"
	half_direct+=("$(small_run -url "${URLS[hopb]}$LIST_PATH" -key "$KEY" -pid "${PIDS[hopb]}" -rate "$HALF")")
	half_chain+=("$(small_run -url "${URLS[hopa]}$LIST_PATH" -key "$KEY_A" -pid "${PIDS[hopa]}" -upstream-pid "${PIDS[hopb]}" -rate "$HALF")")
	halfc_direct+=("$(small_run -url "${URLS[hopb]}$LIST_PATH" -key "$KEY" -pid "${PIDS[hopb]}" -rate "$HALF_C")")
	halfc_chain+=("$(small_run -url "${URLS[hopa]}$LIST_PATH" -key "$KEY_A" -pid "${PIDS[hopa]}" -upstream-pid "${PIDS[hopb]}" -rate "$HALF_C")")
done
HOP_RUNS=("${hop_direct[@]}" "${hop_chain[@]}" "${one_direct[@]}" "${one_chain[@]}" "${half_direct[@]}" "${half_chain[@]}" "${halfc_direct[@]}" "${halfc_chain[@]}")
A_LIST_KIB=$(peak_kib "${PIDS[hopa]}")
stop_proc hopa
stop_proc hopb

E_DIRECT=$(errs_of "${hop_direct[@]}" "${half_direct[@]}" "${one_direct[@]}" "${halfc_direct[@]}")
E_CHAIN=$(errs_of "${hop_chain[@]}" "${half_chain[@]}" "${one_chain[@]}" "${halfc_chain[@]}")
row "nimblex list, 10-file record, $CONNS conns, ${SMALL_SECS} s: B alone (gateway -> bundled)" \
	"$(f "sprintf(\"%.0f\", $B_PEAK)") req/s, $(lat2 "${hop_direct[@]}") ($runs; $E_DIRECT errors)" "reference" "—"
row "the same through A -> B (gateway -> gateway -> bundled)" \
	"$(f "sprintf(\"%.0f req/s = %.0f%% of B alone\", $C_PEAK, 100 * $C_PEAK / $B_PEAK)"), $(lat2 "${hop_chain[@]}") ($runs; $E_CHAIN errors)" "reported" "—"
ONE_ADDED=$(f "$(medkv p50_ms "${one_chain[@]}") - $(medkv p50_ms "${one_direct[@]}")")
row "nimblex list, one connection (no queueing): B alone / through A -> B" \
	"$(lat2 "${one_direct[@]}") / $(lat2 "${one_chain[@]}"): the hop adds $(ms "$ONE_ADDED" 2) at p50, $(ms "$(f "$(medkv p99_ms "${one_chain[@]}") - $(medkv p99_ms "${one_direct[@]}")")" 2) at p99 ($runs)" \
	"hop adds < 0.2 ms at p50" "$(verdict "$ONE_ADDED < 0.2 && $E_CHAIN == 0")"
HD_P99=$(medkv p99_ms "${half_direct[@]}")
HC_P99=$(medkv p99_ms "${half_chain[@]}")
HC_RPS=$(medkv rps "${half_chain[@]}")
ADDED=$(f "$HC_P99 - $HD_P99")
row "nimblex list at half of B's peak ($HALF req/s, $CONNS conns): B alone" \
	"$(lat2 "${half_direct[@]}"), $(f "sprintf(\"%.0f\", $(medkv rps "${half_direct[@]}"))") req/s done ($runs)" "reference" "—"
row "the same through A -> B: what the hop adds" \
	"$(lat2 "${half_chain[@]}"), $(f "sprintf(\"%.0f\", $HC_RPS)") req/s done (sends up to $(ms "$(maxkv lag_p99_ms "${half_chain[@]}")" 1) behind schedule at p99): **+$(ms "$ADDED" 2) at p99**" \
	"hop adds < 1 ms at p99 at half load" "$(verdict "$ADDED < 1 && $HC_RPS >= 0.95 * $HALF && $E_CHAIN == 0")"
HALFC_ADDED=$(f "$(medkv p99_ms "${halfc_chain[@]}") - $(medkv p99_ms "${halfc_direct[@]}")")
row "nimblex list at half of the chain's own peak ($HALF_C req/s): B alone / through A -> B" \
	"$(lat2 "${halfc_direct[@]}") / $(lat2 "${halfc_chain[@]}"), $(f "sprintf(\"%.0f\", $(medkv rps "${halfc_chain[@]}"))") req/s done: the hop adds $(ms "$HALFC_ADDED" 2) at p99 ($runs)" \
	"hop adds < 1 ms at p99" "$(verdict "$HALFC_ADDED < 1 && $(medkv rps "${halfc_chain[@]}") >= 0.95 * $HALF_C && $E_CHAIN == 0")"
NOTES+=("hop, nimblex list runs (req/s), B alone: $(listkv rps "${hop_direct[@]}"); through A -> B: $(listkv rps "${hop_chain[@]}")")
NOTES+=("hop, at $HALF_C req/s, p99 (ms), B alone: $(listkv p99_ms "${halfc_direct[@]}"); through A -> B: $(listkv p99_ms "${halfc_chain[@]}"); behind schedule, p99 (ms): $(listkv lag_p99_ms "${halfc_direct[@]}") / $(listkv lag_p99_ms "${halfc_chain[@]}")")
NOTES+=("hop, at $HALF req/s, p99 (ms), B alone: $(listkv p99_ms "${half_direct[@]}"); through A -> B: $(listkv p99_ms "${half_chain[@]}"); how far behind the generator's schedule requests were sent, p99 (ms): B alone $(listkv lag_p99_ms "${half_direct[@]}"), A -> B $(listkv lag_p99_ms "${half_chain[@]}")")
NOTES+=("hop, CPU at full load (medians): B alone $(medkv server_cores "${hop_direct[@]}") cores = $(per_req "$(medkv server_cores "${hop_direct[@]}")" "$B_PEAK") µs per request; through the chain A $(medkv server_cores "${hop_chain[@]}") cores = $(per_req "$(medkv server_cores "${hop_chain[@]}")" "$C_PEAK") µs and B $(medkv upstream_cores "${hop_chain[@]}") cores = $(per_req "$(medkv upstream_cores "${hop_chain[@]}")" "$C_PEAK") µs per request; A's peak RSS over the list runs $(mib "$A_LIST_KIB")")

hd_mbps=() hc_mbps=() hc_a_kib=() hc_b_kib=() hc_cores=()
for i in $(seq "$RUNS"); do
	log "run $i/$RUNS: nimblex download of $BIG through A -> B (fresh servers), then from B alone (fresh server)"
	start_chain
	out=$("$LOAD" download -url "${URLS[hopa]}$BIG_URL_PATH" -key "$KEY_A" -size "$BIG" -pid "${PIDS[hopa]}" -upstream-pid "${PIDS[hopb]}")
	hc_a_kib+=("$(peak_kib "${PIDS[hopa]}")") hc_b_kib+=("$(peak_kib "${PIDS[hopb]}")")
	hc_mbps+=("$(kv mbps "$out")") hc_cores+=("A $(kv server_cores "$out") + B $(kv upstream_cores "$out"),")
	stop_proc hopa
	start_gw hopb "$DATA"
	out=$("$LOAD" download -url "${URLS[hopb]}$BIG_URL_PATH" -key "$KEY" -size "$BIG" -pid "${PIDS[hopb]}")
	hd_mbps+=("$(kv mbps "$out")")
	stop_proc hopb
done
HD=$(median "${hd_mbps[@]}")
HC=$(median "${hc_mbps[@]}")
HC_A_KIB=$(printf '%s\n' "${hc_a_kib[@]}" | sort -n | tail -n 1)
HC_B_KIB=$(printf '%s\n' "${hc_b_kib[@]}" | sort -n | tail -n 1)
row "nimblex download, 1 GiB: B alone / through A -> B" \
	"$(f "sprintf(\"%.0f / %.0f MB/s: the chain at %.0f%%\", $HD, $HC, 100 * $HC / $HD)") ($runs)" "≥ 80% of B alone" "$(verdict "$HC >= 0.80 * $HD")"
row "peak RSS during the 1 GiB download through the chain: A / B" "$(mib "$HC_A_KIB") / $(mib "$HC_B_KIB") (max of $RUNS)" \
	"< 64 MiB each" "$(verdict "$HC_A_KIB < 65536 && $HC_B_KIB < 65536")"
NOTES+=("hop, 1 GiB download runs (MB/s), B alone: ${hd_mbps[*]}; through A -> B: ${hc_mbps[*]}; CPU through the chain (cores): ${hc_cores[*]}")

# --- same-dialect pass-through against nginx ----------------------------------
# B as above; A speaks espocrm to its clients and to B (--upstream
# espocrm+URL_B), so a call it does not model passes through. nginx runs as
# a reverse proxy in front of the same B. Both carry the same request.
start_nginx() {
	local dir="$RUN/nginx" port
	mkdir -p "$dir/tmp"
	port=$("$LOAD" freeport)
	# The keepalive pool to B and the unbounded keepalive_requests keep
	# both of nginx's sides on persistent connections, as the gateway's
	# are; the X-Forwarded-* headers are the ones the gateway sets.
	cat >"$dir/nginx.conf" <<-NGINX_CONF
		worker_processes $NGINX_WORKERS;
		daemon off;
		pid $dir/nginx.pid;
		error_log $dir/error.log warn;
		events { worker_connections 1024; }
		http {
		    access_log off;
		    client_body_temp_path $dir/tmp/body;
		    proxy_temp_path $dir/tmp/proxy;
		    fastcgi_temp_path $dir/tmp/fastcgi;
		    uwsgi_temp_path $dir/tmp/uwsgi;
		    scgi_temp_path $dir/tmp/scgi;
		    keepalive_requests 1000000;
		    upstream b {
		        server ${URLS[ptb]#http://};
		        keepalive $CONNS;
		        keepalive_requests 1000000;
		    }
		    server {
		        listen 127.0.0.1:$port;
		        location / {
		            proxy_pass http://b;
		            proxy_http_version 1.1;
		            proxy_set_header Connection "";
		            proxy_set_header Host \$host;
		            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
		            proxy_set_header X-Forwarded-Proto \$scheme;
		            proxy_set_header X-Forwarded-Host \$host;
		        }
		    }
		}
	NGINX_CONF
	"$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >>"$RUN/nginx.log" 2>&1 &
	PIDS[nginx]=$!
	URLS[nginx]="http://127.0.0.1:$port"
	"$LOAD" wait -url "${URLS[nginx]}" -timeout 20s
	KIDS[nginx]=$(pgrep -P "${PIDS[nginx]}" | xargs || true)
	if [[ -z ${KIDS[nginx]} ]]; then
		log "nginx started no workers"
		return 1
	fi
}
# start_caddy runs Caddy in front of B, configured as nginx is: a keepalive
# pool to B as large as the client side's connections, no access log (a
# server without "logs" writes none), no admin endpoint, no automatic
# HTTPS, errors only in its own log. reverse_proxy keeps the Host and sets
# X-Forwarded-For, -Proto and -Host by itself, as the gateway does. Its
# state (autosave, certificates) goes to the run directory, not $HOME.
start_caddy() {
	local dir="$RUN/caddy" port
	mkdir -p "$dir/data" "$dir/config"
	port=$("$LOAD" freeport)
	cat >"$dir/caddy.json" <<-CADDY_CONF
		{
		  "admin": {"disabled": true, "config": {"persist": false}},
		  "logging": {"logs": {"default": {"level": "ERROR"}}},
		  "apps": {"http": {"servers": {"pt": {
		    "listen": ["127.0.0.1:$port"],
		    "automatic_https": {"disable": true},
		    "routes": [{"handle": [{
		      "handler": "reverse_proxy",
		      "upstreams": [{"dial": "${URLS[ptb]#http://}"}],
		      "transport": {"protocol": "http", "keep_alive": {"enabled": true, "max_idle_conns_per_host": $CONNS}}
		    }]}]
		  }}}}
		}
	CADDY_CONF
	HOME="$dir" XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config" \
		"$CADDY" run --config "$dir/caddy.json" >>"$dir/caddy.log" 2>&1 &
	PIDS[caddy]=$!
	URLS[caddy]="http://127.0.0.1:$port"
	"$LOAD" wait -url "${URLS[caddy]}" -timeout 20s
}
if [[ -n $NGINX ]]; then
	wait_quiet
	log "pass-through: GET $PASS_PATH through A -> B, nginx -> B${CADDY:+ and caddy -> B}, $CONNS connections (fresh servers)"
	start_gw ptb "$DATA"
	start_gw pta "$P_DATA" --upstream "espocrm+${URLS[ptb]}" --upstream-token "$KEY"
	start_nginx
	NGINX_PIDS=$(tr ' ' ',' <<<"${KIDS[nginx]}")
	if [[ -n $CADDY ]]; then
		start_caddy
	fi
	# The request reaches A's forwarder, not a 404 of A's own: the forwarder
	# wants a valid key (401), A's own unknown-endpoint answer does not.
	check=$("$LOAD" small -c 1 -d 300ms -url "${URLS[pta]}$PASS_PATH" -key not-a-key -key-header X-Api-Key -status 401)
	if [[ $(errs_of "$check") != 0 || $(kv reqs "$check") == 0 ]]; then
		log "A does not pass $PASS_PATH through (a wrong key did not get 401): $check"
		exit 1
	fi
	pt_gw=() pt_ngx=() pt_cad=() pt_mod=()
	for i in $(seq "$RUNS"); do
		log "run $i/$RUNS: through A (pass-through), through nginx${CADDY:+, through caddy}, and the modelled $MODELED_PATH through A"
		pt_gw+=("$(small_run -url "${URLS[pta]}$PASS_PATH" -key "$KEY_P" -key-header X-Api-Key -status 404 -pid "${PIDS[pta]}" -upstream-pid "${PIDS[ptb]}")")
		pt_ngx+=("$(small_run -url "${URLS[nginx]}$PASS_PATH" -key "$KEY" -key-header X-Api-Key -status 404 -pid "$NGINX_PIDS" -upstream-pid "${PIDS[ptb]}")")
		if [[ -n $CADDY ]]; then
			pt_cad+=("$(small_run -url "${URLS[caddy]}$PASS_PATH" -key "$KEY" -key-header X-Api-Key -status 404 -pid "${PIDS[caddy]}" -upstream-pid "${PIDS[ptb]}")")
		fi
		pt_mod+=("$(small_run -url "${URLS[pta]}$MODELED_PATH" -key "$KEY_P" -key-header X-Api-Key -status 404 -pid "${PIDS[pta]}" -upstream-pid "${PIDS[ptb]}")")
	done
	NG=$(medkv rps "${pt_ngx[@]}")
	# Latency at half of nginx's peak, a rate both carry: A's p99 against
	# nginx's, alternating.
	HALF_NG=$(f "int($NG / 2)")
	ph_gw=() ph_ngx=()
	for i in $(seq "$RUNS"); do
		log "run $i/$RUNS: pass-through at $HALF_NG req/s (half of nginx's peak), through A, then through nginx"
		ph_gw+=("$(small_run -url "${URLS[pta]}$PASS_PATH" -key "$KEY_P" -key-header X-Api-Key -status 404 -pid "${PIDS[pta]}" -upstream-pid "${PIDS[ptb]}" -rate "$HALF_NG")")
		ph_ngx+=("$(small_run -url "${URLS[nginx]}$PASS_PATH" -key "$KEY" -key-header X-Api-Key -status 404 -pid "$NGINX_PIDS" -upstream-pid "${PIDS[ptb]}" -rate "$HALF_NG")")
	done
	HOP_RUNS+=("${pt_gw[@]}" "${pt_ngx[@]}" "${pt_cad[@]}" "${pt_mod[@]}" "${ph_gw[@]}" "${ph_ngx[@]}")
	PT_A_KIB=$(peak_kib "${PIDS[pta]}")
	# shellcheck disable=SC2086 # the workers' pids, one word each
	PT_N_KIB=$(peak_kib "${PIDS[nginx]}" ${KIDS[nginx]})
	PT_C_KIB=0
	if [[ -n $CADDY ]]; then
		PT_C_KIB=$(peak_kib "${PIDS[caddy]}")
		stop_proc caddy
	fi
	stop_proc nginx
	stop_proc pta
	stop_proc ptb
	PT=$(medkv rps "${pt_gw[@]}")
	MO=$(medkv rps "${pt_mod[@]}")
	E_PT=$(errs_of "${pt_gw[@]}" "${ph_gw[@]}")
	PT_US=$(per_req "$(medkv server_cores "${pt_gw[@]}")" "$PT")
	NG_US=$(per_req "$(medkv server_cores "${pt_ngx[@]}")" "$NG")
	row "nginx $NGINX_VERSION ($NGINX_WORKERS workers) -> B, GET $PASS_PATH (B: 404), $CONNS conns, ${SMALL_SECS} s" \
		"$(f "sprintf(\"%.0f\", $NG)") req/s, $(lat2 "${pt_ngx[@]}"), $NG_US µs CPU per request ($runs; $(errs_of "${pt_ngx[@]}") errors)" "reference" "—"
	if [[ -n $CADDY ]]; then
		CD=$(medkv rps "${pt_cad[@]}")
		row "caddy $CADDY_VERSION -> B, the same request" \
			"$(f "sprintf(\"%.0f\", $CD)") req/s, $(lat2 "${pt_cad[@]}"), $(per_req "$(medkv server_cores "${pt_cad[@]}")" "$CD") µs CPU per request ($runs; $(errs_of "${pt_cad[@]}") errors)" "reference" "—"
	fi
	row "dragoman pass-through A -> B (espocrm on both sides), same request" \
		"$(f "sprintf(\"%.0f req/s = %.2f × nginx\", $PT, $PT / $NG)"), $(lat2 "${pt_gw[@]}") ($runs; $E_PT errors)" \
		"≥ nginx's req/s" "$(verdict "$PT >= $NG && $E_PT == 0")"
	if [[ -n $CADDY ]]; then
		row "the same against caddy" "$(f "sprintf(\"%.2f × caddy\", $PT / $CD)")" \
			"≥ 2 × caddy's req/s" "$(verdict "$PT >= 2 * $CD && $E_PT == 0")"
	else
		row "the same against caddy" "skipped: caddy is missing and could not be installed" "≥ 2 × caddy's req/s" "—"
	fi
	row "pass-through: server CPU per request, A / nginx" "$PT_US / $NG_US µs" \
		"A ≤ nginx" "$(verdict "$PT_US <= $NG_US && $E_PT == 0")"
	PH_ADDED=$(f "$(medkv p99_ms "${ph_gw[@]}") - $(medkv p99_ms "${ph_ngx[@]}")")
	row "pass-through at half of nginx's peak ($HALF_NG req/s): nginx / A" \
		"$(lat2 "${ph_ngx[@]}") / $(lat2 "${ph_gw[@]}"), A $(f "sprintf(\"%.0f\", $(medkv rps "${ph_gw[@]}"))") req/s done: A's p99 $(ms "$PH_ADDED" 2) past nginx's ($runs)" \
		"A's p99 within 1 ms of nginx's" "$(verdict "$PH_ADDED < 1 && $(medkv rps "${ph_gw[@]}") >= 0.95 * $HALF_NG && $E_PT == 0")"
	row "A -> B, GET $MODELED_PATH (modelled: a record read through the remote store; B: 404)" \
		"$(f "sprintf(\"%.0f req/s = %.2f × nginx\", $MO, $MO / $NG)"), $(lat2 "${pt_mod[@]}") ($runs; $(errs_of "${pt_mod[@]}") errors)" "reported" "—"
	NOTES+=("pass-through runs (req/s), A: $(listkv rps "${pt_gw[@]}"); nginx: $(listkv rps "${pt_ngx[@]}")${CADDY:+; caddy: $(listkv rps "${pt_cad[@]}")}; the modelled record read through A: $(listkv rps "${pt_mod[@]}")")
	NOTES+=("pass-through at $HALF_NG req/s, p99 (ms), A: $(listkv p99_ms "${ph_gw[@]}"); nginx: $(listkv p99_ms "${ph_ngx[@]}"); behind schedule, p99 (ms): $(listkv lag_p99_ms "${ph_gw[@]}") / $(listkv lag_p99_ms "${ph_ngx[@]}")")
	NOTES+=("pass-through CPU (medians, cores): A $(medkv server_cores "${pt_gw[@]}") + B $(medkv upstream_cores "${pt_gw[@]}") = $PT_US + $(per_req "$(medkv upstream_cores "${pt_gw[@]}")" "$PT") µs per request; nginx $(medkv server_cores "${pt_ngx[@]}") + B $(medkv upstream_cores "${pt_ngx[@]}") = $NG_US + $(per_req "$(medkv upstream_cores "${pt_ngx[@]}")" "$NG") µs${CADDY:+; caddy $(medkv server_cores "${pt_cad[@]}") + B $(medkv upstream_cores "${pt_cad[@]}") cores}; load generator $(medkv client_cores "${pt_gw[@]}") / $(medkv client_cores "${pt_ngx[@]}"); peak RSS: A $(mib "$PT_A_KIB"), nginx master and workers together $(mib "$PT_N_KIB")${CADDY:+, caddy $(mib "$PT_C_KIB")}")
else
	row "same-dialect pass-through against nginx" "skipped: nginx is missing and could not be installed" "≥ nginx's req/s" "—"
	row "the same against caddy" "skipped with nginx's (the pass-through phase needs nginx as its reference)" "≥ 2 × caddy's req/s" "—"
fi
# --- the cost of the metrics: the same gateway with --metrics=false ----------
# The nimblex list of the 10-file record and a get of one of its files, on a
# fresh gateway over $DATA with metrics on (the default), then off,
# alternating, RUNS times; the cost is the drop of the median req/s.
GET_PATH=/jsonapi/records/bench/small/attachments/content/file-00.txt
wait_quiet
log "metrics cost: nimblex list and get with metrics on and off, $CONNS connections (fresh servers)"
mc_list_on=() mc_list_off=() mc_get_on=() mc_get_off=()
for i in $(seq "$RUNS"); do
	log "run $i/$RUNS: metrics on, then --metrics=false"
	start_gw mc "$DATA"
	mc_list_on+=("$(small_run -url "${URLS[mc]}$LIST_PATH" -key "$KEY" -pid "${PIDS[mc]}")")
	mc_get_on+=("$(small_run -url "${URLS[mc]}$GET_PATH" -key "$KEY" -pid "${PIDS[mc]}")")
	start_gw mc "$DATA" --metrics=false
	mc_list_off+=("$(small_run -url "${URLS[mc]}$LIST_PATH" -key "$KEY" -pid "${PIDS[mc]}")")
	mc_get_off+=("$(small_run -url "${URLS[mc]}$GET_PATH" -key "$KEY" -pid "${PIDS[mc]}")")
done
stop_proc mc
HOP_RUNS+=("${mc_list_on[@]}" "${mc_list_off[@]}" "${mc_get_on[@]}" "${mc_get_off[@]}")
# metrics_row NAME ON OFF ERRORS: the row of one request's cost.
metrics_row() {
	row "metrics cost, $1, $CONNS conns, ${SMALL_SECS} s" \
		"on $(f "sprintf(\"%.0f\", $2)") req/s, off $(f "sprintf(\"%.0f\", $3)") req/s: $(f "sprintf(\"%.1f%%\", ($3 - $2) / $3 * 100)") ($runs; $4 errors)" \
		"< 5%" "$(verdict "($3 - $2) / $3 < 0.05 && $4 == 0")"
}
metrics_row "nimblex list, 10-file record" "$(medkv rps "${mc_list_on[@]}")" "$(medkv rps "${mc_list_off[@]}")" \
	"$(errs_of "${mc_list_on[@]}" "${mc_list_off[@]}")"
metrics_row "nimblex get of a 1 KiB file" "$(medkv rps "${mc_get_on[@]}")" "$(medkv rps "${mc_get_off[@]}")" \
	"$(errs_of "${mc_get_on[@]}" "${mc_get_off[@]}")"
NOTES+=("metrics cost runs (req/s), list on: $(listkv rps "${mc_list_on[@]}"); off: $(listkv rps "${mc_list_off[@]}"); get on: $(listkv rps "${mc_get_on[@]}"); off: $(listkv rps "${mc_get_off[@]}")")

# As above: CPU busy outside every process measured is other work on the
# machine (and the kernel's writeback of what the gateways fsync).
HOP_NOISE=$(maxkv other_cores "${HOP_RUNS[@]}")
HOP_NOISE_MED=$(medkv other_cores "${HOP_RUNS[@]}")
HOP_BUSY=$(for l in "${HOP_RUNS[@]}"; do kv other_cores "$l"; done | awk '$1 >= 0.15 { n++ } END { print n + 0 }')
row "CPU busy outside gateways, nginx, caddy and generator during the ${#HOP_RUNS[@]} hop and pass-through runs" \
	"max $HOP_NOISE, median $HOP_NOISE_MED cores of $(nproc); $HOP_BUSY runs at ≥ 0.15" "≈ 0: a quiet machine" \
	"$(if [[ $HOP_BUSY == 0 ]]; then echo quiet; elif [[ $(f "$HOP_NOISE_MED < 0.15") == 1 ]]; then echo "mostly quiet"; else echo "NOISY: numbers are low"; fi)"

# --- the table ----------------------------------------------------------------
{
	echo "| measurement | result | target | verdict |"
	echo "|---|---|---|---|"
	echo "| date | $DATE | | |"
	echo "| gateway | $REVISION | | |"
	echo "| machine | $MACHINE | | |"
	printf '%s\n' "${ROWS[@]}"
	echo
	printf -- '- %s\n' "${NOTES[@]}"
} | tee "$REPO/bench/out/last-run.md"
