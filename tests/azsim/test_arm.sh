#!/usr/bin/env bash
# ARM subset: shapes, api-version, paging with nextLink, resource groups,
# generic CRUD, LROs (Azure-AsyncOperation and Location), malformed requests.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
azsim_start
tokens

arm GET "/subscriptions"
expect 400 MissingApiVersionParameter "api-version is required"
arm GET "/subscriptions?api-version=2022-12-01"
expect 200 "list subscriptions"
check "x-ms-request-id header" test -n "$(header x-ms-request-id)"
check "x-ms-ratelimit-remaining-subscription-reads header" test -n "$(header x-ms-ratelimit-remaining-subscription-reads)"
check "one subscription" eq "$(jbody '.value|length')" 1
R1=$(header x-ms-ratelimit-remaining-subscription-reads)
arm GET "/subscriptions?api-version=2022-12-01"
check "remaining reads count down" eq "$(header x-ms-ratelimit-remaining-subscription-reads)" $((R1 - 1))
arm GET "/subscriptions/33333333-0000-0000-0000-000000000000?api-version=2022-12-01"
expect 404 SubscriptionNotFound "unknown subscription"
arm GET "/subscriptions/$S/resourceGroups/nope?api-version=2021-04-01"
expect 404 ResourceGroupNotFound "unknown resource group"
arm GET "$RGA/providers/Microsoft.KeyVault/vaults/nope?api-version=2023-07-01"
expect 404 ResourceNotFound "unknown resource"

# paging: 7 groups with page_size 2 -> 4 pages
for i in 1 2 3 4 5; do
  arm PUT "/subscriptions/$S/resourceGroups/rg-page-$i?api-version=2021-04-01" -d '{"location":"westeurope","tags":{"n":"'$i'"}}'
done
expect 201 "create a resource group"
check "created group has provisioningState Succeeded" eq "$(jbody .properties.provisioningState)" Succeeded
arm PUT "/subscriptions/$S/resourceGroups/rg-page-5?api-version=2021-04-01" -d '{"location":"westeurope"}'
expect 200 "update an existing group answers 200"
arm PUT "/subscriptions/$S/resourceGroups/rg-noloc?api-version=2021-04-01" -d '{}'
expect 400 LocationRequired "group without location"
url="/subscriptions/$S/resourcegroups?api-version=2021-04-01"
pages=0 names=
while [ -n "$url" ] && [ $pages -lt 10 ]; do
  arm GET "$url"
  [ "$STATUS" = 200 ] || break
  pages=$((pages + 1))
  names="$names $(jq -r '.value[].name' "$WORK/body" | tr '\n' ' ')"
  next=$(jbody '.nextLink // empty')
  url=${next#"$B"}
done
check "walked 4 pages of resource groups" eq "$pages" 4
check "7 groups over all pages" eq "$(echo $names | wc -w)" 7
ctl PUT /settings '{"page_size": 100}'
arm GET "/subscriptions/$S/resourcegroups?api-version=2021-04-01"
check "page_size 100 -> no nextLink" eq "$(jbody '.nextLink // "none"')" none
ctl PUT /settings '{"page_size": 2}'

# generic CRUD on an unknown provider (SQL) and nested types
arm GET "$RGA/providers/Microsoft.Sql/servers/sqlprod/databases?api-version=2023-05-01-preview"
expect 200 "list seeded SQL databases"
check "one database" eq "$(jbody '.value[0].name')" orders
arm PUT "$RGA/providers/Microsoft.Sql/servers/ghost/databases/x?api-version=2023-05-01-preview" -d '{"properties":{}}'
expect 404 ParentResourceNotFound "nested PUT without parent"
arm PUT "$RGA/providers/Microsoft.Sql/servers/sqlprod/databases/restored?api-version=2023-05-01-preview" \
  -d '{"location":"westeurope","properties":{"collation":"Latin1_General_100_BIN2","maxSizeBytes":1073741824}}'
expect 201 "create a database"
check "properties kept" eq "$(jbody .properties.collation)" Latin1_General_100_BIN2
arm PATCH "$RGA/providers/Microsoft.Sql/servers/sqlprod/databases/restored?api-version=2023-05-01-preview" -d '{"tags":{"a":"b"}}'
expect 200 "PATCH a resource"
check "PATCH kept properties" eq "$(jbody .properties.collation)" Latin1_General_100_BIN2
check "PATCH added tags" eq "$(jbody .tags.a)" b
arm PUT "$RGA/providers/Microsoft.RecoveryServices/vaults/rsv?api-version=2023-04-01" -d '{"location":"westeurope","sku":{"name":"RS0","tier":"Standard"},"properties":{}}'
expect 201 "generic CRUD for another provider (Recovery Services)"
arm PUT "$RGA/providers/Microsoft.RecoveryServices/vaults/rsv/replicationRecoveryPlans/plan1?api-version=2023-04-01" -d '{"properties":{"primaryFabricId":"f1"}}'
expect 201 "nested generic resource (recovery plan)"
arm POST "$RGA/providers/Microsoft.RecoveryServices/vaults/rsv/replicationRecoveryPlans/plan1/testFailover?api-version=2023-04-01" -d '{"properties":{"failoverDirection":"PrimaryToRecovery"}}'
expect 202 "recovery plan testFailover is accepted as an LRO"
_curl -H "Authorization: Bearer $ARM" "$(header Location)"
expect 200 "testFailover completes"
arm PATCH "$RGA/providers/Microsoft.Sql/servers/sqlprod/databases/none?api-version=2023-05-01-preview" -d '{}'
expect 404 ResourceNotFound "PATCH a missing resource"
arm PUT "$RGA/providers/Microsoft.Sql/servers/sqlprod?api-version=2023-05-01-preview" -d '{"location":'
expect 400 InvalidRequestContent "malformed JSON body"
arm PUT "$RGA/providers/Microsoft.Sql/servers/sqlprod?api-version=2023-05-01-preview" -d '[1,2]'
expect 400 InvalidRequestContent "JSON body that is not an object"
arm DELETE "$RGA/providers/Microsoft.Sql/servers/sqlprod/databases/restored?api-version=2023-05-01-preview"
expect 200 "delete a database"
arm DELETE "$RGA/providers/Microsoft.Sql/servers/sqlprod/databases/restored?api-version=2023-05-01-preview"
expect 204 "delete a missing resource answers 204"
arm POST "$RGA/providers/Microsoft.Sql/servers/sqlprod/frobnicate?api-version=2023-05-01-preview"
expect 400 InvalidAction "unknown action"
arm POST "/subscriptions/$S/resourceGroups/rg-app/exportTemplate?api-version=2021-04-01" -d '{"resources":["*"]}'
expect 200 "exportTemplate"
check "template lists the vault" grep -q 'Microsoft.KeyVault/vaults' "$WORK/body"

# LRO: resource group delete -> 202 + Location, polled to completion
arm DELETE "/subscriptions/$S/resourceGroups/rg-page-1?api-version=2021-04-01"
expect 202 "delete a resource group"
LOC=$(header Location)
check "Location header" test -n "$LOC"
check "Retry-After header" test -n "$(header Retry-After)"
_curl -H "Authorization: Bearer $ARM" "$LOC"
expect 200 "Location poll done (lro_seconds 0)"
arm GET "/subscriptions/$S/resourceGroups/rg-page-1?api-version=2021-04-01"
expect 404 ResourceGroupNotFound "group gone after the LRO"

# LRO with a duration rule: disk PUT runs 30 s on the virtual clock
ctl POST /lro '{"method":"PUT","path":"*/disks/slow*","seconds":30}'
arm PUT "$RGA/providers/Microsoft.Compute/disks/slow1?api-version=2023-04-02" \
  -d '{"location":"westeurope","properties":{"creationData":{"createOption":"Empty"},"diskSizeGB":1}}'
expect 201 "disk PUT starts an LRO"
AO=$(header Azure-AsyncOperation)
LOC=$(header Location)
check "Azure-AsyncOperation header" test -n "$AO"
check "provisioningState Creating while running" eq "$(jbody .properties.provisioningState)" Creating
_curl -H "Authorization: Bearer $ARM" "$AO"
check "async status InProgress" eq "$(jbody .status)" InProgress
_curl -H "Authorization: Bearer $ARM" "$LOC"
expect 202 "Location poll while running"
ctl POST /clock/advance '{"seconds": 31}'
_curl -H "Authorization: Bearer $ARM" "$AO"
check "async status Succeeded after the clock moved" eq "$(jbody .status)" Succeeded
_curl -H "Authorization: Bearer $ARM" "$LOC"
expect 200 "Location poll returns the resource"
check "Location result is the disk" eq "$(jbody .name)" slow1
arm GET "$RGA/providers/Microsoft.Compute/disks/slow1?api-version=2023-04-02"
check "provisioningState Succeeded after the LRO" eq "$(jbody .properties.provisioningState)" Succeeded

# a failing LRO
ctl POST /lro '{"method":"PUT","path":"*/disks/doomed*","seconds":0,"status":"Failed"}'
arm PUT "$RGA/providers/Microsoft.Compute/disks/doomed?api-version=2023-04-02" \
  -d '{"location":"westeurope","properties":{"creationData":{"createOption":"Empty"}}}'
AO=$(header Azure-AsyncOperation)
_curl -H "Authorization: Bearer $ARM" "$AO"
check "failed LRO reports Failed" eq "$(jbody .status)" Failed
check "failed LRO carries an error" test -n "$(jbody .error.code)"

# incremental snapshot, beginGetAccess SAS, endGetAccess
DISK=$RGA/providers/Microsoft.Compute/disks/disk-os
arm PUT "$RGA/providers/Microsoft.Compute/snapshots/snap1?api-version=2023-04-02" \
  -d '{"location":"westeurope","properties":{"incremental":true,"creationData":{"createOption":"Copy","sourceResourceId":"'$DISK'"}}}'
expect 201 "incremental snapshot"
arm POST "$RGA/providers/Microsoft.Compute/snapshots/snap1/beginGetAccess?api-version=2023-04-02" -d '{"access":"Read","durationInSeconds":600}'
expect 202 "beginGetAccess"
_curl -H "Authorization: Bearer $ARM" "$(header Location)"
SAS=$(jbody .accessSAS)
check "accessSAS returned" test -n "$SAS"
_curl "$SAS"
expect 200 "read the snapshot through the SAS"
check "snapshot has the disk's 4096 bytes" eq "$(stat -c %s "$WORK/body")" 4096
SUM1=$(sha256sum "$WORK/body" | cut -d' ' -f1)
_curl -H "Range: bytes=100-199" "$SAS"
expect 206 "ranged SAS read"
check "range length 100" eq "$(stat -c %s "$WORK/body")" 100
arm POST "$DISK/beginGetAccess?api-version=2023-04-02" -d '{"access":"Read"}'
expect 409 Conflict "no read SAS for a disk attached to a running VM"
arm POST "$RGA/providers/Microsoft.Compute/virtualMachines/vm-app/deallocate?api-version=2024-03-01"
expect 202 "deallocate the VM"
arm POST "$DISK/beginGetAccess?api-version=2023-04-02" -d '{"access":"Read"}'
expect 202 "read SAS once the VM is deallocated"
_curl -H "Authorization: Bearer $ARM" "$(header Location)"
_curl "$(jbody .accessSAS)"
check "disk and its snapshot have the same bytes" eq "$(sha256sum "$WORK/body" | cut -d' ' -f1)" "$SUM1"
arm POST "$RGA/providers/Microsoft.Compute/snapshots/snap1/endGetAccess?api-version=2023-04-02"
expect 202 "endGetAccess"
_curl "$SAS"
expect 403 AuthenticationFailed "SAS revoked after endGetAccess"
arm POST "$DISK/beginGetAccess?api-version=2023-04-02" -d '{"access":"Sideways"}'
expect 400 InvalidParameter "beginGetAccess with a bad access value"
