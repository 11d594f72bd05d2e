# stores.sh - the stores of a fleet's build cache, for the cache tests.
# Source after test-lib.sh.
#
# Debian's docker-registry (the distribution registry) and nginx (its dav
# module: PUT) are downloaded with apt-get download and unpacked into the
# test cache (never installed), keyed by package and version:
#   $STORE_CACHE/PACKAGE-VERSION/root/usr/...
# Each runs on 127.0.0.1 as a child of the test, with TLS from a CA the
# test makes, and is killed when the test ends (a watcher kills it even
# when the test itself is killed).
#
#   store_tool PACKAGE PATH      print the unpacked PATH of PACKAGE's candidate
#   store_ca DIR                 DIR/ca.crt and a server pair for 127.0.0.1
#   start_registry DIR USER PW [token]
#                                the registry, htpasswd auth, or with "token"
#                                a token service (lib/token-server.py) that
#                                takes USER:PW: REG_PORT, REG_PID
#   start_nginx DIR              nginx, PUT/GET/HEAD below DIR/data: NGX_PORT, NGX_PID
#   stop_store PID               kill one and wait until it is gone

STORE_CACHE=${KBUILDD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kbuildd-test}
STORE_PIDS=$TRASH/.store-pids
: >"$STORE_PIDS"

store_tool () {
	_st_ver=$(apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
	case $_st_ver in
	''|'(none)') echo "store_tool: apt knows no package $1" >&2; return 1 ;;
	esac
	_st_dir=$STORE_CACHE/$1-$_st_ver
	if ! [ -f "$_st_dir/.complete" ]; then
		rm -rf "$_st_dir.part" && mkdir -p "$_st_dir.part/debs" "$_st_dir.part/root" &&
		(cd "$_st_dir.part/debs" && apt-get download "$1=$_st_ver") \
			>"$_st_dir.part/download.log" 2>&1 || {
			cat "$_st_dir.part/download.log" >&2
			return 1
		}
		dpkg-deb -x "$_st_dir.part"/debs/*.deb "$_st_dir.part/root" &&
		rm -rf "$_st_dir.part/debs" "$_st_dir" && touch "$_st_dir.part/.complete" &&
		mv "$_st_dir.part" "$_st_dir" || return 1
	fi
	[ -x "$_st_dir/root/$2" ] || { echo "store_tool: $1 has no $2" >&2; return 1; }
	echo "$_st_dir/root/$2"
}

store_ca () {
	mkdir -p "$1" &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/ca.key" -out "$1/ca.crt" \
		-days 2 -subj "/CN=kbuildd test store CA" 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -keyout "$1/server.key" -out "$1/server.csr" \
		-subj "/CN=127.0.0.1" 2>/dev/null &&
	echo "subjectAltName=IP:127.0.0.1" >"$1/server.ext" &&
	openssl x509 -req -in "$1/server.csr" -CA "$1/ca.crt" -CAkey "$1/ca.key" \
		-CAcreateserial -out "$1/server.crt" -days 2 -extfile "$1/server.ext" 2>/dev/null
}

free_port () {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# store_run_ NAME LOG CMD...: start CMD in the background, watched; its pid in STORE_PID
store_run_ () {
	_sr_log=$2
	shift 2
	"$@" </dev/null >>"$_sr_log" 2>&1 &
	STORE_PID=$!
	echo "$STORE_PID" >>"$STORE_PIDS"
	# a test killed outright leaves no server behind
	(
		while kill -0 $$ 2>/dev/null && kill -0 "$STORE_PID" 2>/dev/null; do sleep 1; done
		kill "$STORE_PID" 2>/dev/null
	) </dev/null >/dev/null 2>&1 &
}

# store_wait_ URL CA: until the server answers (any status)
store_wait_ () {
	_sw_i=0
	while ! curl -s -o /dev/null --cacert "$2" "$1"; do
		if ! kill -0 "$STORE_PID" 2>/dev/null || [ "$_sw_i" -ge 100 ]; then
			return 1
		fi
		sleep 0.1
		_sw_i=$((_sw_i + 1))
	done
}

# registry_auth_ DIR USER PW MODE: the auth: part of the registry's config
registry_auth_ () {
	if [ "$4" != token ]; then
		# htpasswd wants bcrypt, which glibc's crypt makes
		perl -e 'print "$ARGV[0]:", crypt($ARGV[1], q{$2b$05$kbuilddteststoresaltuu}), "\n"' \
			"$2" "$3" >"$1/htpasswd" || return 1
		printf 'auth:\n  htpasswd:\n    realm: kbuildd-test\n    path: %s\n' "$1/htpasswd"
		return
	fi
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/token.key" -out "$1/token.crt" \
		-days 2 -subj "/CN=kbuildd test token issuer" 2>/dev/null || return 1
	rm -f "$1/token.port"
	python3 "$TEST_DIRECTORY/lib/token-server.py" "$1/token.port" \
		--cert "$STORE_CA/server.crt" --key "$STORE_CA/server.key" \
		--sign-cert "$1/token.crt" --sign-key "$1/token.key" --user "$2" --password "$3" \
		--issuer kbuildd-test-issuer --log "$1/token.log" --parent $$ \
		</dev/null >>"$1/token.err" 2>&1 &
	echo $! >>"$STORE_PIDS"
	_ra_i=0
	while ! [ -s "$1/token.port" ]; do
		[ "$_ra_i" -lt 100 ] || { cat "$1/token.err" >&2; return 1; }
		sleep 0.1
		_ra_i=$((_ra_i + 1))
	done
	printf 'auth:\n  token:\n    realm: https://127.0.0.1:%s/token\n' "$(cat "$1/token.port")"
	printf '    service: kbuildd-test-registry\n    issuer: kbuildd-test-issuer\n'
	printf '    rootcertbundle: %s\n' "$1/token.crt"
}

start_registry () {
	_rg_bin=$(store_tool docker-registry usr/bin/docker-registry) || return 1
	mkdir -p "$1/data" &&
	_rg_auth=$(registry_auth_ "$1" "$2" "$3" "${4-}") || return 1
	for _rg_try in 1 2 3; do
		REG_PORT=$(free_port)
		cat >"$1/config.yml" <<-EOF
		version: 0.1
		log:
		  level: warn
		storage:
		  filesystem:
		    rootdirectory: $1/data
		  delete:
		    enabled: true
		$_rg_auth
		http:
		  addr: 127.0.0.1:$REG_PORT
		  secret: kbuildd-test
		  tls:
		    certificate: $STORE_CA/server.crt
		    key: $STORE_CA/server.key
		EOF
		store_run_ registry "$1/registry.log" "$_rg_bin" serve "$1/config.yml"
		REG_PID=$STORE_PID
		store_wait_ "https://127.0.0.1:$REG_PORT/v2/" "$STORE_CA/ca.crt" && return 0
		stop_store "$REG_PID"
	done
	cat "$1/registry.log" >&2
	return 1
}

start_nginx () {
	_ng_bin=$(store_tool nginx usr/sbin/nginx) || return 1
	mkdir -p "$1/data" "$1/logs" "$1/tmp" || return 1
	for _ng_try in 1 2 3; do
		NGX_PORT=$(free_port)
		cat >"$1/nginx.conf" <<-EOF
		daemon off;
		$( [ "$(id -u)" = 0 ] && echo "user root root;" )
		pid $1/nginx.pid;
		error_log $1/logs/error.log;
		events { worker_connections 64; }
		http {
		  access_log $1/logs/access.log;
		  client_body_temp_path $1/tmp/body;
		  proxy_temp_path $1/tmp/proxy;
		  fastcgi_temp_path $1/tmp/fastcgi;
		  uwsgi_temp_path $1/tmp/uwsgi;
		  scgi_temp_path $1/tmp/scgi;
		  server {
		    listen 127.0.0.1:$NGX_PORT ssl;
		    ssl_certificate $STORE_CA/server.crt;
		    ssl_certificate_key $STORE_CA/server.key;
		    root $1/data;
		    client_max_body_size 0;
		    location / {
		      dav_methods PUT;
		      create_full_put_path on;
		      dav_access user:rw group:r all:r;
		    }
		  }
		}
		EOF
		store_run_ nginx "$1/nginx.out" "$_ng_bin" -c "$1/nginx.conf" -p "$1" \
			-e "$1/logs/error.log"
		NGX_PID=$STORE_PID
		store_wait_ "https://127.0.0.1:$NGX_PORT/" "$STORE_CA/ca.crt" && return 0
		stop_store "$NGX_PID"
	done
	cat "$1/nginx.out" "$1/logs/error.log" >&2
	return 1
}

stop_store () {
	kill "$1" 2>/dev/null || :
	_ss_i=0
	while kill -0 "$1" 2>/dev/null; do
		[ "$_ss_i" -lt 50 ] || { kill -KILL "$1" 2>/dev/null; break; }
		sleep 0.1
		_ss_i=$((_ss_i + 1))
	done
	wait "$1" 2>/dev/null || :
}

stop_all_stores_ () {
	while read -r _sa_pid; do
		kill "$_sa_pid" 2>/dev/null || :
	done <"$STORE_PIDS"
}
trap 'stop_all_stores_; test_cleanup_trash_' EXIT

STORE_CA=$TRASH/store-ca
