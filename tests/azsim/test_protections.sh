#!/usr/bin/env bash
# Each protection blocks what Azure blocks (status + code) and allows the rest:
# management locks, immutability policies (unlocked/locked), legal hold,
# Key Vault soft delete + purge protection, blob and container soft delete.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
azsim_start
tokens
V=api-version=2023-05-01
KVA=api-version=7.5
VAULT=$RGA/providers/Microsoft.KeyVault/vaults/kvprod

echo "== management locks"
arm DELETE "$RGB?api-version=2021-04-01"
expect 409 ScopeLocked "CanNotDelete on the group blocks deleting the group"
arm DELETE "$CONT/plain?$V"
expect 409 ScopeLocked "CanNotDelete on the group blocks deleting a child resource"
arm PUT "$CONT/newc?$V" -d '{"properties":{}}'
expect 201 "CanNotDelete still allows writes"
arm PUT "$VAULT/providers/Microsoft.Authorization/locks/ro?api-version=2020-05-01" -d '{"properties":{"level":"ReadOnly","notes":"t"}}'
expect 201 "create a ReadOnly lock on a vault"
arm PUT "$VAULT?api-version=2023-07-01" -d '{"location":"westeurope","properties":{"enableSoftDelete":true,"softDeleteRetentionInDays":7,"enablePurgeProtection":true,"tags":{}}}'
expect 409 ScopeLocked "ReadOnly blocks PUT"
arm PATCH "$VAULT?api-version=2023-07-01" -d '{"tags":{"x":"y"}}'
expect 409 ScopeLocked "ReadOnly blocks PATCH"
arm DELETE "$VAULT?api-version=2023-07-01"
expect 409 ScopeLocked "ReadOnly blocks DELETE"
arm GET "$VAULT?api-version=2023-07-01"
expect 200 "ReadOnly allows GET"
arm DELETE "$RGA?api-version=2021-04-01"
expect 409 ScopeLocked "a locked resource blocks deleting its group"
kv kvprod GET "/secrets/db-password?$KVA"
expect 200 "locks do not apply to the data plane"
arm PUT "$RGB/providers/Microsoft.Authorization/locks/bad?api-version=2020-05-01" -d '{"properties":{"level":"Sometimes"}}'
expect 400 LockLevelRequired "invalid lock level"
arm GET "/subscriptions/$S/providers/Microsoft.Authorization/locks?api-version=2020-05-01"
check "subscription-level list shows both locks" eq "$(jbody '.value|length')" 2
arm POST "$SA/providers/Microsoft.Authorization/locks/x?api-version=2020-05-01"
expect 405 "locks accept no POST"
arm PUT "$SA/providers/Microsoft.Authorization/locks/ro-sa?api-version=2020-05-01" -d '{"properties":{"level":"ReadOnly"}}'
arm POST "$SA/listKeys?$V"
expect 409 ScopeLocked "ReadOnly blocks POST actions such as listKeys"
arm DELETE "$SA/providers/Microsoft.Authorization/locks/ro-sa?api-version=2020-05-01"
expect 200 "an Owner can delete a lock"
arm POST "$SA/listKeys?$V"
expect 200 "listKeys works once the lock is gone"
arm DELETE "$VAULT/providers/Microsoft.Authorization/locks/ro?api-version=2020-05-01"
expect 200 "delete the vault lock"
arm DELETE "$VAULT/providers/Microsoft.Authorization/locks/ro?api-version=2020-05-01"
expect 204 "deleting a missing lock answers 204"
arm DELETE "$RGB/providers/Microsoft.Authorization/locks/keep-backups?api-version=2020-05-01"
expect 200 "remove the group lock (the rest tests the other protections alone)"
arm GET "$RGB/providers/Microsoft.Authorization/locks?api-version=2020-05-01"
check "no locks left on the backup group" eq "$(jbody '.value|length')" 0

echo "== immutability: unlocked policy"
blob DELETE "/stbackup/unlocked/u.bin"
expect 409 BlobImmutableDueToPolicy "unlocked policy still protects blobs"
blob PUT "/stbackup/unlocked/u.bin" -H 'x-ms-blob-type: BlockBlob' --data-binary 'overwrite'
expect 409 BlobImmutableDueToPolicy "unlocked policy refuses overwrite"
blob PUT "/stbackup/unlocked/new.bin" -H 'x-ms-blob-type: BlockBlob' --data-binary 'fresh'
expect 201 "new blobs can be written into a WORM container"
P_UN=$CONT/unlocked/immutabilityPolicies/default
arm GET "$P_UN?$V"
ET=$(jbody .etag)
check "unlocked state" eq "$(jbody .properties.state)" Unlocked
arm PUT "$P_UN?$V" -H "If-Match: $ET" -d '{"properties":{"immutabilityPeriodSinceCreationInDays":10}}'
expect 200 "an unlocked policy can be shortened"
ET=$(jbody .etag)
arm PUT "$P_UN?$V" -d '{"properties":{"immutabilityPeriodSinceCreationInDays":0}}'
expect 400 InvalidImmutabilityPeriod "period 0 refused"
arm DELETE "$P_UN?$V"
expect 400 MissingRequiredHeader "policy delete needs If-Match"
arm DELETE "$P_UN?$V" -H 'If-Match: "stale"'
expect 412 PreconditionFailed "policy delete with a stale ETag"
arm DELETE "$P_UN?$V" -H "If-Match: $ET"
expect 200 "an unlocked policy can be deleted"
check "deleted policy reports period 0" eq "$(jbody .properties.immutabilityPeriodSinceCreationInDays)" 0
blob DELETE "/stbackup/unlocked/u.bin"
expect 202 "blob deletable once the unlocked policy is gone"

echo "== immutability: locking and a locked policy"
arm PUT "$CONT/vault2?$V" -d '{"properties":{}}'
arm PUT "$CONT/vault2/immutabilityPolicies/default?$V" -d '{"properties":{"immutabilityPeriodSinceCreationInDays":2}}'
expect 201 "create a policy"
ET=$(jbody .etag)
blob PUT "/stbackup/vault2/b.bin" -H 'x-ms-blob-type: BlockBlob' --data-binary 'data'
arm POST "$CONT/vault2/immutabilityPolicies/default/lock?$V"
expect 400 MissingRequiredHeader "lock needs If-Match"
arm POST "$CONT/vault2/immutabilityPolicies/default/lock?$V" -H 'If-Match: "stale"'
expect 412 PreconditionFailed "lock with a stale ETag"
arm POST "$CONT/vault2/immutabilityPolicies/default/lock?$V" -H "If-Match: $ET"
expect 200 "lock with the right ETag"
check "state Locked" eq "$(jbody .properties.state)" Locked
ET=$(jbody .etag)
arm GET "$CONT/vault2?$V"
check "container shows the locked policy" eq "$(jbody .properties.immutabilityPolicy.properties.state)" Locked
arm PUT "$CONT/vault2/immutabilityPolicies/default?$V" -H "If-Match: $ET" -d '{"properties":{"immutabilityPeriodSinceCreationInDays":1}}'
expect 409 ImmutabilityPolicyOperationNotAllowed "a locked policy cannot be rewritten"
arm POST "$CONT/vault2/immutabilityPolicies/default/extend?$V" -H "If-Match: $ET" -d '{"properties":{"immutabilityPeriodSinceCreationInDays":1}}'
expect 409 ImmutabilityPolicyOperationNotAllowed "a locked policy cannot be shortened"
arm DELETE "$CONT/vault2/immutabilityPolicies/default?$V" -H "If-Match: $ET"
expect 409 ImmutabilityPolicyOperationNotAllowed "a locked policy cannot be deleted"
arm POST "$CONT/vault2/immutabilityPolicies/default/extend?$V" -H "If-Match: $ET" -d '{"properties":{"immutabilityPeriodSinceCreationInDays":3}}'
expect 200 "a locked policy can be extended"
ET=$(jbody .etag)
arm POST "$CONT/vault2/immutabilityPolicies/default/lock?$V" -H "If-Match: $ET"
expect 409 ImmutabilityPolicyOperationNotAllowed "locking twice"
blob DELETE "/stbackup/vault2/b.bin"
expect 409 BlobImmutableDueToPolicy "blob under a locked policy cannot be deleted"
blob PUT "/stbackup/vault2/b.bin?comp=block&blockid=YQ==" --data-binary 'x'
expect 201 "staging a block is allowed"
blob PUT "/stbackup/vault2/b.bin?comp=blocklist" --data-binary '<?xml version="1.0"?><BlockList><Latest>YQ==</Latest></BlockList>'
expect 409 BlobImmutableDueToPolicy "committing over a locked blob is refused"
arm DELETE "$CONT/vault2?$V"
expect 409 ContainerImmutabilityPolicyLocked "a locked container with blobs cannot be deleted (ARM)"
blob DELETE "/stbackup/vault2?restype=container"
expect 409 ContainerImmutabilityPolicyLocked "a locked container cannot be deleted (data plane)"
arm DELETE "$SA?$V"
expect 409 AccountProtectedFromDeletion "the account cannot be deleted"
ctl POST /clock/advance '{"seconds": 172800}'
tokens
blob DELETE "/stbackup/vault2/b.bin"
expect 409 BlobImmutableDueToPolicy "still protected after 2 of 3 days"
ctl POST /clock/advance '{"seconds": 86401}'
tokens
blob PUT "/stbackup/vault2/b.bin" -H 'x-ms-blob-type: BlockBlob' --data-binary 'over'
expect 201 "overwrite allowed once retention expired"
ctl POST /clock/advance '{"seconds": 259201}'
tokens
blob DELETE "/stbackup/vault2/b.bin"
expect 202 "delete allowed once retention expired"

echo "== legal hold"
blob DELETE "/stbackup/held/h.bin"
expect 409 BlobImmutableDueToLegalHold "legal hold blocks delete"
blob PUT "/stbackup/held/h.bin" -H 'x-ms-blob-type: BlockBlob' --data-binary 'x'
expect 409 BlobImmutableDueToLegalHold "legal hold blocks overwrite"
arm DELETE "$CONT/held?$V"
expect 409 ContainerHasLegalHold "legal hold blocks container delete"
arm POST "$CONT/held/setLegalHold?$V" -d '{"tags":["case43"]}'
expect 200 "add a second legal hold tag"
check "two tags" eq "$(jbody '.tags|length')" 2
arm POST "$CONT/held/clearLegalHold?$V" -d '{"tags":["case42"]}'
check "still held by case43" eq "$(jbody .hasLegalHold)" true
blob DELETE "/stbackup/held/h.bin"
expect 409 BlobImmutableDueToLegalHold "still held"
arm POST "$CONT/held/clearLegalHold?$V" -d '{"tags":["case43"]}'
check "no hold left" eq "$(jbody .hasLegalHold)" false
arm POST "$CONT/held/setLegalHold?$V" -d '{}'
expect 400 InvalidLegalHoldTags "legal hold needs tags"
blob DELETE "/stbackup/held/h.bin"
expect 202 "delete allowed once the holds are cleared"

echo "== blob and container soft delete"
blob DELETE "/stbackup/plain/p.bin"
expect 202 "delete a plain blob"
check "soft delete (not permanent)" eq "$(header x-ms-delete-type-permanent)" false
blob GET "/stbackup/plain/p.bin"
expect 404 BlobNotFound "deleted blob is gone"
blob GET "/stbackup/plain?restype=container&comp=list&include=deleted"
check "listed as deleted" grep -q '<Deleted>true</Deleted>' "$WORK/body"
blob PUT "/stbackup/plain/p.bin?comp=undelete"
expect 200 "undelete"
blob GET "/stbackup/plain/p.bin"
check "content back after undelete" eq "$(body)" plain
arm DELETE "$CONT/plain?$V"
expect 200 "delete a container"
blob GET "/stbackup?comp=list&include=deleted"
VER=$(grep -o '<Name>plain</Name><Deleted>true</Deleted><Version>[0-9]*' "$WORK/body" | sed 's/.*<Version>//')
check "deleted container listed with a version" test -n "$VER"
blob PUT "/stbackup/plain?restype=container&comp=undelete" -H "x-ms-deleted-container-name: plain" -H "x-ms-deleted-container-version: $VER"
expect 201 "restore the container"
blob GET "/stbackup/plain/p.bin"
check "blob back with its container" eq "$(body)" plain
ctl POST /clock/advance '{"seconds": 691200}'
tokens
blob DELETE "/stbackup/plain/p.bin"
blob PUT "/stbackup/plain/p.bin?comp=undelete"
expect 200 "undelete within retention"
blob DELETE "/stbackup/plain/p.bin"
ctl POST /clock/advance '{"seconds": 700000}'
tokens
blob PUT "/stbackup/plain/p.bin?comp=undelete"
expect 404 BlobNotFound "soft-deleted blob purged after retention"

echo "== Key Vault soft delete and purge protection"
kv kvprod DELETE "/secrets/db-password?$KVA"
expect 200 "delete a secret"
check "recoveryId returned" test -n "$(jbody .recoveryId)"
kv kvprod GET "/secrets/db-password?$KVA"
expect 404 SecretNotFound "deleted secret not readable"
kv kvprod PUT "/secrets/db-password?$KVA" -d '{"value":"new"}'
expect 409 Conflict "cannot reuse a soft-deleted name"
kv kvprod GET "/deletedsecrets?$KVA"
check "listed in deletedsecrets" eq "$(jbody '.value[0].recoveryId|test("deletedsecrets/db-password")')" true
kv kvprod DELETE "/deletedsecrets/db-password?$KVA"
expect 403 Forbidden "purge refused under purge protection"
kv kvprod POST "/deletedsecrets/db-password/recover?$KVA"
expect 200 "recover"
kv kvprod GET "/secrets/db-password?$KVA"
check "value back after recover" eq "$(jbody .value)" hunter2
kv kvprod DELETE "/keys/wrap?$KVA"
kv kvprod DELETE "/deletedkeys/wrap?$KVA"
expect 403 Forbidden "key purge refused under purge protection"
kv kvprod POST "/deletedkeys/wrap/recover?$KVA"
expect 200 "recover a key"
kv kvweak DELETE "/secrets/weak-secret?$KVA"
expect 200 "delete in a vault without soft delete"
check "no recoveryId without soft delete" eq "$(jbody '.recoveryId // "none"')" none
kv kvweak GET "/deletedsecrets/weak-secret?$KVA"
expect 404 SecretNotFound "gone for good without soft delete"

arm PUT "$VAULT?api-version=2023-07-01" -d '{"location":"westeurope","properties":{"enableSoftDelete":true,"softDeleteRetentionInDays":7,"enablePurgeProtection":false}}'
expect 400 BadRequest "purge protection cannot be turned off"
arm PUT "$VAULT?api-version=2023-07-01" -d '{"location":"westeurope","properties":{"enableSoftDelete":false,"softDeleteRetentionInDays":7,"enablePurgeProtection":true}}'
expect 400 BadRequest "soft delete cannot be turned off"
arm DELETE "$VAULT?api-version=2023-07-01"
expect 200 "delete the vault (soft)"
kv kvprod GET "/secrets?$KVA"
expect 404 VaultNotFound "a deleted vault has no data plane"
arm GET "/subscriptions/$S/providers/Microsoft.KeyVault/deletedVaults?api-version=2023-07-01"
check "vault listed as deleted" eq "$(jbody '.value[0].name')" kvprod
DV=$(jbody '.value[0].id')
arm POST "$DV/purge?api-version=2023-07-01"
expect 409 OperationNotAllowed "vault purge refused under purge protection"
arm PUT "$VAULT?api-version=2023-07-01" -d '{"location":"westeurope","properties":{}}'
expect 409 ConflictError "re-creating a soft-deleted vault name"
arm PUT "$VAULT?api-version=2023-07-01" -d '{"location":"westeurope","properties":{"createMode":"recover"}}'
expect 201 "recover the vault"
kv kvprod GET "/secrets/db-password?$KVA"
check "secrets survive vault delete + recover" eq "$(jbody .value)" hunter2

arm DELETE "$RGA/providers/Microsoft.KeyVault/vaults/kvweak?api-version=2023-07-01"
expect 200 "delete a vault without soft delete"
arm GET "/subscriptions/$S/providers/Microsoft.KeyVault/deletedVaults?api-version=2023-07-01"
check "no deleted-vault entry without soft delete" eq "$(jbody '[.value[]|select(.name=="kvweak")]|length')" 0
arm PUT "$RGA/providers/Microsoft.KeyVault/vaults/kvtmp?api-version=2023-07-01" -d '{"location":"westeurope","properties":{"softDeleteRetentionInDays":7}}'
expect 201 "create a vault without purge protection"
arm DELETE "$RGA/providers/Microsoft.KeyVault/vaults/kvtmp?api-version=2023-07-01"
arm GET "/subscriptions/$S/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kvtmp?api-version=2023-07-01"
expect 200 "get a deleted vault"
arm POST "/subscriptions/$S/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kvtmp/purge?api-version=2023-07-01"
expect 202 "purge allowed without purge protection"
arm GET "/subscriptions/$S/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kvtmp?api-version=2023-07-01"
expect 404 DeletedVaultNotFound "purged vault is gone"
arm PUT "$RGA/providers/Microsoft.KeyVault/vaults/kvtmp2?api-version=2023-07-01" -d '{"location":"westeurope","properties":{"softDeleteRetentionInDays":7}}'
arm DELETE "$RGA/providers/Microsoft.KeyVault/vaults/kvtmp2?api-version=2023-07-01"
ctl POST /clock/advance '{"seconds": 600000}'
tokens
arm GET "/subscriptions/$S/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kvtmp2?api-version=2023-07-01"
check "deleted vault still there before its purge date" eq "$STATUS" 200
ctl POST /clock/advance '{"seconds": 5000}'
tokens
arm GET "/subscriptions/$S/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kvtmp2?api-version=2023-07-01"
expect 404 DeletedVaultNotFound "deleted vault purged at its scheduled date"
