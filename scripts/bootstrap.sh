#!/usr/bin/env bash
# Installs everything voxgate needs on a fresh Debian machine with Python 3.11+:
# the Debian packages (SIP peers, speech engines, capture tools) and the locked Python environment.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(sip-tester baresip espeak-ng flite tshark sox libsox-fmt-mp3)
BINARIES=(sipp baresip espeak-ng flite tshark sox)

missing=0
for b in "${BINARIES[@]}"; do command -v "$b" >/dev/null 2>&1 || missing=1; done
if [ "$missing" = 1 ]; then
  echo "bootstrap: installing Debian packages: ${APT_PACKAGES[*]}" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${APT_PACKAGES[@]}" >/dev/null
fi

# the SIP socket's receive queue (4 MiB, see docs/engine.md "Overload"): a process that is
# not root gets no more than net.core.rmem_max
RMEM=4194304
rmem_max="$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo "$RMEM")"
if [ "$(id -u)" != 0 ] && [ "$rmem_max" -lt "$RMEM" ]; then
  echo "bootstrap: raising net.core.rmem_max from $rmem_max to $RMEM" >&2
  sudo -n sysctl -q -w "net.core.rmem_max=$RMEM" ||
    echo "bootstrap: could not raise net.core.rmem_max: SIP bursts may be dropped" >&2
fi

# the kernel filter that drops the ACKs of refused INVITEs (docs/engine.md "Overload"):
# its widest window needs 48 KiB of socket option memory, root or not (older kernels
# default to 20 KiB, which leaves it a 384-byte window)
OPTMEM=65536
optmem_max="$(cat /proc/sys/net/core/optmem_max 2>/dev/null || echo "$OPTMEM")"
if [ "$optmem_max" -lt "$OPTMEM" ]; then
  echo "bootstrap: raising net.core.optmem_max from $optmem_max to $OPTMEM" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
  $SUDO sysctl -q -w "net.core.optmem_max=$OPTMEM" ||
    echo "bootstrap: could not raise net.core.optmem_max: refusals' ACKs searched less far" >&2
fi

PY="${VOXGATE_PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY="$(command -v "$cand")"; break
    fi
  done
fi
[ -n "$PY" ] || { echo "bootstrap: Python 3.11 or newer is required" >&2; exit 1; }

UV=".tools/bin/uv"
if [ ! -x "$UV" ]; then
  echo "bootstrap: installing uv into .tools" >&2
  "$PY" -m venv .tools
  .tools/bin/pip install -q --disable-pip-version-check uv
fi
UV_PYTHON_DOWNLOADS=never "$UV" sync --locked --quiet --python "$PY"
