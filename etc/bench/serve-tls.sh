# etc/bench/serve-tls.sh — part 4 of etc/bench-serve.sh (--tls): catch-up and serving over
# TLS against plain TCP, alternating in the same run. Sourced by etc/bench-serve.sh, never
# run. It uses that script's variables (TMP OUT PRIMARY PRIMARY_PID PPORT LPORT BIN BLS_PID
# BLS_LOG CERTS READER_COUNTS REPEAT KEEP) and functions (py res kv log die bgrun psql
# proc_cpu binlog_files).
#
# Proof that a TLS run used TLS (the script stops otherwise):
# - catch-up: the primary's Ssl_accepts grows during every TLS run, not during a plain one;
# - serving: binlogserver runs with RUST_LOG=...server::session=debug and logs one
#   `tls id=N ... version=V cipher=C` line per TLS session; a TLS run of N readers must add
#   at least N such lines, a plain run none. The same readers from the primary (reference)
#   are checked by its Ssl_accepts.
# shellcheck shell=bash

ssl_accepts() { psql -e "SHOW GLOBAL STATUS LIKE 'Ssl_accepts'" | awk '{print $2}'; }
tls_sessions() { grep -c ' tls id=' "$BLS_LOG" || true; } # grep -c prints 0 (and fails) on none
tls_order() { if (($1 % 2 == 1)); then echo "plain tls"; else echo "tls plain"; fi; } # run number
warm_cache() { cat "$@" >/dev/null; }
commas() { local v=${1% }; echo "${v// /, }"; } # "1 2 3 " -> "1, 2, 3"

tls_catchup_run() { # mode run k expect files...: one catch-up into an empty dir; sets CU_OUT
  local mode=$1 r=$2 k=$3 expect=$4 dir a0 a1 c0 c1 ssl
  shift 4
  dir=$TMP/cu-$mode-$r
  CU_OUT=$TMP/cu-$mode-$r.out
  mkdir -p "$dir"
  ssl=(--ssl-mode DISABLED)
  [ "$mode" = tls ] && ssl=(--ssl-mode VERIFY_CA --ssl-ca "$CERTS/ca.pem")
  warm_cache "${@/#/$PRIMARY/data/}"
  a0=$(ssl_accepts)
  c0=$(proc_cpu "$PRIMARY_PID")
  bgrun py monitor "$dir" "$dir.log" "$expect" 600 "$TMP/cu.pid" \
    "$BIN" -h 127.0.0.1 -P "$PPORT" -u repl -p replpass -d "$dir" --server-id "$((500 + k))" \
    --semi-sync auto --heartbeat 1 "${ssl[@]}" >"$CU_OUT" || die "4a: binlogserver monitor failed (log $dir.log)"
  c1=$(proc_cpu "$PRIMARY_PID")
  a1=$(ssl_accepts)
  echo "primary_cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}')" >>"$CU_OUT"
  log "4a run $r $mode: $(tr '\n' ' ' <"$CU_OUT")primary Ssl_accepts $a0 -> $a1"
  if [ "$(kv "$CU_OUT" reason)" != "done" ]; then
    tail -n 20 "$dir.log" >&2
    die "4a run $r ($mode): binlogserver did not catch up: $(kv "$CU_OUT" reason)"
  fi
  if [ "$mode" = tls ]; then
    [ "${a1:-0}" -gt "${a0:-0}" ] || die "4a run $r: binlogserver did not connect over TLS (the primary's Ssl_accepts $a0 -> $a1)"
  else
    [ "$a1" = "$a0" ] || die "4a run $r: the plain run made TLS sessions (the primary's Ssl_accepts $a0 -> $a1)"
  fi
  if grep -qE ' (WARN|ERROR) ' "$dir.log"; then
    res "note_tls_cu_warn_${mode}_$r" "4a run $r ($mode): binlogserver logged warnings/errors, first: $(grep -E ' (WARN|ERROR) ' "$dir.log" | head -n 1 | cut -c1-300)"
  fi
  if [ "$r" = 1 ]; then
    py compare "$PRIMARY/data" "$dir" "$@" >"$TMP/cu-cmp-$mode"
    res "tls_cu_${mode}_identical" "$(kv "$TMP/cu-cmp-$mode" identical)"
    res "tls_cu_${mode}_cmp" "$(kv "$TMP/cu-cmp-$mode" detail)"
    log "4a $mode copy: $(kv "$TMP/cu-cmp-$mode" detail)"
  fi
  [ "$KEEP" = 1 ] || rm -rf "$dir"
}

tls_catchup() { # files...: REPEAT rounds of (plain, TLS) catch-ups, medians
  local f expect="" r mode k=0
  declare -A t=() cpu=() pcpu=()
  for f in "$@"; do expect+="${expect:+,}$f:$(stat -c %s "$PRIMARY/data/$f")"; done
  for ((r = 1; r <= REPEAT; r++)); do
    for mode in $(tls_order "$r"); do
      k=$((k + 1))
      tls_catchup_run "$mode" "$r" "$k" "$expect" "$@"
      t[$mode]+="$(kv "$CU_OUT" t_equal) "
      cpu[$mode]+="$(kv "$CU_OUT" cpu_s) "
      pcpu[$mode]+="$(kv "$CU_OUT" primary_cpu_s) "
    done
  done
  for mode in plain tls; do
    # shellcheck disable=SC2086
    res "tls_cu_${mode}_s" "$(py median ${t[$mode]})"
    res "tls_cu_${mode}_runs" "$(commas "${t[$mode]}")"
    # shellcheck disable=SC2086
    res "tls_cu_${mode}_cpu" "$(py median ${cpu[$mode]})"
    # shellcheck disable=SC2086
    res "tls_cu_${mode}_pcpu" "$(py median ${pcpu[$mode]})"
  done
}

tls_read_run() { # who mode n run names files...: n concurrent readers; sets RD_OUT, RD_SRV
  local who=$1 mode=$2 n=$3 r=$4 names=$5 s0 s1 c0 c1 opts port pid
  shift 5
  opts=(--skip-ssl)
  [ "$mode" = tls ] && opts=(--ssl --ssl-ca="$CERTS/ca.pem" --ssl-verify-server-cert)
  if [ "$who" = bls ]; then port=$LPORT pid=$BLS_PID; else port=$PPORT pid=$PRIMARY_PID; fi
  RD_OUT=$TMP/tread-$who-$mode-$n-$r
  warm_cache "${@/#/$BLSDIR/}" "${@/#/$PRIMARY/data/}"
  mkdir -p "$OUT/tread"
  if [ "$who" = bls ]; then s0=$(tls_sessions); else s0=$(ssl_accepts); fi
  c0=$(proc_cpu "$pid")
  bgrun py readers "$n" "$port" "$1" "$OUT/tread" "$names" "$who-$mode-$n-$r" "${opts[@]}" >"$RD_OUT" ||
    die "reader helper failed ($who, $mode, N=$n)"
  c1=$(proc_cpu "$pid")
  if [ "$who" = bls ]; then s1=$(tls_sessions); else s1=$(ssl_accepts); fi
  rm -rf "$OUT/tread"
  RD_SRV=$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}')
  log "4b: N=$n run $r $who $mode: $(tr '\n' ' ' <"$RD_OUT")server_cpu=$RD_SRV tls_sessions=$((s1 - s0))"
  if [ "$mode" = tls ]; then
    [ "$((s1 - s0))" -ge "$n" ] || die "4b N=$n run $r ($who): only $((s1 - s0)) of $n readers logged in over TLS"
  else
    [ "$s1" = "$s0" ] || die "4b N=$n run $r ($who): the plain run made $((s1 - s0)) TLS session(s)"
  fi
  if [ "$(kv "$RD_OUT" failed)" != 0 ]; then
    res "note_tls_rd_${who}_${mode}_${n}_${r}_fail" "4b N=$n run $r, $who $mode: $(kv "$RD_OUT" failed) reader(s) failed; first: $(kv "$RD_OUT" fail_detail)"
  fi
  if [ "$(kv "$RD_OUT" stray)" != 0 ]; then
    res "note_tls_rd_${who}_${mode}_${n}_${r}_stray" "4b N=$n run $r: reader output not discarded: $(kv "$RD_OUT" stray_detail)"
  fi
}

tls_serve() { # files...: for each N, REPEAT rounds of (plain, TLS) reads from binlogserver,
  # then the same from the primary (reference: what TLS costs these readers anyway)
  local names n r mode who k
  names=$(IFS=,; echo "$*")
  for n in "${READER_COUNTS[@]}"; do
    declare -A walls=() srv=() cli=() failed=()
    for ((r = 1; r <= REPEAT; r++)); do
      for who in bls pri; do
        for mode in $(tls_order "$r"); do
          tls_read_run "$who" "$mode" "$n" "$r" "$names" "$@"
          k=${who}_$mode
          walls[$k]+="$(kv "$RD_OUT" wall_s) "
          srv[$k]+="$RD_SRV "
          cli[$k]+="$(kv "$RD_OUT" client_cpu_s) "
          failed[$k]=$((${failed[$k]:-0} + $(kv "$RD_OUT" failed)))
        done
      done
    done
    for k in bls_plain bls_tls pri_plain pri_tls; do
      # shellcheck disable=SC2086
      res "tls_rd_${k}_${n}_wall" "$(py median ${walls[$k]})"
      res "tls_rd_${k}_${n}_runs" "$(commas "${walls[$k]}")"
      # shellcheck disable=SC2086
      res "tls_rd_${k}_${n}_srv_cpu" "$(py median ${srv[$k]})"
      # shellcheck disable=SC2086
      res "tls_rd_${k}_${n}_cli_cpu" "$(py median ${cli[$k]})"
      res "tls_rd_${k}_${n}_failed" "${failed[$k]}"
    done
    unset walls srv cli failed
  done
  res tls_session "$(grep -m 1 ' tls id=' "$BLS_LOG" | sed 's/^.* \(version=.*\)$/\1/')"
}

tls_verify() { # files...: one TLS reader's output == one plain reader's, byte for byte
  local avail need mode f same=yes detail="" opts
  avail=$(df --output=avail -B1 "$OUT" | tail -n 1)
  need=$(($(kv "$TMP/tls-stats" bytes) * 2 + 268435456))
  if [ "$avail" -lt "$need" ]; then
    res note_tls_verify "no byte comparison of TLS and plain reader outputs: $OUT has $avail bytes free, $need needed"
    return 0
  fi
  for mode in plain tls; do
    opts=(--skip-ssl)
    [ "$mode" = tls ] && opts=(--ssl --ssl-ca="$CERTS/ca.pem" --ssl-verify-server-cert)
    mkdir -p "$OUT/tverify-$mode"
    bgrun mariadb-binlog --no-defaults --read-from-remote-server --raw --to-last-log \
      --result-file="$OUT/tverify-$mode/" -h 127.0.0.1 -P "$LPORT" -u repl -preplpass "${opts[@]}" \
      "$1" 2>"$TMP/tverify-$mode.err" || { cat "$TMP/tverify-$mode.err" >&2; die "mariadb-binlog (TLS verification, $mode) failed"; }
  done
  for f in "$@"; do
    if cmp -s "$OUT/tverify-plain/$f" "$OUT/tverify-tls/$f"; then
      detail+="${detail:+, }$f identical"
    else
      same=no
      detail+="${detail:+, }$f DIFFERS ($(cmp "$OUT/tverify-plain/$f" "$OUT/tverify-tls/$f" 2>&1 | head -n 1))"
    fi
  done
  res tls_verify "$same"
  res tls_verify_detail "$detail"
  log "4b: TLS reader's output vs plain reader's: $detail"
  rm -rf "$OUT/tverify-plain" "$OUT/tverify-tls"
}

tls_phase() {
  local files=()
  mapfile -t files < <(binlog_files)
  py stats "${files[@]/#/$PRIMARY/data/}" >"$TMP/tls-stats"
  res tls_files "${#files[@]}"
  res tls_bytes "$(kv "$TMP/tls-stats" bytes)"
  res tls_events "$(kv "$TMP/tls-stats" events)"
  res tls_repeat "$REPEAT"
  log "4: ${#files[@]} file(s), $(kv "$TMP/tls-stats" bytes) bytes; TLS vs plain, $REPEAT round(s)"
  tls_catchup "${files[@]}"
  tls_serve "${files[@]}"
  tls_verify "${files[@]}"
}
