# Shared by demo.sh, test.sh and bench/run.sh: install what rebound needs,
# through apt and npm only, and only when something is missing, so a second
# run is quick.
# shellcheck shell=bash

REBOUND_APT_PACKAGES=(
  build-essential cmake pkg-config git jq curl openssl ca-certificates
  liblua5.4-dev libyaml-dev libcjson-dev libcurl4-openssl-dev libssl-dev
  libmicrohttpd-dev libcmocka-dev libxml2-dev
)

rb_need_apt() {
  local missing=()
  for p in "${REBOUND_APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "==> installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# npm packages go into .tools/npm inside the checkout (never global), pinned
# by scripts/npm/package.json and its lock file.
rb_need_npm() {
  local root="$1"
  local dir="$root/.tools/npm"
  if [ ! -d "$dir/node_modules" ] || [ "$root/scripts/npm/package.json" -nt "$dir/.stamp" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      rb_need_apt nodejs npm
    fi
    echo "==> installing npm packages (azurite)"
    mkdir -p "$dir"
    cp "$root/scripts/npm/package.json" "$dir/"
    [ -f "$root/scripts/npm/package-lock.json" ] && cp "$root/scripts/npm/package-lock.json" "$dir/"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$dir/.stamp"
  fi
  export PATH="$dir/node_modules/.bin:$PATH"
}
