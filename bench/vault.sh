# bench/run.sh vault: one run against Azurite (in memory, loopback) with a
# 1 GiB random file. Upload: rebound vault put vs one `curl -T` Put Blob vs
# `azcopy copy`. Read back: rebound vault verify (re-read + SHA-256 of every
# block and the whole object) vs one `curl` GET. Sourced by run.sh.

# account_sas KEY: an account SAS (blob service, all permissions, http and
# https, one day) for devstoreaccount1, signed with openssl (sv 2019-12-12).
vault_account_sas() {
  local key=$1 exp sts sig
  exp=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
  sts=$(printf 'devstoreaccount1\nracwdl\nb\nsco\n\n%s\n\nhttps,http\n2019-12-12\n' "$exp")
  sig=$(printf '%s\n' "$sts" | openssl dgst -sha256 -mac HMAC \
    -macopt "hexkey:$(printf '%s' "$key" | base64 -d | od -An -tx1 -v | tr -d ' \n')" -binary |
    base64 -w0 | jq -sRr @uri)
  printf 'sv=2019-12-12&ss=b&srt=sco&sp=racwdl&se=%s&spr=https,http&sig=%s' \
    "$(printf '%s' "$exp" | jq -sRr @uri)" "$sig"
}

bench_vault() {
  rb_need_apt time curl jq libsecret-1-0 # azcopy links libsecret
  rb_need_npm "$root"
  local npmdir="$root/.tools/bench-npm"
  if [ ! -f "$npmdir/node_modules/@azure-tools/azcopy-linux/dist/bin/azcopy_linux_amd64" ]; then
    echo "==> installing azcopy (npm @azure-tools/azcopy-linux)" >&2
    mkdir -p "$npmdir"
    (cd "$npmdir" && npm install --no-audit --no-fund --loglevel=error @azure-tools/azcopy-linux@10.32.2 >/dev/null)
  fi
  local azcopy="$npmdir/node_modules/@azure-tools/azcopy-linux/dist/bin/azcopy_linux_amd64"
  chmod +x "$azcopy" # the package ships it without the executable bit
  build_release
  local work azpid
  work=$(mktemp -d)
  cd "$work"
  azurite-blob --inMemoryPersistence --extentMemoryLimit 8192 --blobHost 127.0.0.1 --blobPort 0 \
    --disableTelemetry --skipApiVersionCheck --silent >azurite.log 2>&1 &
  azpid=$!
  trap 'kill $azpid 2>/dev/null; wait $azpid 2>/dev/null; cd /; rm -rf "$work"' RETURN
  local port=
  for _ in $(seq 300); do
    port=$(sed -n 's/.*listens on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' azurite.log | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat azurite.log >&2; echo "bench: Azurite did not start" >&2; exit 1; }
  local key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
  local ep="http://127.0.0.1:$port/devstoreaccount1" sas
  sas=$(vault_account_sas "$key")
  curl -sf -X PUT "$ep/bench?restype=container&$sas" -H 'x-ms-version: 2019-12-12' >/dev/null
  local bytes=1073741824
  head -c $bytes /dev/urandom >big.bin
  cat big.bin >/dev/null # page cache: every tool reads from memory
  openssl genpkey -algorithm ed25519 -out sign.pem 2>/dev/null
  echo dummy-token >token
  cat >rebound.yaml <<YAML
cloud:
  arm_endpoint: https://127.0.0.1:1
auth:
  method: token_file
  token_file: $work/token
vault:
  kind: azure-blob
  account: devstoreaccount1
  container: bench
  endpoint: $ep
  account_key_env: BENCH_AZURITE_KEY
  allow_unlocked: true
  signing_key_file: $work/sign.pem
  block_size: 8MiB
YAML
  export BENCH_AZURITE_KEY="$key"
  measure rb "$REBOUND" vault put big.bin --source-id /bench/big --kind disk -j 4 -q --no-progress
  measure curlput curl -sf -T big.bin -H 'x-ms-blob-type: BlockBlob' -H 'x-ms-version: 2019-12-12' \
    "$ep/bench/curl.bin?$sas"
  export AZCOPY_LOG_LOCATION="$work/azlogs" AZCOPY_JOB_PLAN_LOCATION="$work/azplans"
  measure azc "$azcopy" copy big.bin "$ep/bench/azcopy.bin?$sas" --from-to LocalBlob --log-level ERROR
  measure rbv "$REBOUND" vault verify -q --no-progress
  measure curlget curl -sf -o /dev/null "$ep/bench/curl.bin?$sas" -H 'x-ms-version: 2019-12-12'
  # The same bytes as rebound reads them: the vault's own blob, committed
  # from 8 MiB blocks (Azurite serves such a blob slower than one written
  # by a single Put Blob, so this is the like-for-like peer of verify).
  local set
  set=$("$REBOUND" vault list --output json | jq -r '.[0].set_id')
  measure curlgetv curl -sf -o /dev/null "$ep/bench/sets/$set/data/big.bin?$sas" -H 'x-ms-version: 2019-12-12'
  echo "rebound vault put: ${rb_wall} s (peak RSS ${rb_rss} MiB); curl -T: ${curlput_wall} s; azcopy: ${azc_wall} s (peak RSS ${azc_rss} MiB)"
  echo "rebound vault verify: ${rbv_wall} s (peak RSS ${rbv_rss} MiB); curl GET: ${curlget_wall} s (of the vault's own blob: ${curlgetv_wall} s)"
  jq -nc --argjson bytes $bytes --argjson rb "$rb_wall" --argjson cp "$curlput_wall" \
    --argjson az "$azc_wall" --argjson rss "$rb_rss" --argjson rbv "$rbv_wall" \
    --argjson cg "$curlget_wall" --argjson cgv "$curlgetv_wall" \
    '{bench:"vault", bytes:$bytes, rebound_backup_s:$rb, curl_put_s:$cp, azcopy_s:$az,
      ratio_vs_curl:(($rb / $cp) * 100 | round / 100),
      speedup_vs_azcopy:(($az / $rb) * 100 | round / 100), peak_rss_mib:$rss,
      rebound_verify_s:$rbv, curl_get_s:$cg,
      verify_ratio_vs_curl:(($rbv / $cg) * 100 | round / 100),
      curl_get_vault_blob_s:$cgv,
      verify_ratio_vs_curl_same_blob:(($rbv / $cgv) * 100 | round / 100)}'
}
