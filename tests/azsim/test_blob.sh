#!/usr/bin/env bash
# Blob data plane: auth, containers, Put Blob / Block / Block List, ranged
# reads, listing with markers, conditional create, XML error shapes, and a
# disk imported from a blob.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
azsim_start
tokens

_curl "$B/stbackup/plain/p.bin"
expect 401 NoAuthenticationInformation "no token"
_curl -H "Authorization: Bearer $ARM" "$B/stbackup/plain/p.bin"
expect 401 InvalidAuthenticationInfo "a management token is refused"
blob GET "/stbackup/plain/p.bin"
expect 200 "read a blob"
check "content" eq "$(body)" plain
check "Content-MD5" test -n "$(header Content-MD5)"
check "x-ms-blob-type" eq "$(header x-ms-blob-type)" BlockBlob
blob GET "/nosuchaccount/x/y"
expect 404 "unknown account"
blob GET "/stbackup/nocontainer/x"
expect 404 ContainerNotFound "unknown container"
blob GET "/stbackup/plain/missing"
expect 404 BlobNotFound "unknown blob"
check "error body is XML with <Code>" grep -q '<Code>BlobNotFound</Code>' "$WORK/body"

blob PUT "/stbackup/fresh?restype=container"
expect 201 "create a container"
blob PUT "/stbackup/fresh?restype=container"
expect 409 ContainerAlreadyExists "create it twice"
blob PUT "/stbackup/Bad_Name?restype=container"
expect 400 InvalidResourceName "invalid container name"
ARM=$(token https://management.azure.com)
arm GET "$CONT/fresh?api-version=2023-05-01"
expect 200 "data-plane container visible in ARM"
blob PUT "/stbackup/fresh/x.bin" --data-binary 'x'
expect 400 MissingRequiredHeader "Put Blob without x-ms-blob-type"

head -c 300000 /dev/urandom >"$WORK/big.bin"
blob PUT "/stbackup/fresh/big.bin" -H 'x-ms-blob-type: BlockBlob' --data-binary "@$WORK/big.bin"
expect 201 "put a 300 KB blob"
blob GET "/stbackup/fresh/big.bin"
check "round trip is byte-exact" cmp -s "$WORK/body" "$WORK/big.bin"
blob GET "/stbackup/fresh/big.bin" -H 'x-ms-range: bytes=1000-1999'
expect 206 "x-ms-range read"
check "Content-Range" eq "$(header Content-Range)" "bytes 1000-1999/300000"
check "range bytes" cmp -s "$WORK/body" <(tail -c +1001 "$WORK/big.bin" | head -c 1000)
blob GET "/stbackup/fresh/big.bin" -H 'Range: bytes=299990-'
expect 206 "open-ended range"
check "last 10 bytes" eq "$(stat -c %s "$WORK/body")" 10
blob GET "/stbackup/fresh/big.bin" -H 'Range: bytes=400000-400010'
expect 416 InvalidRange "range past the end"
blob HEAD "/stbackup/fresh/big.bin"
expect 200 "HEAD a blob"
check "HEAD Content-Length" eq "$(header Content-Length)" 300000

# block upload
head -c 1000 /dev/urandom >"$WORK/b1"
head -c 777 /dev/urandom >"$WORK/b2"
blob PUT "/stbackup/fresh/blocks.bin?comp=block&blockid=YmxvY2sx" --data-binary "@$WORK/b1"
expect 201 "Put Block 1"
blob PUT "/stbackup/fresh/blocks.bin?comp=block&blockid=YmxvY2sy" --data-binary "@$WORK/b2"
blob GET "/stbackup/fresh/blocks.bin"
expect 404 BlobNotFound "uncommitted blocks are not a blob"
blob PUT "/stbackup/fresh/blocks.bin?comp=blocklist" -H 'If-None-Match: *' \
  --data-binary '<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>YmxvY2sx</Latest><Latest>YmxvY2sy</Latest></BlockList>'
expect 201 "Put Block List"
blob GET "/stbackup/fresh/blocks.bin"
check "committed blob is block1+block2" cmp -s "$WORK/body" <(cat "$WORK/b1" "$WORK/b2")
blob PUT "/stbackup/fresh/blocks.bin?comp=blocklist" -H 'If-None-Match: *' \
  --data-binary '<BlockList><Latest>YmxvY2sx</Latest></BlockList>'
expect 409 BlobAlreadyExists "If-None-Match: * on an existing blob"
blob PUT "/stbackup/fresh/blocks.bin?comp=blocklist" --data-binary '<BlockList><Committed>YmxvY2sy</Committed></BlockList>'
expect 201 "re-commit an existing block"
blob GET "/stbackup/fresh/blocks.bin"
check "blob is now block2 only" cmp -s "$WORK/body" "$WORK/b2"
blob PUT "/stbackup/fresh/blocks.bin?comp=blocklist" --data-binary '<BlockList><Latest>bm9wZQ==</Latest></BlockList>'
expect 400 InvalidBlockList "unknown block id"
blob PUT "/stbackup/fresh/blocks.bin?comp=blocklist" --data-binary '<BlockList><Latest>'
expect 400 InvalidXmlDocument "malformed block list"
blob PUT "/stbackup/fresh/blocks.bin?comp=block" --data-binary 'x'
expect 400 InvalidQueryParameterValue "Put Block without blockid"

# listing with prefix, maxresults and markers
for i in 1 2 3 4 5; do blob PUT "/stbackup/fresh/dir/f$i" -H 'x-ms-blob-type: BlockBlob' --data-binary "$i"; done
marker= pages=0 names=
while [ $pages -lt 10 ]; do
  blob GET "/stbackup/fresh?restype=container&comp=list&prefix=dir/&maxresults=2${marker:+&marker=$marker}"
  pages=$((pages + 1))
  names="$names$(grep -o '<Name>[^<]*</Name>' "$WORK/body" | sed 's/<[^>]*>//g' | tr '\n' ' ')"
  marker=$(grep -o '<NextMarker>[^<]*</NextMarker>' "$WORK/body" | sed 's/<[^>]*>//g' | sed 's#/#%2F#g')
  [ -n "$marker" ] || break
done
check "3 pages of 2" eq "$pages" 3
check "all 5 blobs in order" eq "$names" "dir/f1 dir/f2 dir/f3 dir/f4 dir/f5 "
blob GET "/stbackup/fresh?restype=container&comp=list&maxresults=0"
expect 400 OutOfRangeQueryParameterValue "maxresults 0"
blob GET "/stbackup?comp=list"
check "account lists containers" grep -q '<Name>fresh</Name>' "$WORK/body"
blob GET "/stbackup/worm?restype=container"
check "container properties show the policy" eq "$(header x-ms-has-immutability-policy)" true

# a disk imported from a blob takes its bytes
arm PUT "$RGA/providers/Microsoft.Compute/disks/restored?api-version=2023-04-02" \
  -d '{"location":"westeurope","properties":{"creationData":{"createOption":"Import","sourceUri":"'"$B"'/stbackup/fresh/big.bin"}}}'
expect 201 "import a disk from a blob"
arm POST "$RGA/providers/Microsoft.Compute/disks/restored/beginGetAccess?api-version=2023-04-02" -d '{"access":"Read"}'
_curl -H "Authorization: Bearer $ARM" "$(header Location)"
_curl "$(jbody .accessSAS)"
check "imported disk has the blob's bytes" cmp -s "$WORK/body" "$WORK/big.bin"

# the field practice: snapshot SAS -> Put Block From URL into the WORM container
arm POST "$RGA/providers/Microsoft.Compute/snapshots/snap-os/beginGetAccess?api-version=2023-04-02" -d '{"access":"Read","durationInSeconds":3600}'
_curl -H "Authorization: Bearer $ARM" "$(header Location)"
SAS=$(jbody .accessSAS)
_curl "$SAS"
cp "$WORK/body" "$WORK/disk.bin"
blob PUT "/stbackup/worm/vhd.bin?comp=block&blockid=MDAx" -H "x-ms-copy-source: $SAS" -H 'x-ms-source-range: bytes=0-2047'
expect 201 "Put Block From URL (first half)"
blob PUT "/stbackup/worm/vhd.bin?comp=block&blockid=MDAy" -H "x-ms-copy-source: $SAS" -H 'x-ms-source-range: bytes=2048-4095'
expect 201 "Put Block From URL (second half)"
blob PUT "/stbackup/worm/vhd.bin?comp=blocklist" -H 'If-None-Match: *' \
  --data-binary '<BlockList><Latest>MDAx</Latest><Latest>MDAy</Latest></BlockList>'
expect 201 "commit the VHD into the WORM container"
blob GET "/stbackup/worm/vhd.bin"
check "WORM copy equals the snapshot bytes" cmp -s "$WORK/body" "$WORK/disk.bin"
blob DELETE "/stbackup/worm/vhd.bin"
expect 409 BlobImmutableDueToPolicy "the fresh copy is immutable"
blob PUT "/stbackup/plain/copy.bin" -H 'x-ms-blob-type: BlockBlob' -H "x-ms-copy-source: $B/stbackup/worm/backup-001.bin"
expect 201 "Put Blob From URL (blob source)"
blob GET "/stbackup/plain/copy.bin"
check "copied content" eq "$(body)" "backup one"
arm POST "$RGA/providers/Microsoft.Compute/snapshots/snap-os/endGetAccess?api-version=2023-04-02"
blob PUT "/stbackup/plain/x.bin?comp=block&blockid=MDAz" -H "x-ms-copy-source: $SAS"
expect 403 CannotVerifyCopySource "copy from a revoked SAS"
blob PUT "/stbackup/plain/y.bin" -H 'x-ms-blob-type: BlockBlob' -H "x-ms-copy-source: $B/stbackup/plain/none"
expect 404 CannotVerifyCopySource "copy from a missing blob"
blob PUT "/stbackup/plain/y.bin" -H 'x-ms-blob-type: BlockBlob' -H "x-ms-copy-source: $B/stbackup/worm/backup-001.bin" -H 'x-ms-source-range: bytes=5-2'
expect 416 InvalidRange "bad source range"

blob DELETE "/stbackup/fresh?restype=container"
expect 202 "delete a container (data plane)"
blob GET "/stbackup/fresh/big.bin"
expect 404 ContainerNotFound "its blobs are gone"
blob PUT "/stbackup/plain/x?comp=frob"
expect 400 UnsupportedHttpVerb "unknown comp"
