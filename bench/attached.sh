# Sourced by bench/syn-rate and bench/bulk: bin/tcpmssd --attach in the lab's router, with its
# ready time. Needs P (the lab's prefix), WORK (the script's directory) and root.
#
# Ready: from launching bin/tcpmssd to its READY=1 on $NOTIFY_SOCKET (sd_notify), which the daemon
# sends once the program is attached and the maximum MSS written (BEHAVIOUR §7: attached last).
# A socat in the router's namespace receives it; the script blocks on reading it, so nothing polls.
# Both run inside the lab's namespace, so `scripts/lab down` kills whatever is left of them.
ATTACHED_PID= ATTACHED_READY= ATTACHED_START_TICKS=

# attached_start CPU TCPMSSD-ARGS...: starts the daemon pinned to CPU; sets ATTACHED_PID (the JVM),
# ATTACHED_READY (ms) and ATTACHED_START_TICKS (its utime+stime at READY).
attached_start() {
  local cpu=$1 sock=$WORK/notify msg t0 t1 i fd spid; shift
  rm -f "$sock" "$WORK/t.pid"
  coproc NOTIFY { exec ip netns exec "$P-router" socat -u UNIX-RECV:"$sock" STDOUT; }
  fd=${NOTIFY[0]} spid=$NOTIFY_PID   # bash unsets both once the coprocess has ended
  for ((i = 0; i < 200; i++)); do [ -S "$sock" ] && break; sleep 0.01; done
  [ -S "$sock" ] || { echo "attached: socat did not bind $sock" >&2; exit 1; }
  : > "$WORK/daemon.log"
  t0=$EPOCHREALTIME
  ip netns exec "$P-router" taskset -c "$cpu" env NOTIFY_SOCKET="$sock" "$root/bin/tcpmssd" \
    --foreground --pidfile "$WORK/t.pid" "$@" >> "$WORK/daemon.log" 2>&1 &
  ATTACHED_PID=$!   # ip netns exec, taskset, env and bin/tcpmssd all exec: this is the JVM
  # READY=1 is 7 bytes and no newline: one datagram. The read returns as it arrives; its timeout
  # only lets a daemon that failed to start end the wait at once, not after 30 s.
  msg=
  for ((i = 0; i < 300; i++)); do
    read -r -N 7 -t 0.1 -u "$fd" msg && break
    kill -0 "$ATTACHED_PID" 2>/dev/null || break
  done
  t1=$EPOCHREALTIME
  kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true
  [ "$msg" = READY=1 ] || { cat "$WORK/daemon.log" >&2; echo "attached: tcpmssd did not get ready" >&2; exit 1; }
  [ ! -s "$WORK/t.pid" ] || ATTACHED_PID=$(cat "$WORK/t.pid")
  ATTACHED_READY=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
  ATTACHED_START_TICKS=$(attached_ticks)
}

# utime+stime of the daemon, in clock ticks (/proc/PID/stat fields 14 and 15, after the comm).
attached_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$ATTACHED_PID/stat"; }

# attached_counts: "SEEN CLAMPED", the program's own counts over both IP versions (per-CPU maps,
# summed by the daemon for SIGUSR1: "IPv4: N seen, M clamped; ..."), as of now.
attached_counts() {
  : > "$WORK/daemon.log"   # the daemon's output appends (>>): only this report is read
  kill -USR1 "$ATTACHED_PID"
  local i
  for ((i = 0; i < 100; i++)); do grep -q '^IPv6: ' "$WORK/daemon.log" && break; sleep 0.02; done
  awk '$1 ~ /^IPv[46]:$/ && $3 == "seen," { n += $2; c += $4 } END { print n + 0, c + 0 }' "$WORK/daemon.log"
}

# attached_stop: SIGTERM, which detaches the program (BEHAVIOUR §7), and waits for the exit.
attached_stop() {
  [ -n "$ATTACHED_PID" ] || return 0
  kill "$ATTACHED_PID" 2>/dev/null || true
  timeout 10 tail --pid="$ATTACHED_PID" -f /dev/null || true
  ATTACHED_PID=
}
