# Free-port picking for end-to-end tests (sourced).
# shellcheck shell=bash

# e2e_port_base [COUNT]: a base port with COUNT (default 10) free ports after it, below the
# kernel's ephemeral range (32768+) so outgoing connections of other tests cannot take them.
# Never a range holding 10080: Chromium refuses it (ERR_UNSAFE_PORT, the one port of its
# blocked list above 6697), and the browser scenarios open whatever port the lab got.
# Tests run side by side (tests/run, E2E_JOBS), and a port is free only until its server
# binds it: each block of ten ports picked is also reserved for this shell (a directory
# named after it, made atomically, holding this shell's pid) until the shell exits, and a
# block another live shell holds is not picked.
E2E_PORT_LOCKS=${E2E_PORT_LOCKS:-${TMPDIR:-/tmp}/relaylab-ports}
e2e_port_base() {
  local n=${1:-10} base p busy try b port_blocks
  mkdir -p "$E2E_PORT_LOCKS" 2>/dev/null || true
  for ((try = 0; try < 50; try++)); do
    base=$((10000 + (RANDOM * 32768 + RANDOM + $$) % 2200 * 10))
    [ "$base" -le 10080 ] && [ $((base + n)) -gt 10080 ] && continue
    busy=0
    for ((p = base; p < base + n; p++)); do
      if ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then busy=1; break; fi
    done
    [ "$busy" -eq 0 ] || continue
    port_blocks=()
    for ((b = base / 10; b <= (base + n - 1) / 10; b++)); do
      if e2e_port_lock "$b"; then port_blocks+=("$b"); else busy=1; break; fi
    done
    if [ "$busy" -eq 0 ]; then
      echo "$base"
      return 0
    fi
    for b in ${port_blocks[@]+"${port_blocks[@]}"}; do rm -rf "${E2E_PORT_LOCKS:?}/$b"; done
  done
  echo "$base"
}

# e2e_port_lock BLOCK: reserves ports BLOCK*10 .. BLOCK*10+9 for this shell ($$, also in a
# command substitution); takes over a reservation whose shell has exited. A block this shell
# holds already is not given again (two clusters of one test must not share one). Take-overs
# run one at a time (flock on .takeover): two shells finding the same dead holder would
# otherwise each remove the directory and make their own, both believing they hold it. A
# plain mkdir beside a take-over is safe: only one mkdir of a name succeeds.
e2e_port_lock() {
  local d=$E2E_PORT_LOCKS/$1 rc=1
  if mkdir "$d" 2>/dev/null; then
    echo "$$" >"$d/pid"
    return 0
  fi
  e2e_port_lock_stale "$d" || return 1
  {
    flock 9
    if e2e_port_lock_stale "$d"; then
      rm -rf "$d"
      if mkdir "$d" 2>/dev/null; then
        echo "$$" >"$d/pid"
        rc=0
      fi
    fi
  } 9>>"$E2E_PORT_LOCKS/.takeover"
  return "$rc"
}

# e2e_port_lock_stale DIR: DIR's holder is another shell, and it has exited. (A directory
# whose pid is not written yet is held: its maker is between mkdir and echo.)
e2e_port_lock_stale() {
  local holder
  holder=$(cat "$1/pid" 2>/dev/null || true)
  [ -n "$holder" ] && [ "$holder" != "$$" ] && ! kill -0 "$holder" 2>/dev/null
}
