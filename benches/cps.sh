#!/bin/sh
# benches/cps.sh - calls per second: predial against SIPp's own UAC, on the same SIPp UAS.
#
#   benches/cps.sh RATE [SECONDS] [HOLD_MS]
#
# For each caller (SIPp's built-in uac scenario, then `predial bench cps`): starts a fresh SIPp
# UAS (built-in uas scenario, 4 MB socket buffers) on 127.0.0.1, offers RATE calls per second
# for SECONDS (default 5), each held HOLD_MS (default 2000) and hung up by the caller, and
# prints one line:
#
#   caller rate calls ok failed cps p50_ms p99_ms peak wall_s cpu% uas% drops
#
# cps = answered calls / the time from the first INVITE to the last 200 OK, both callers alike
# (SIPp: from its per-call response-time trace, -trace_rtt, whose times are whole ms).
# p50/p99 = setup latency, INVITE sent to 200 OK received. peak = calls up at once.
# cpu% = the caller's CPU, uas% = the UAS's, in % of one core (200% = both cores of a 2-core
# machine). drops = the kernel's UDP receive-buffer drops during the run (whole machine).
#
# Needs sipp (Debian: sip-tester), python3 and a release build (cargo build --release).
set -eu
RATE=${1:?usage: benches/cps.sh RATE [SECONDS] [HOLD_MS]}
SECS=${2:-5}
HOLD=${3:-2000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PREDIAL=${PREDIAL:-$ROOT/target/release/predial}
WORK=$(mktemp -d /tmp/predial-cps.XXXXXX)
UASPORT=${UASPORT:-5190}
UACPORT=${UACPORT:-5191}
N=$((RATE * SECS))
LIMIT=$((SECS * 4 + HOLD / 1000 + 70))
BUF="-buff_size 4194304"
HZ=$(getconf CLK_TCK)

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rcvbuf() { awk '/^Udp:/{if(!h){for(i=1;i<=NF;i++) if($i=="RcvbufErrors") c=i; h=1} else print $c}' /proc/net/snmp; }

start_uas() {
  sipp -sn uas -i 127.0.0.1 -p "$UASPORT" -nostdin $BUF >"$WORK/uas.out" 2>&1 &
  UASPID=$!
  sleep 0.5
  U0=$(ticks $UASPID); D0=$(rcvbuf)
}

# stop_uas WALL_S: stops the UAS; sets UASCPU and DROPS.
stop_uas() {
  U1=$(ticks $UASPID); D1=$(rcvbuf)
  kill $UASPID; wait $UASPID 2>/dev/null || true
  UASCPU=$(awk -v d=$((U1 - U0)) -v hz="$HZ" -v e="$1" 'BEGIN{printf "%.0f", d/hz/e*100}')
  DROPS=$((D1 - D0))
}
trap 'kill ${UASPID:-0} 2>/dev/null || true; rm -rf "$WORK"' EXIT

# timed OUT CMD...: runs CMD under /usr/bin/time; sets US SY EL (user, system, wall seconds).
timed() {
  /usr/bin/time -f '%U %S %e' -o "$WORK/time" "$@" || true
  set -- $(tail -1 "$WORK/time")
  US=$1; SY=$2; EL=$3
}

printf '%-7s %6s %7s %7s %6s %7s %8s %8s %6s %6s %5s %5s %6s\n' \
  caller rate calls ok failed cps p50_ms p99_ms peak wall_s cpu% uas% drops

# 1. SIPp's own UAC: the reference.
start_uas
cd "$WORK"
timed timeout "$LIMIT" sipp -sn uac 127.0.0.1:"$UASPORT" -i 127.0.0.1 -p "$UACPORT" -nostdin \
  -r "$RATE" -m "$N" -l $((N + 1)) -d "$HOLD" $BUF -trace_rtt -rtt_freq 1 >"$WORK/uac.out" 2>&1
cd "$ROOT"
stop_uas "$EL"
python3 - "$WORK" "$RATE" "$N" "$EL" "$US" "$SY" "$UASCPU" "$DROPS" <<'PY'
import glob, re, sys
work, rate, n, el, us, sy, uas, drops = sys.argv[1:]
out = open(work + "/uac.out", errors="replace").read()
def last(label):
    found = re.findall(label + r"\s*\|\s*\d+\s*\|\s*(\d+)", out)
    return int(found[-1]) if found else 0
ok, failed = last("Successful call"), last("Failed call")
peak = re.findall(r"Peak was (\d+) calls", out)
rows = []
for f in glob.glob(work + "/*_rtt.csv"):
    for line in open(f).read().splitlines()[1:]:
        d, rt, _ = line.split(";")
        rows.append((float(d), float(rt)))
rows.sort()
span = (rows[-1][0] - rows[0][0]) / 1000 + 1 / float(rate) if len(rows) > 1 else 0
cps = len(rows) / span if span else 0
rts = sorted(r for _, r in rows) or [0.0]
pct = lambda q: rts[min(len(rts) - 1, round((len(rts) - 1) * q))]
el = float(el)
print("%-7s %6s %7s %7d %6d %7.0f %8.2f %8.2f %6s %6.1f %5.0f %5s %6s" % (
    "sipp", rate, n, ok, failed, cps, pct(0.5), pct(0.99), peak[-1] if peak else "?", el,
    (float(us) + float(sy)) / el * 100, uas, drops))
PY

# 2. predial, on a fresh UAS.
start_uas
timed timeout "$LIMIT" "$PREDIAL" bench cps --target 127.0.0.1:"$UASPORT" --calls "$N" \
  --rate "$RATE" --hold-ms "$HOLD" ${PREDIAL_ARGS:-} --json >"$WORK/predial.json"
stop_uas "$EL"
python3 - "$WORK/predial.json" "$RATE" "$EL" "$US" "$SY" "$UASCPU" "$DROPS" <<'PY'
import json, sys
path, rate, el, us, sy, uas, drops = sys.argv[1:]
try:
    r = json.load(open(path))
except Exception:
    print("predial: no report"); sys.exit(0)
el = float(el)
print("%-7s %6s %7d %7d %6d %7.0f %8.2f %8.2f %6d %6.1f %5.0f %5s %6s" % (
    "predial", rate, r["calls"], r["completed"], r["failed"], r["cps"], r["setup_ms"]["p50"],
    r["setup_ms"]["p99"], r["concurrent_max"], el, (float(us) + float(sy)) / el * 100, uas, drops))
if r["failures"]:
    print("        predial failures:", r["failures"])
PY
