#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# tcptop-prom against a real Prometheus server (Debian's prometheus package, on loopback, its
# data in the test's directory): a replayed recording scraped every second, then PromQL through
# the HTTP API must give the recording's exact byte totals; promtool is clean on the exposition.
load test_helper/common

REC="$BATS_TEST_DIRNAME/fixtures/agg/recorded.tcpt"

setup() {
	T=$BATS_TEST_TMPDIR
	PIDS=()
	command -v prometheus >/dev/null && command -v promtool >/dev/null ||
		skip "Debian's prometheus package is not installed (make deps installs it)"
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# promql QUERY: the value of an instant query's single result ("" when it has none)
promql() {
	curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if len(r)==1 else "")'
}

# The recording's totals from the raw stream itself (not through tcptop-agg): the last counters
# each flow reported, summed. Prints "IN OUT".
recording_totals() {
	tcptop-dump "$REC" | awk '
		$1 == "open" || $1 == "sample" || $1 == "close" {
			f = ""
			for (k = 2; k <= NF; k++) {
				if ($k ~ /^flow=/) f = $k
				if ($k ~ /^in=/) I[f] = substr($k, 4)
				if ($k ~ /^out=/) O[f] = substr($k, 5)
			}
		}
		END { for (f in I) { i += I[f]; o += O[f] }; print i, o }'
}

@test "Prometheus scrapes a replayed recording: PromQL gives its exact byte totals" {
	local exp_port want_in want_out got_in got_out
	exp_port=$(free_port)
	PROM_PORT=$(free_port)
	read -r want_in want_out < <(recording_totals)
	[ "$want_in" -gt 0 ]

	bash -c 'tcptop-agg "$1" | exec tcptop-prom --listen "127.0.0.1:$2"' _ "$REC" "$exp_port" \
		2>"$T/prom.err" 3>&- &
	PIDS+=($!)
	cat >"$T/prometheus.yml" <<Y
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: tcptop
    static_configs:
      - targets: ['127.0.0.1:$exp_port']
Y
	run -0 promtool check config "$T/prometheus.yml"
	prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/data" \
		--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn \
		>"$T/prometheus.log" 2>&1 3>&- &
	PIDS+=($!)

	for _ in $(seq 600); do
		got_in=$(promql 'sum(tcptop_network_io_bytes_total{direction="receive"})' 2>/dev/null) || true
		[ -n "$got_in" ] && break
		sleep 0.1
	done
	got_out=$(promql 'sum(tcptop_network_io_bytes_total{direction="transmit"})')
	echo "recording: in $want_in out $want_out; PromQL: in $got_in out $got_out" >&3
	[ "$got_in" = "$want_in" ]
	[ "$got_out" = "$want_out" ]
	# by host, and the target is healthy
	[ "$(promql 'sum by (host) (tcptop_network_io_bytes_total{host="vm",direction="receive"})')" = "$want_in" ]
	[ "$(promql 'up{job="tcptop"}')" = 1 ]
	[ "$(promql 'tcptop_stream_up{host="vm"}')" = 0 ]

	# what Prometheus scraped passes promtool's lint
	curl -fsS "http://127.0.0.1:$exp_port/metrics" -o "$T/m.prom"
	run -0 promtool check metrics <"$T/m.prom"
	refute_output
}
