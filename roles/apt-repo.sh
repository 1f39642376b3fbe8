#!/usr/bin/env bash
# apt-repo: the Debian repository a VM lab's hosts install from. VM lab hosts have no way out of the
# lab, so the packages a lab asks for (and everything they depend on) are fetched once with this
# machine's apt (apt-get download, from the Debian mirrors it already uses), indexed with
# apt-ftparchive as a flat repository in ixlab's cache (keyed by the package list), and served over
# HTTP by busybox httpd inside the lab's namespace, on the management bridge's address only. The
# hosts' own apt-get then installs from it exactly as a real host installs from its mirror (each VM's
# sources.list names it, see roles/vm-host.sh --apt-source).
# Runs as root on the machine running Pulumi (never over SSH).
#   apt-repo.sh create|delete|check --ns NS --listen 198.18.20.1:8080 --cache DIR --packages "a b c"
#               [--run-dir /run/ixlab/vm/NS]
# The repository is unsigned: the hosts name it `[trusted=yes]`. It is reachable only on the lab's
# own bridge, inside its namespace, and holds only what this machine's apt verified when it fetched.
# delete stops the server and keeps the packages (a cache).
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_ns='' opt_listen='' opt_cache='' opt_packages='' opt_run_dir=''
NS='' KEY='' REPO='' RUN=''
packages=()

# The server: busybox httpd in the foreground, serving REPO; its command line names REPO.
server_pid() { pidfile_pid "$RUN/httpd.pid" "$REPO"; }
# shellcheck disable=SC2016 # $1 $2 expand in the inner bash
serves() {
  ip netns exec "$NS" timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "HEAD /Release HTTP/1.0\r\n\r\n" >&3 && head -n 1 <&3 | grep -q " 200 "' _ "${opt_listen%:*}" "${opt_listen##*:}" 2>/dev/null
}

# The packages and everything they depend on (Depends and Pre-Depends, every alternative), as this
# machine's apt resolves them; apt in the VM picks what it needs among them.
closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
    "${packages[@]}" | grep -E '^[a-z0-9]' | sort -u
}

build() {
  local tmp=$1 names
  mapfile -t names < <(closure)
  [ ${#names[@]} -gt 0 ] || die "apt-cache resolves none of: ${packages[*]}"
  log "fetching ${#names[@]} Debian packages for ${packages[*]} (apt-get download)"
  (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "${names[@]}" >&2) || die "apt-get download failed (see above)"
  (cd "$tmp" && apt-ftparchive packages . >Packages && gzip -9kn Packages && apt-ftparchive release . >Release) ||
    die "apt-ftparchive failed"
  printf '%s\n' "${packages[@]}" >"$tmp/ixlab-packages"
}

do_create() {
  local tmp pid
  command -v apt-ftparchive >/dev/null || die "apt-ftparchive not found (Debian package apt-utils)"
  command -v busybox >/dev/null || die "busybox not found (Debian package busybox-static)"
  [ -e "/run/netns/$NS" ] || die "namespace $NS does not exist (roles/vm-net.sh create makes it)"
  mkdir -p "$opt_cache/repos"
  exec 9>"$opt_cache/repos/.lock-$KEY"
  flock 9
  if [ -f "$REPO/Release" ]; then
    ok "repository $KEY exists ($REPO, $(find "$REPO" -name '*.deb' | wc -l) packages)"
  else
    tmp=$opt_cache/repos/.build-$KEY.$$
    rm -rf "$tmp" && mkdir -p "$tmp"
    defer "rm -rf '$tmp'"
    build "$tmp"
    rm -rf "$REPO" && mv "$tmp" "$REPO"
    changed "made repository $KEY: $(find "$REPO" -name '*.deb' | wc -l) packages, $(du -sh "$REPO" | cut -f1)"
  fi
  exec 9>&-
  if [ -d "$RUN" ]; then ok "$RUN exists"; else mkdir -p "$(dirname "$RUN")" && mkdir -m 0700 "$RUN"; changed "created $RUN"; fi
  if pid=$(server_pid) && serves; then
    ok "repository served on $opt_listen (pid $pid)"
  else
    [ -z "${pid:-}" ] || stop_pid "$pid" "$REPO"
    rm -f "$RUN/httpd.pid"
    start_detached "$RUN/httpd.pid" "$RUN/httpd.log" ip netns exec "$NS" busybox httpd -f -p "$opt_listen" -h "$REPO"
    wait_for 10 "the repository's HTTP server on $opt_listen (see $RUN/httpd.log)" serves
    changed "serving $REPO on http://$opt_listen/ in namespace $NS (pid $(server_pid))"
  fi
  printf 'facts: %s\n' "$(jq -cn --arg key "$KEY" --arg url "http://$opt_listen/" --arg dir "$REPO" \
    --argjson n "$(find "$REPO" -name '*.deb' | wc -l)" \
    '{key: $key, url: $url, dir: $dir, packages: $n, source: ("deb [trusted=yes] " + $url + " ./")}')"
}

do_delete() {
  local pid
  if pid=$(server_pid); then
    stop_pid "$pid" "$REPO"
    changed "stopped the repository's HTTP server (pid $pid)"
  else
    ok "the repository's HTTP server is not running"
  fi
  if [ -d "$RUN" ]; then
    rm -f "$RUN/httpd.pid" "$RUN/httpd.log"
    # Its parents too when nothing else is in them (another lab's or the sim's directories stay).
    rmdir "$RUN" "$(dirname "$RUN")" 2>/dev/null || true
    changed "removed $RUN"
  fi
  ok "packages stay in the cache ($REPO)"
}

do_check() {
  [ -f "$REPO/Release" ] || wrong "repository $KEY is not made ($REPO)"
  server_pid >/dev/null || wrong "the repository's HTTP server is not running"
  serves || wrong "the repository does not answer on $opt_listen"
}

main() {
  parse_args "create delete check" "ns listen cache packages run-dir" "$@"
  need_flags ns listen cache packages
  [[ $opt_ns =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || usage_error "--ns '$opt_ns' is not a namespace name"
  if ! [[ $opt_listen =~ ^[0-9.]+:[0-9]{1,5}$ ]] || ! in_bench_range "${opt_listen%:*}"; then
    usage_error "--listen '$opt_listen' is not ADDRESS:PORT with an address in 198.18.0.0/15"
  fi
  [[ $opt_cache == /* ]] || usage_error "--cache '$opt_cache' is not an absolute path"
  read -ra packages <<<"$opt_packages"
  local p
  for p in "${packages[@]}"; do
    [[ $p =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || usage_error "--packages: not a Debian package name: '$p'"
  done
  mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
  NS=$opt_ns
  KEY=$(printf '%s\n' "${packages[@]}" | sha256sum | cut -c1-16)
  REPO=$opt_cache/repos/$KEY
  RUN=${opt_run_dir:-/run/ixlab/vm/$NS}
  run_action
}

main "$@" </dev/null
