#!/usr/bin/env bash
# Azure SQL for drills: table row checksums in the inventory, ransomware
# (POST /encrypt), point-in-time restore to before it, dropped-database
# restore, retention window, and restorableDroppedDatabases being read-only.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
azsim_start
tokens
SRV=$RGA/providers/Microsoft.Sql/servers/sqlprod
DB=$SRV/databases/orders
LDB=$(echo "$DB" | tr 'A-Z' 'a-z')
A=api-version=2021-11-01

sum_of() { # sum_of KEY -> sha256 of an inventory item
  ctl GET /inventory
  jbody ".items[]|select(.key==\"$1\")|.sha256"
}
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

S0=$(sum_of "sql:$LDB/orders")
check "orders table in the inventory" test -n "$S0"
check "row count exported" eq "$(jbody ".items[]|select(.key==\"sql:$LDB/orders\")|.rows")" 500
ctl GET /clock
T_BEFORE=$(jbody '.now|floor')

ctl POST /clock/advance '{"seconds": 3600}'
tokens
ctl POST /encrypt
expect 200 "ransomware encrypts disks and tables"
check "two tables encrypted" eq "$(jbody .sql_tables)" 2
S1=$(sum_of "sql:$LDB/orders")
check "the table changed" test "$S1" != "$S0"
sleep 1.1
ctl GET /clock
T_AFTER=$(jbody '.now|floor')

arm PUT "$SRV/databases/orders-pitr?$A" -d '{"location":"westeurope","properties":{"createMode":"PointInTimeRestore","sourceDatabaseId":"'"$DB"'","restorePointInTime":"'"$(iso "$T_BEFORE")"'"}}'
expect 201 "point-in-time restore to before the attack"
check "restored table equals the pre-attack checksum" eq "$(sum_of "sql:${LDB}-pitr/orders")" "$S0"
arm PUT "$SRV/databases/orders-now?$A" -d '{"location":"westeurope","properties":{"createMode":"PointInTimeRestore","sourceDatabaseId":"'"$DB"'","restorePointInTime":"'"$(iso "$T_AFTER")"'"}}'
expect 201 "point-in-time restore to after the attack"
check "restoring after the attack gives the encrypted data" eq "$(sum_of "sql:${LDB}-now/orders")" "$S1"
arm PUT "$SRV/databases/x1?$A" -d '{"location":"westeurope","properties":{"createMode":"PointInTimeRestore","sourceDatabaseId":"'"$DB"'","restorePointInTime":"'"$(iso $((T_BEFORE + 999999)))"'"}}'
expect 400 InvalidParameterValue "restore point in the future"
arm PUT "$SRV/databases/x2?$A" -d '{"location":"westeurope","properties":{"createMode":"PointInTimeRestore","sourceDatabaseId":"'"$SRV"'/databases/none","restorePointInTime":"'"$(iso "$T_BEFORE")"'"}}'
expect 404 SourceDatabaseNotFound "unknown source"
arm PUT "$SRV/databases/x3?$A" -d '{"location":"westeurope","properties":{"createMode":"PointInTimeRestore"}}'
expect 400 InvalidParameterValue "PITR without a source"
arm PUT "$SRV/databases/copy?$A" -d '{"location":"westeurope","properties":{"createMode":"Copy","sourceDatabaseId":"'"$SRV"'/databases/orders-pitr"}}'
expect 201 "database copy"
check "copy has the source's data" eq "$(sum_of "sql:$(echo "$SRV" | tr 'A-Z' 'a-z')/databases/copy/orders")" "$S0"

# dropped database restore
arm DELETE "$SRV/databases/orders-pitr?$A"
expect 200 "drop a database"
arm GET "$SRV/restorableDroppedDatabases?$A"
expect 200 "list restorable dropped databases"
DROPPED=$(jbody '.value[0].id')
check "dropped database listed" grep -q 'restorableDroppedDatabases/orders-pitr,' <<<"$DROPPED"
ctl GET /inventory
check "dropped tables count as restorable" eq "$(jbody ".items[]|select(.key==\"sql:${LDB}-pitr/orders\")|.state")" soft-deleted
arm DELETE "$DROPPED?$A"
expect 405 MethodNotAllowed "restorable dropped databases cannot be deleted"
arm PUT "$SRV/databases/orders-back?$A" -d '{"location":"westeurope","properties":{"createMode":"Restore","sourceDatabaseId":"'"$DROPPED"'"}}'
expect 201 "restore the dropped database"
check "restored dropped database has the pre-attack data" eq "$(sum_of "sql:${LDB}-back/orders")" "$S0"
arm PUT "$SRV/databases/x4?$A" -d '{"location":"westeurope","properties":{"createMode":"Restore","sourceDatabaseId":"'"$DB"'"}}'
expect 400 InvalidParameterValue "Restore needs a dropped database"

# retention: 7 days of restore points
ctl POST /clock/advance '{"seconds": 691200}'
tokens
arm PUT "$SRV/databases/x5?$A" -d '{"location":"westeurope","properties":{"createMode":"PointInTimeRestore","sourceDatabaseId":"'"$DB"'","restorePointInTime":"'"$(iso "$T_BEFORE")"'"}}'
expect 400 InvalidParameterValue "restore point older than the retention"

# deleting the server loses its dropped databases
arm DELETE "$SRV?$A"
arm GET "$SRV/restorableDroppedDatabases?$A"
expect 404 ResourceNotFound "the server and its dropped databases are gone"
ctl GET /inventory
check "no SQL tables left" eq "$(jbody '[.items[]|select(.kind=="sql-table")]|length')" 0
