#!/usr/bin/env bash
# Azure DevOps: projects and repositories over the REST API (7.1), real git
# repositories over smart HTTP (git clone --mirror / push --mirror through
# git http-backend), the recycle bin (delete, restore, purge), inventory
# checksums of refs, auth (Entra bearer, PAT), and the attacker.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
command -v git >/dev/null || { echo "azsim_devops needs git" >&2; exit 1; }

cat >"$WORK/estate.yaml" <<'YAML'
tenant: 11111111-1111-1111-1111-111111111111
identity:
  clients:
    - {client_id: app-secret, secret: s3cret}
devops:
  pats: [pat-0123456789]
  organizations:
    - name: contoso
      projects:
        - name: app
          description: the application
          repos:
            - name: web
              files: {"README.md": "hello\n", "src/main.c": "int main(void) { return 0; }\n"}
              commits: 3
            - name: empty
        - name: infra
          repos:
            - name: tf
              files: {"main.tf": "# nothing yet\n"}
YAML
azsim_start "$WORK/estate.yaml"
DEVOPS=499b84ac-1321-427f-aa17-267ca6975798
DT=$(token $DEVOPS)
tokens
dv() { # dv METHOD PATH [curl args...]
  local m=$1 u=$2
  shift 2
  _curl -X "$m" -H "Authorization: Bearer $DT" -H 'Content-Type: application/json' "$B$u" "$@"
}
gitc() { # git with the CA and the bearer token, bounded
  GIT_SSL_CAINFO="$CA" GIT_TERMINAL_PROMPT=0 timeout 60 git -c http.extraHeader="Authorization: Bearer $DT" "$@"
}
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid \
  GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid

# ---- auth ----
_curl "$B/contoso/_apis/projects?api-version=7.1"
expect 401 "no credentials"
check "typeKey UnauthorizedRequestException" eq "$(jbody .typeKey)" UnauthorizedRequestException
check "message is TF400813" grep -q 'TF400813' "$WORK/body"
check "Basic challenge" grep -qi '^WWW-Authenticate: Basic realm=' "$WORK/hdrs"
check "Bearer challenge" grep -qi '^WWW-Authenticate: Bearer ' "$WORK/hdrs"
_curl -H "Authorization: Bearer $STT" "$B/contoso/_apis/projects?api-version=7.1"
expect 401 "a storage token is refused"
_curl -u x:wrong "$B/contoso/_apis/projects?api-version=7.1"
expect 401 "a wrong PAT is refused"
_curl -u anyone:pat-0123456789 "$B/contoso/_apis/projects?api-version=7.1"
expect 200 "Basic with the estate's PAT"
_curl -H "Authorization: Bearer $ARM" "$B/contoso/_apis/projects?api-version=7.1"
expect 200 "an ARM token is accepted"

# ---- projects and repositories ----
dv GET "/contoso/_apis/projects?api-version=7.1"
expect 200 "list projects"
check "two projects" eq "$(jbody .count)" 2
check "project names" eq "$(jbody '[.value[].name]|sort|join(",")')" "app,infra"
check "project state wellFormed" eq "$(jbody '.value[0].state')" wellFormed
PID=$(jbody '.value[]|select(.name=="app")|.id')
dv GET "/contoso/_apis/projects/$PID?api-version=7.1"
expect 200 "get a project by id"
check "by id" eq "$(jbody .name)" app
dv GET "/contoso/nosuch/_apis/git/repositories?api-version=7.1"
expect 404 "unknown project"
check "TF200016" grep -q TF200016 "$WORK/body"
dv GET "/contoso/app/_apis/git/repositories?api-version=7.1"
expect 200 "list repositories"
check "two repositories in app" eq "$(jbody .count)" 2
check "remoteUrl" eq "$(jbody '.value[]|select(.name=="web")|.remoteUrl')" "$B/contoso/app/_git/web"
check "no sshUrl" eq "$(jbody '.value[0]|has("sshUrl")')" false
check "defaultBranch" eq "$(jbody '.value[]|select(.name=="web")|.defaultBranch')" refs/heads/main
check "size > 0" test "$(jbody '.value[]|select(.name=="web")|.size')" -gt 0
check "project inside" eq "$(jbody '.value[0].project.id')" "$PID"
check "an empty repository has no defaultBranch" eq "$(jbody '.value[]|select(.name=="empty")|has("defaultBranch")')" false
RID=$(jbody '.value[]|select(.name=="web")|.id')
dv GET "/contoso/_apis/git/repositories?api-version=7.1"
expect 200 "organisation-wide repository list"
check "three repositories" eq "$(jbody .count)" 3
dv GET "/contoso/app/_apis/git/repositories/web?api-version=7.1"
expect 200 "get a repository by name"
check "same id" eq "$(jbody .id)" "$RID"
dv GET "/contoso/app/_apis/git/repositories/$RID?api-version=7.1"
expect 200 "get a repository by id"
dv GET "/contoso/app/_apis/git/repositories/nosuch?api-version=7.1"
expect 404 "unknown repository"
check "TF401019 GitRepositoryNotFoundException" eq "$(jbody .typeKey)" GitRepositoryNotFoundException

# ---- git over smart HTTP ----
gitc clone -q --mirror "$B/contoso/app/_git/web" "$WORK/web.git" 2>"$WORK/git.err"
check "git clone --mirror with the bearer token" test -d "$WORK/web.git/refs"
check "three commits" eq "$(git -C "$WORK/web.git" rev-list --count main)" 3
check "README content" eq "$(git -C "$WORK/web.git" show main:README.md)" hello
GIT_SSL_CAINFO="$CA" GIT_TERMINAL_PROMPT=0 timeout 60 git clone -q --mirror \
  "https://u:pat-0123456789@127.0.0.1:$P/contoso/app/_git/web" "$WORK/web-pat.git" 2>>"$WORK/git.err"
check "git clone --mirror with a PAT (Basic after the 401)" eq \
  "$(git -C "$WORK/web-pat.git" rev-parse main)" "$(git -C "$WORK/web.git" rev-parse main)"
set +e
GIT_SSL_CAINFO="$CA" GIT_TERMINAL_PROMPT=0 timeout 60 git clone -q --mirror "$B/contoso/app/_git/web" "$WORK/anon.git" 2>"$WORK/anon.err"
rc=$?
set -e
check "git clone without credentials fails" test "$rc" -ne 0
_curl "$B/contoso/app/_git/web/info/refs?service=git-upload-pack"
expect 401 "info/refs without credentials"
dv GET "/contoso/app/_git/web/info/refs?service=git-upload-pack"
expect 200 "info/refs advertisement"
check "smart HTTP content type" eq "$(header Content-Type)" application/x-git-upload-pack-advertisement
dv GET "/contoso/app/_git/web/info/refs"
expect 403 "the dumb protocol is not served"
dv GET "/contoso/app/_git/nosuch/info/refs?service=git-upload-pack"
expect 404 "git on an unknown repository"

ctl GET /inventory
INV0=$(jbody .sha256)
REPO0=$(jbody '.items[]|select(.key=="repo:contoso/app/web")|.sha256')
check "inventory lists repositories" eq "$(jbody '[.items[]|select(.kind=="git-repo")]|length')" 3
check "repo checksum is SHA-256 of its refs" eq "$REPO0" \
  "$(git -C "$WORK/web.git" for-each-ref --format='%(objectname) %(refname)' | sha256sum | cut -d' ' -f1)"

git clone -q "$WORK/web.git" "$WORK/work"
echo "a change" >"$WORK/work/CHANGE.md"
git -C "$WORK/work" add CHANGE.md
git -C "$WORK/work" commit -q -m "a change"
git -C "$WORK/work" branch feature
gitc -C "$WORK/work" push -q "$B/contoso/app/_git/web" main feature 2>>"$WORK/git.err"
check "git push over HTTPS" eq "$(gitc ls-remote "$B/contoso/app/_git/web" refs/heads/main | cut -f1)" \
  "$(git -C "$WORK/work" rev-parse main)"
ctl GET /inventory
check "repo checksum changes after a push" test "$(jbody '.items[]|select(.key=="repo:contoso/app/web")|.sha256')" != "$REPO0"
check "inventory checksum changes after a push" test "$(jbody .sha256)" != "$INV0"
dv GET "/contoso/app/_apis/git/repositories/web?api-version=7.1"
check "size grows after a push" test "$(jbody .size)" -gt 0

# push --mirror into a fresh repository (what a restore does)
dv POST "/contoso/app/_apis/git/repositories?api-version=7.1" -d "{\"name\":\"web-restored\",\"project\":{\"id\":\"$PID\"}}"
expect 201 "create a repository"
check "created repository name" eq "$(jbody .name)" web-restored
dv POST "/contoso/app/_apis/git/repositories?api-version=7.1" -d '{"name":"web-restored"}'
expect 409 "create it twice"
check "TF400948" eq "$(jbody .typeKey)" GitRepositoryNameAlreadyExistsException
dv POST "/contoso/app/_apis/git/repositories?api-version=7.1" -d '{"name":"bad/name"}'
expect 400 "invalid repository name"
dv POST "/contoso/app/_apis/git/repositories?api-version=7.1" -d '[1'
expect 400 "malformed body"
gitc -C "$WORK/web.git" push -q --mirror "$B/contoso/app/_git/web-restored" 2>>"$WORK/git.err"
check "git push --mirror into the new repository" eq \
  "$(gitc ls-remote "$B/contoso/app/_git/web-restored" refs/heads/main | cut -f1)" "$(git -C "$WORK/web.git" rev-parse main)"

# ---- recycle bin ----
dv DELETE "/contoso/app/_apis/git/repositories/$RID?api-version=7.1"
expect 204 "delete a repository"
dv GET "/contoso/app/_apis/git/repositories/web?api-version=7.1"
expect 404 "deleted repository is gone from the list"
set +e
gitc ls-remote "$B/contoso/app/_git/web" >/dev/null 2>&1
rc=$?
set -e
check "git on a deleted repository fails" test "$rc" -ne 0
dv GET "/contoso/app/_apis/git/recycleBin/repositories?api-version=7.1-preview.1"
expect 200 "list the recycle bin"
check "web is in the recycle bin" eq "$(jbody '.value[0].id')" "$RID"
check "deletedDate" test -n "$(jbody '.value[0].deletedDate')"
ctl GET /inventory
check "deleted repository is soft-deleted in the inventory" eq \
  "$(jbody '.items[]|select(.key=="repo:contoso/app/web")|.state')" soft-deleted
dv PATCH "/contoso/app/_apis/git/recycleBin/repositories/$RID?api-version=7.1-preview.1" -d '{"deleted": true}'
expect 400 "only deleted:false"
dv PATCH "/contoso/app/_apis/git/recycleBin/repositories/$RID?api-version=7.1-preview.1" -d '{"deleted": false}'
expect 200 "restore from the recycle bin"
check "restored name" eq "$(jbody .name)" web
check "restored content" eq "$(gitc ls-remote "$B/contoso/app/_git/web" refs/heads/feature | cut -f1)" \
  "$(git -C "$WORK/work" rev-parse feature)"
dv DELETE "/contoso/app/_apis/git/repositories/web-restored?api-version=7.1"
expect 204 "delete another"
dv DELETE "/contoso/app/_apis/git/recycleBin/repositories/web-restored?api-version=7.1-preview.1"
expect 204 "purge it from the recycle bin"
dv GET "/contoso/app/_apis/git/recycleBin/repositories?api-version=7.1-preview.1"
check "the recycle bin is empty" eq "$(jbody .count)" 0

# recycle bin retention: 30 days on the virtual clock
dv DELETE "/contoso/infra/_apis/git/repositories/tf?api-version=7.1"
expect 204 "delete tf"
ctl POST /clock/advance '{"seconds": 2592001}'
DT=$(token $DEVOPS)
dv GET "/contoso/infra/_apis/git/recycleBin/repositories?api-version=7.1-preview.1"
check "purged after 30 days" eq "$(jbody .count)" 0

# ---- snapshot of the state keeps repository metadata ----
ctl POST /snapshots/before
expect 201 "snapshot"

# restoring a state snapshot also rolls the refs on disk back
MAIN_BEFORE=$(gitc ls-remote "$B/contoso/app/_git/web" refs/heads/main | cut -f1)
ctl GET /inventory
INV_BEFORE=$(jbody '.items[]|select(.key=="repo:contoso/app/web")|.sha256')
echo "later" >"$WORK/work/LATER.md"
git -C "$WORK/work" add LATER.md
git -C "$WORK/work" commit -q -m later
gitc -C "$WORK/work" push -q "$B/contoso/app/_git/web" main refs/heads/main:refs/heads/extra 2>>"$WORK/git.err"
check "pushed a later commit" eq "$(gitc ls-remote "$B/contoso/app/_git/web" refs/heads/main | cut -f1)" \
  "$(git -C "$WORK/work" rev-parse main)"
ctl POST /snapshots/before/restore
expect 204 "restore the snapshot"
check "main is back at the snapshot's commit" eq "$(gitc ls-remote "$B/contoso/app/_git/web" refs/heads/main | cut -f1)" "$MAIN_BEFORE"
check "a branch created later is gone" eq "$(gitc ls-remote "$B/contoso/app/_git/web" refs/heads/extra | wc -l)" 0
ctl GET /inventory
check "inventory checksum equals the snapshot's" eq "$(jbody '.items[]|select(.key=="repo:contoso/app/web")|.sha256')" "$INV_BEFORE"

# ---- the attacker: deletes and (as an Owner) purges repositories ----
ctl POST /attack '{"role": "Contributor"}'
expect 200 "attack as a Contributor"
check "repositories recoverable after a Contributor" eq "$(jbody '[.recoverable[]|select(startswith("repo:"))]|length')" 2
check "attacker deleted repositories" test "$(jbody '[.actions[]|select(.action=="delete-repo" and .allowed)]|length')" -ge 2
ctl POST /snapshots/before/restore
expect 204 "restore the snapshot"
ctl POST /attack '{"role": "Owner"}'
expect 200 "attack as an Owner"
check "repositories lost to an Owner" eq "$(jbody '[.lost[]|select(startswith("repo:"))]|length')" 2
check "purges allowed" test "$(jbody '[.actions[]|select(.action=="purge-repo" and .allowed)]|length')" -ge 2
dv GET "/contoso/app/_apis/git/recycleBin/repositories?api-version=7.1-preview.1"
check "nothing left in the recycle bin" eq "$(jbody .count)" 0
ctl POST /snapshots/before/restore
dv GET "/contoso/app/_apis/git/repositories?api-version=7.1"
check "a state snapshot brings the repositories back" eq "$(jbody .count)" 2
check "with their content" eq "$(gitc ls-remote "$B/contoso/app/_git/web" refs/heads/main | cut -f1)" "$MAIN_BEFORE"

# ---- the data directory ----
azsim_stop
DD=$WORK/data
rm -f "$WORK/ready.json"
"$AZSIM" serve --estate "$WORK/estate.yaml" --ready-file "$WORK/ready.json" --tls-dir "$WORK/tls" --data-dir "$DD" \
  >"$WORK/azsim.log" 2>&1 &
AZSIM_PID=$!
for _ in $(seq 400); do [ -s "$WORK/ready.json" ] && break; sleep 0.05; done
check "--data-dir holds the bare repositories" test "$(find "$DD/devops" -maxdepth 1 -name '*.git' | wc -l)" -eq 3
azsim_stop
check "--data-dir is kept at shutdown" test -d "$DD/devops"
