#!/usr/bin/env bash
# Idempotent setup of a fresh Debian machine for routelet: system packages, npm packages,
# the native addon with its BPF programs, and the TypeScript build and its bundle. Each step is skipped
# when its output is already newer than its inputs, so a second run takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# 1. Debian packages: toolchain for the addon and BPF, and the real BGP daemons tests peer with.
PACKAGES=(
  build-essential cmake pkg-config clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool
  iproute2 iputils-ping procps psmisc tcpdump tshark bird2 gobgpd frr libssl-dev nftables
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "installing ${missing[*]}"
  $SUDO apt-get update -qq
  # tshark asks whether non-root users may capture; keep the default, never prompt.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | $SUDO debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# newer_than OUT IN...: true when OUT exists and is newer than every file under IN...
newer_than() {
  local out=$1; shift
  [ -e "$out" ] || return 1
  [ -z "$(find "$@" -newer "$out" -type f -print -quit 2>/dev/null)" ]
}

# 2. npm packages, exactly as locked.
if ! newer_than node_modules/.package-lock.json package-lock.json package.json; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  touch node_modules/.package-lock.json
fi

# 3. The addon and the BPF programs (vmlinux.h, objects and skeletons in build/).
addon=build/Release/routelet_native.node
if ! newer_than "$addon" native bpf CMakeLists.txt package-lock.json; then
  say "building the native addon and BPF programs"
  mkdir -p build
  npx --no-install cmake-js compile --out build --CDCMAKE_BUILD_TYPE=Release >build/cmake-js.log 2>&1 || {
    tail -40 build/cmake-js.log >&2
    exit 1
  }
  touch "$addon"
fi

# 4. TypeScript.
if ! newer_than dist/.built src tsconfig.json package-lock.json; then
  say "compiling TypeScript"
  npx --no-install tsc -p tsconfig.json
  # tsc does not write a module whose output did not change (a file restored by a checkout or
  # a revert is newer than its unchanged output): every module counts as built now, for the
  # bundle step below and for test/image.test.ts, which compares each with its source
  find dist -name '*.js' -exec touch {} +
  touch dist/.built
fi

# 4b. The bundle bin/routelet.js runs (scripts/bundle.mjs): the compiled modules in one file,
#     made again when any of them (or the bundler's script) is newer.
if ! newer_than dist/routelet.mjs dist scripts/bundle.mjs package-lock.json; then
  say "bundling dist/routelet.mjs"
  node scripts/bundle.mjs
fi

# 5. The benchmarks (bench/ → dist-bench/, outside the product): the product's declarations,
#    then the harnesses, which import the compiled dist/.
if ! newer_than dist-bench/.built bench src tsconfig.json package.json package-lock.json; then
  say "compiling the benchmarks"
  npx --no-install tsc -p bench/tsconfig.types.json
  npx --no-install tsc -p bench/tsconfig.json
  touch dist-bench/.built
fi
