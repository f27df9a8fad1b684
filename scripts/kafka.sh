#!/usr/bin/env bash
# A Kafka-protocol broker for tests and demos: tansu (crates.io), in-memory storage, on a
# loopback port. In-memory means a restart forgets every topic and record.
#
#   kafka.sh install              install tansu with cargo unless it is already there (an
#                                 unoptimised build; TANSU_BUILD=release for benchmarks)
#   kafka.sh start PORT           start in the background, wait until the port accepts connections
#   kafka.sh stop                 stop it (SIGTERM, then SIGKILL)
#   kafka.sh kill                 stop it at once (SIGKILL), like a crash
#   kafka.sh restart              stop, then start on the same port
#   kafka.sh topic NAME [PARTS]   create a topic (tansu does not create topics on first use);
#                                 on $APITAP_KAFKA_ADDR when set, else on the broker of the state dir
#   kafka.sh status               print "running PORT PID" or "stopped"
#
# State (pid, port, log) lives in $APITAP_KAFKA_STATE (default: a directory under $TMPDIR
# named after the user); give each broker its own directory to run several at once.
set -euo pipefail

STATE="${APITAP_KAFKA_STATE:-${TMPDIR:-/tmp}/apitap-kafka-$(id -u)}"
START_TIMEOUT_S="${KAFKA_START_TIMEOUT_S:-30}"
TANSU_VERSION="0.6.0"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

tansu_bin() {
    if command -v tansu >/dev/null 2>&1; then command -v tansu
    elif [[ -x "$HOME/.cargo/bin/tansu" ]]; then printf '%s\n' "$HOME/.cargo/bin/tansu"
    else return 1
    fi
}

pid_alive() { [[ -s "$STATE/pid" ]] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd_install() {
    if tansu_bin >/dev/null; then return 0; fi
    # `--features dynostore` is the smallest set with the in-memory engine (`memory://` is
    # object_store's in-memory store; the default features have no storage engine at all).
    # An unoptimised build without debug info takes about a third of the CPU time of a release
    # build (docs/kafka.md, "Testing against tansu") and runs the suite's Kafka tests as fast:
    # they are bound by the sensor and by timeouts, not by the broker. Benchmarks of Kafka
    # throughput want TANSU_BUILD=release.
    local profile=(--debug)
    [[ "${TANSU_BUILD:-debug}" == release ]] && profile=()
    log "installing tansu $TANSU_VERSION (${TANSU_BUILD:-debug} build) with cargo (a few minutes, once)"
    CARGO_PROFILE_DEV_DEBUG=0 cargo install tansu --version "$TANSU_VERSION" --locked \
        --features dynostore "${profile[@]}"
}

cmd_start() {
    local port="${1:?usage: kafka.sh start PORT}"
    local bin
    bin="$(tansu_bin)" || die "tansu is not installed: run scripts/kafka.sh install"
    mkdir -p "$STATE"
    if pid_alive; then die "already running (pid $(cat "$STATE/pid"), port $(cat "$STATE/port"))"; fi
    port_open "$port" && die "port $port is already in use"
    # setsid: the broker gets its own process group, so a test's Ctrl-C does not reach it
    # and `stop` can signal it alone.
    setsid "$bin" broker \
        --storage-engine "memory://tansu/" \
        --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" \
        >>"$STATE/log" 2>&1 </dev/null &
    echo $! >"$STATE/pid"
    echo "$port" >"$STATE/port"
    local waited=0
    until port_open "$port"; do
        pid_alive || die "tansu exited at start; its log: $(tail -5 "$STATE/log")"
        sleep 0.1
        waited=$((waited + 1))
        (( waited < START_TIMEOUT_S * 10 )) || die "port $port not open after ${START_TIMEOUT_S}s"
    done
    log "tansu running on 127.0.0.1:$port (pid $(cat "$STATE/pid"), state $STATE)"
}

cmd_stop() { # $1: signal to start with
    local sig="${1:-TERM}"
    [[ -s "$STATE/pid" ]] || return 0
    local pid
    pid="$(cat "$STATE/pid")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "-$sig" "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        # Wait until the listening socket is gone, so a restart can bind the port again.
        local port
        port="$(cat "$STATE/port" 2>/dev/null || echo 0)"
        for _ in $(seq 1 50); do port_open "$port" || break; sleep 0.1; done
    fi
    rm -f "$STATE/pid"
}

cmd_topic() {
    local name="${1:?usage: kafka.sh topic NAME [PARTITIONS]}" parts="${2:-3}" addr
    if [[ -n "${APITAP_KAFKA_ADDR:-}" ]]; then addr="$APITAP_KAFKA_ADDR"
    elif [[ -s "$STATE/port" ]]; then addr="127.0.0.1:$(cat "$STATE/port")"
    else die "no broker: set APITAP_KAFKA_ADDR or start one from $STATE"
    fi
    "$(tansu_bin)" topic create "$name" --partitions "$parts" --broker "tcp://$addr" >/dev/null
}

case "${1:-}" in
    install) cmd_install ;;
    start) shift; cmd_start "$@" ;;
    stop) cmd_stop TERM ;;
    kill) cmd_stop KILL ;;
    restart)
        port="$(cat "$STATE/port" 2>/dev/null)" || die "no broker started from $STATE"
        cmd_stop TERM
        cmd_start "$port"
        ;;
    topic) shift; cmd_topic "$@" ;;
    status)
        if pid_alive; then echo "running $(cat "$STATE/port") $(cat "$STATE/pid")"; else echo stopped; fi ;;
    *) die "usage: kafka.sh install | start PORT | stop | kill | restart | topic NAME [PARTITIONS] | status" ;;
esac
