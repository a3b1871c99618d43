#!/usr/bin/env bash
# test.sh runs every check of the project: gofmt, go vet and the whole test
# suite, on SQLite and on PostgreSQL. It is the one test command of the README,
# and .ci/run ends by calling it.
#
#   scripts/test.sh                      # everything (./...)
#   scripts/test.sh ./store/ ./sbtest/   # only these packages (gofmt and vet too)
#   scripts/test.sh -run TestUser ./store/
#
# Arguments that start with "." are packages; every other argument is handed
# to go test as is (flags and their values).
#
# PostgreSQL: when $SWITCHBOARD_TEST_POSTGRES (a postgres:// DSN of a server on
# which the tests may create and drop databases) is unset and the Debian server
# binaries are installed (/usr/lib/postgresql/*/bin/initdb), the script starts
# a throwaway cluster on 127.0.0.1 and a free port, points the tests at it and
# removes it on exit. PostgreSQL refuses to run as root, so as root the cluster
# runs as the unprivileged user "nobody" (or "sbtest", created when nobody is
# missing). The exit status is go test's.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

pkgs=()
flags=()
for arg in "$@"; do
	case "$arg" in
	.*) pkgs+=("$arg") ;;
	*) flags+=("$arg") ;;
	esac
done
whole_tree=0
if [ ${#pkgs[@]} -eq 0 ]; then
	pkgs=(./...)
	whole_tree=1
fi

pgdir=""
pgctl=""
pguser=""

# as_pguser runs a command as the cluster's owner, from the cluster folder (the
# unprivileged user may not be allowed into the current folder).
as_pguser() {
	if [ -n "$pguser" ]; then
		(cd "$pgdir" && runuser -u "$pguser" -- "$@")
	else
		(cd "$pgdir" && "$@")
	fi
}

stop_postgres() {
	if [ -n "$pgdir" ]; then
		as_pguser "$pgctl" -D "$pgdir/data" -m immediate -w stop >/dev/null 2>&1 || true
		rm -rf "$pgdir"
	fi
}

# port_free reports whether nothing listens on 127.0.0.1:$1.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_postgres() {
	local initdb bindir port attempt
	initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
	bindir=$(dirname "$initdb")
	pgctl="$bindir/pg_ctl"
	if [ "$(id -u)" -eq 0 ]; then
		if id nobody >/dev/null 2>&1; then
			pguser=nobody
		else
			id sbtest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin sbtest
			pguser=sbtest
		fi
		pgdir=$(mktemp -d /tmp/switchboard-pg.XXXXXX)
		chown "$pguser" "$pgdir"
	else
		pgdir=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-pg.XXXXXX")
	fi
	trap stop_postgres EXIT
	as_pguser "$bindir/initdb" -D "$pgdir/data" -A trust -U postgres --encoding=UTF8 --locale=C --no-sync >"$pgdir/initdb.log" 2>&1 || {
		cat "$pgdir/initdb.log" >&2
		return 1
	}
	for attempt in 1 2 3 4 5; do
		port=$((RANDOM % 20000 + 30000))
		port_free "$port" || continue
		if as_pguser "$pgctl" -D "$pgdir/data" -l "$pgdir/postgres.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$pgdir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
			start >/dev/null; then
			export SWITCHBOARD_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
			echo "test.sh: PostgreSQL $(basename "$(dirname "$bindir")") on 127.0.0.1:$port (throwaway cluster in $pgdir)"
			return 0
		fi
	done
	cat "$pgdir/postgres.log" >&2 || true
	echo "test.sh: could not start PostgreSQL" >&2
	return 1
}

if [ -z "${SWITCHBOARD_TEST_POSTGRES:-}" ]; then
	if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
		start_postgres
	else
		echo "test.sh: PostgreSQL server binaries not found and SWITCHBOARD_TEST_POSTGRES unset: the store tests run on SQLite only"
	fi
fi

# gofmt: the tracked files of the whole tree, or the files of the packages given.
if [ "$whole_tree" -eq 1 ]; then
	gofiles=$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')
	[ -n "$gofiles" ] || gofiles=$(find . -name '*.go' -not -path './.git/*')
else
	gofiles=$(for d in $(go list -f '{{.Dir}}' "${pkgs[@]}"); do ls "$d"/*.go 2>/dev/null || true; done)
fi
# shellcheck disable=SC2086 # file names of the repository have no spaces
unformatted=$(gofmt -l $gofiles)
if [ -n "$unformatted" ]; then
	echo "test.sh: these files need gofmt:" >&2
	echo "$unformatted" >&2
	exit 1
fi

go vet "${pkgs[@]}"

log=$(mktemp)
set +e
go test -count=1 -timeout 40m ${flags[@]+"${flags[@]}"} "${pkgs[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -cE '^FAIL[[:space:]]' "$log" || true)
rm -f "$log"
echo "test.sh: $passed packages passed, $failed failed (go test exit status $status)"
exit "$status"
