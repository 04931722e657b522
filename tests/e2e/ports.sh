# Free-port picking for end-to-end tests (sourced).
# shellcheck shell=bash

# e2e_port_base [COUNT]: a base port with COUNT (default 10) free ports after it, below the
# kernel's ephemeral range (32768+) so outgoing connections of other tests cannot take them.
# Never a range holding 10080: Chromium refuses it (ERR_UNSAFE_PORT, the one port of its
# blocked list above 6697), and the browser scenarios open whatever port the lab got.
e2e_port_base() {
  local n=${1:-10} base p busy try
  for ((try = 0; try < 50; try++)); do
    base=$((10000 + (RANDOM * 32768 + RANDOM + $$) % 2200 * 10))
    [ "$base" -le 10080 ] && [ $((base + n)) -gt 10080 ] && continue
    busy=0
    for ((p = base; p < base + n; p++)); do
      if ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then busy=1; break; fi
    done
    [ "$busy" -eq 0 ] && { echo "$base"; return 0; }
  done
  echo "$base"
}

