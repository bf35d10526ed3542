#!/usr/bin/env bash
# Local Apache Kafka for dev, demo and tests: one combined broker+controller in KRaft mode on
# 127.0.0.1, run from the jars of Maven Central (deploy/local/pom.xml), no download of a Kafka
# distribution and no container.
#
# Usage: deploy/local/kafka.sh up|down|status
#
#   up      Fetch the jars when needed (cached, reused while pom.xml is unchanged), format the
#           state dir the first time, start the broker in the background and wait until it is
#           ready. The bootstrap address (127.0.0.1:$KAFKA_PORT) is the only line on stdout;
#           progress goes to stderr. When the broker of this state dir already runs, only
#           prints the address.
#   down    Stop the broker of the state dir (SIGTERM, SIGKILL after 30 s). Quiet success when
#           it does not run.
#   status  Says whether the broker of the state dir runs: exit 0 when it does, 1 otherwise.
#
# Listeners (all on 127.0.0.1):
#   PLAINTEXT       $KAFKA_PORT              (default 9092)
#   SASL_PLAINTEXT  $KAFKA_SASL_PORT         (default KAFKA_PORT+1), SASL/PLAIN,
#                                            users admin/admin-secret and relay/relay-secret
#   SASL_SSL        $KAFKA_SSL_PORT          (default KAFKA_PORT+2), SASL/PLAIN over TLS, the
#                                            same users; no client certificate asked for
#   CONTROLLER      $KAFKA_CONTROLLER_PORT   (default KAFKA_PORT+1000), KRaft quorum only
#
# TLS of the SASL_SSL listener: the first `up` of a state dir makes a CA and a broker
# certificate signed by it (SAN IP:127.0.0.1 and DNS:localhost) in $KAFKA_STATE_DIR/tls/, kept
# for the later starts. Clients trust $KAFKA_STATE_DIR/tls/ca.pem (librdkafka:
# ssl.ca.location); `up` logs its path and `status` prints it. Delete tls/ for new ones.
#
# Other environment:
#   IO_RELAY_CACHE        cache root (default <repo>/.cache); jars in $IO_RELAY_CACHE/kafka/libs
#   KAFKA_STATE_DIR       config, data, log and pid file (default
#                         $IO_RELAY_CACHE/kafka/state-$KAFKA_PORT)
#   KAFKA_HEAP_OPTS       JVM heap options (default "-Xms256m -Xmx512m")
#   KAFKA_START_TIMEOUT   seconds to wait for "Kafka Server started" (default 90)
#   JAVA                  java binary (default $JAVA_HOME/bin/java, else java on the PATH)
#   MVN                   maven binary (default mvn)
#
# Three-node mode, for the chaos tests that kill a broker: KAFKA_NODES=3 (default 1, the mode
# above, unchanged). Three combined broker+controller nodes (node ids 1, 2, 3; a static quorum
# of the three controllers) on 127.0.0.1, PLAINTEXT and CONTROLLER listeners only (no SASL).
# Default replication factor 3 and min.insync.replicas 2, for new topics and the internal ones
# (offsets RF 3; transaction state and share-coordinator state RF 3, min ISR 2).
#
# Usage: KAFKA_NODES=3 deploy/local/kafka.sh up|down|status
#        KAFKA_NODES=3 deploy/local/kafka.sh up-node|down-node|kill-node N
#
#   up         As above, for the three nodes (started together: the quorum needs two). The
#              only line on stdout is the bootstrap list, 127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3.
#   down       Stops every node (SIGTERM, SIGKILL after 30 s).
#   status     One line per node; exit 0 when all three run, 1 otherwise.
#   up-node    Starts node N (1-3) when it does not run and waits until it is ready; prints
#              the bootstrap list.
#   down-node  Stops node N: SIGTERM (controlled shutdown), SIGKILL after 30 s.
#   kill-node  SIGKILL of node N (a crash), waits until it is gone.
#
# Environment of the three-node mode (besides IO_RELAY_CACHE, KAFKA_HEAP_OPTS,
# KAFKA_START_TIMEOUT, JAVA and MVN, as above):
#   KAFKA_PORTS             PLAINTEXT ports of nodes 1,2,3, comma-separated (default
#                           KAFKA_PORT, KAFKA_PORT+1, KAFKA_PORT+2; KAFKA_PORT default 9092)
#   KAFKA_CONTROLLER_PORTS  CONTROLLER ports of nodes 1,2,3 (default the PLAINTEXT ones + 1000)
#   KAFKA_STATE_DIR         default $IO_RELAY_CACHE/kafka/cluster-<port of node 1>; node N has
#                           node-N/ there (server.properties, data, server.log, kafka.pid)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd -P)
POM="$SCRIPT_DIR/pom.xml"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.properties"
READY_LINE='Kafka Server started'
HOST=127.0.0.1

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# Microseconds since the epoch.
now_us() { printf '%s' "${EPOCHREALTIME/[.,]/}"; }

# Seconds since $1 (from now_us), one decimal: "6.2".
elapsed_s() {
	local tenths=$((($(now_us) - $1) / 100000))
	printf '%d.%d' $((tenths / 10)) $((tenths % 10))
}

is_port_number() { [[ $1 =~ ^[0-9]{1,5}$ ]] && (($1 >= 1 && $1 <= 65535)); }

# Canonical absolute path of a directory, created when missing.
abs_dir() {
	mkdir -p -- "$1"
	(cd -- "$1" && pwd -P)
}

configure() {
	KAFKA_PORT=${KAFKA_PORT:-9092}
	is_port_number "$KAFKA_PORT" || die "KAFKA_PORT='$KAFKA_PORT' is not a port number"
	SASL_PORT=${KAFKA_SASL_PORT:-$((KAFKA_PORT + 1))}
	SSL_PORT=${KAFKA_SSL_PORT:-$((KAFKA_PORT + 2))}
	CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1000))}
	is_port_number "$SASL_PORT" || die "KAFKA_SASL_PORT='$SASL_PORT' is not a port number"
	is_port_number "$SSL_PORT" || die "KAFKA_SSL_PORT='$SSL_PORT' is not a port number"
	is_port_number "$CONTROLLER_PORT" ||
		die "KAFKA_CONTROLLER_PORT='$CONTROLLER_PORT' is not a port number"
	local distinct
	distinct=$(printf '%s\n' "$KAFKA_PORT" "$SASL_PORT" "$SSL_PORT" "$CONTROLLER_PORT" | sort -u | wc -l)
	if ((distinct != 4)); then
		die "the ports must differ: KAFKA_PORT=$KAFKA_PORT KAFKA_SASL_PORT=$SASL_PORT KAFKA_SSL_PORT=$SSL_PORT KAFKA_CONTROLLER_PORT=$CONTROLLER_PORT"
	fi

	configure_cache
	STATE_DIR=${KAFKA_STATE_DIR:-$KAFKA_CACHE/state-$KAFKA_PORT}
	# Absolute and canonical when it exists: the path is part of the broker's command line,
	# which is how a pid is recognised as the broker of this state dir.
	if [[ -d $STATE_DIR ]]; then
		STATE_DIR=$(cd -- "$STATE_DIR" && pwd -P)
	fi
	PID_FILE="$STATE_DIR/kafka.pid"
	SERVER_LOG="$STATE_DIR/server.log"
	PROPERTIES="$STATE_DIR/server.properties"
	set_tls_paths
	configure_tools
}

# The TLS files of the SASL_SSL listener, under the state dir (see the header).
set_tls_paths() {
	TLS_DIR="$STATE_DIR/tls"
	CA_CERT="$TLS_DIR/ca.pem"
	KEYSTORE="$TLS_DIR/broker.p12"
	KEYSTORE_PASSWORD_FILE="$TLS_DIR/keystore.password"
}

configure_cache() {
	CACHE_ROOT=${IO_RELAY_CACHE:-$REPO_ROOT/.cache}
	KAFKA_CACHE="$CACHE_ROOT/kafka"
	LIBS="$KAFKA_CACHE/libs"
}

configure_tools() {
	if [[ -n ${JAVA:-} ]]; then
		:
	elif [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
		JAVA="$JAVA_HOME/bin/java"
	else
		JAVA=java
	fi
	MVN=${MVN:-mvn}
	read -r -a HEAP_OPTS <<<"${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
	START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
	[[ $START_TIMEOUT =~ ^[0-9]+$ ]] || die "KAFKA_START_TIMEOUT='$START_TIMEOUT' is not a number of seconds"
}

# Holds an exclusive lock on the state dir for the rest of the script (serialises concurrent
# up/down of the same broker). The fd must not leak into the broker: see start_broker.
lock_state_dir() {
	STATE_DIR=$(abs_dir "$STATE_DIR")
	PID_FILE="$STATE_DIR/kafka.pid"
	SERVER_LOG="$STATE_DIR/server.log"
	PROPERTIES="$STATE_DIR/server.properties"
	set_tls_paths
	exec {STATE_LOCK_FD}>"$STATE_DIR/.lock"
	flock -w 180 "$STATE_LOCK_FD" || die "another kafka.sh holds the lock of $STATE_DIR"
}

# Command line of a live process, or nothing.
cmdline_of() {
	if [[ -r /proc/$1/cmdline ]]; then
		tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true
	else
		ps -ww -o args= -p "$1" 2>/dev/null || true
	fi
}

# True when $1 is a live broker started from this state dir (guards against a reused pid).
is_our_broker() {
	local pid=$1 cmd
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	cmd=$(cmdline_of "$pid")
	[[ $cmd == *kafka.Kafka* && $cmd == *"$PROPERTIES"* ]]
}

# Prints the pid of the running broker of this state dir; fails when it does not run.
running_pid() {
	local pid
	[[ -f $PID_FILE ]] || return 1
	pid=$(<"$PID_FILE")
	is_our_broker "$pid" || return 1
	printf '%s' "$pid"
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
	(exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

jars_present() {
	local sum=$1
	[[ -f $LIBS/.pom.sha256 && $(<"$LIBS/.pom.sha256") == "$sum" ]] &&
		compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null
}

# Copies the broker's jars from Maven Central into $LIBS, unless they are there for this pom.
fetch_jars() {
	local sum started tmp lock_fd
	sum=$(sha256sum "$POM" | cut -d' ' -f1)
	jars_present "$sum" && return 0

	mkdir -p -- "$KAFKA_CACHE"
	exec {lock_fd}>"$KAFKA_CACHE/.fetch.lock"
	flock -w 600 "$lock_fd" || die "another kafka.sh is fetching the jars for too long"
	if ! jars_present "$sum"; then
		command -v "$MVN" >/dev/null || die "'$MVN' not found: Maven is needed to fetch the Kafka jars"
		log "fetching the Kafka jars from Maven Central into $LIBS"
		started=$(now_us)
		tmp=$(mktemp -d "$KAFKA_CACHE/libs.tmp.XXXXXX")
		# Maven 3.8 prints colour resets even in batch mode: strip them (pipefail keeps mvn's status).
		if ! "$MVN" -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
			-DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 </dev/null |
			sed -e $'s/\e\\[[0-9;]*m//g' >&2; then
			rm -rf -- "$tmp"
			die "maven could not fetch the Kafka jars (see its output above)"
		fi
		printf '%s\n' "$sum" >"$tmp/.pom.sha256"
		rm -rf -- "$LIBS.old"
		if [[ -d $LIBS ]]; then mv -- "$LIBS" "$LIBS.old"; fi
		mv -- "$tmp" "$LIBS"
		rm -rf -- "$LIBS.old"
		log "kafka jars fetched in $(elapsed_s "$started")s"
	fi
	exec {lock_fd}>&-
}

tls_present() {
	[[ -s $CA_CERT && -s $KEYSTORE && -s $KEYSTORE_PASSWORD_FILE ]]
}

# Makes the CA, the broker's key and certificate and its PKCS12 keystore, once per state dir
# (under the state lock; written to a temporary dir, then renamed: never half a set).
make_tls_if_needed() {
	local tmp started password
	tls_present && return 0
	command -v openssl >/dev/null || die "'openssl' not found: it makes the certificates of the SASL_SSL listener"
	started=$(now_us)
	rm -rf -- "$TLS_DIR"
	tmp=$(mktemp -d "$STATE_DIR/tls.tmp.XXXXXX")
	cat >"$tmp/openssl.cnf" <<'EOF_CNF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[broker]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF_CNF
	password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
	if ! {
		openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
			-config "$tmp/openssl.cnf" -extensions ca -subj "/CN=io-relay local Kafka CA" \
			-keyout "$tmp/ca.key" -out "$tmp/ca.pem" &&
			openssl req -new -newkey rsa:2048 -nodes -sha256 -config "$tmp/openssl.cnf" \
				-subj "/CN=localhost" -keyout "$tmp/broker.key" -out "$tmp/broker.csr" &&
			openssl x509 -req -sha256 -days 3650 -in "$tmp/broker.csr" \
				-CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial -CAserial "$tmp/ca.srl" \
				-extfile "$tmp/openssl.cnf" -extensions broker -out "$tmp/broker.pem" &&
			openssl pkcs12 -export -name broker -inkey "$tmp/broker.key" -in "$tmp/broker.pem" \
				-certfile "$tmp/ca.pem" -passout fd:3 -out "$tmp/broker.p12" 3<<<"$password"
	} >/dev/null 2>"$tmp/openssl.err"; then
		cat -- "$tmp/openssl.err" >&2
		rm -rf -- "$tmp"
		die "openssl could not make the certificates of the SASL_SSL listener (see above)"
	fi
	printf '%s\n' "$password" >"$tmp/keystore.password"
	chmod 600 -- "$tmp/ca.key" "$tmp/broker.key" "$tmp/broker.p12" "$tmp/keystore.password"
	rm -f -- "$tmp/broker.csr" "$tmp/ca.srl" "$tmp/openssl.err" "$tmp/openssl.cnf"
	mv -- "$tmp" "$TLS_DIR"
	log "made the CA and the broker certificate of the SASL_SSL listener in $(elapsed_s "$started")s: $CA_CERT"
}

write_properties() {
	local tmp="$PROPERTIES.tmp" keystore_password
	keystore_password=$(<"$KEYSTORE_PASSWORD_FILE")
	# It holds the keystore password: as private as the keystore itself.
	: >"$tmp"
	chmod 600 -- "$tmp"
	cat >"$tmp" <<EOF
# Written by deploy/local/kafka.sh on each start: edit the script, not this file.
# Single combined broker+controller in KRaft mode, for dev, demo and tests only.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CONTROLLER_PORT
controller.listener.names=CONTROLLER

listeners=PLAINTEXT://$HOST:$KAFKA_PORT,SASL_PLAINTEXT://$HOST:$SASL_PORT,SASL_SSL://$HOST:$SSL_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,SASL_PLAINTEXT://$HOST:$SASL_PORT,SASL_SSL://$HOST:$SSL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT

# SASL/PLAIN on the SASL_PLAINTEXT and SASL_SSL listeners. Users: admin/admin-secret,
# relay/relay-secret.
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_relay="relay-secret";
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_relay="relay-secret";

# TLS of the SASL_SSL listener: the broker certificate of tls/ (signed by tls/ca.pem).
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$KEYSTORE
listener.name.sasl_ssl.ssl.keystore.password=$keystore_password
listener.name.sasl_ssl.ssl.key.password=$keystore_password
listener.name.sasl_ssl.ssl.client.auth=none

log.dirs=$STATE_DIR/data
num.partitions=1
auto.create.topics.enable=false
delete.topic.enable=true

# One node: replication factor 1 for the internal topics.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0

# Light on a small machine.
num.network.threads=2
num.io.threads=4
EOF
	mv -- "$tmp" "$PROPERTIES"
}

gen_cluster_id() {
	local id
	while :; do
		# 16 random bytes in unpadded base64url, like kafka.tools.StorageTool random-uuid; Kafka
		# refuses ids starting with "-".
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		[[ $id == -* ]] || break
	done
	printf '%s' "$id"
}

# Formats the log dir the first time. The KRaft voter set remembers the controller endpoint,
# so a state dir stays tied to its controller port.
format_if_needed() {
	local data="$STATE_DIR/data" port_file="$STATE_DIR/controller.port" cluster_id formatted_port
	if [[ -f $data/meta.properties ]]; then
		if [[ -f $port_file ]]; then
			formatted_port=$(<"$port_file")
			if [[ $formatted_port != "$CONTROLLER_PORT" ]]; then
				die "$STATE_DIR was formatted for controller port $formatted_port, not $CONTROLLER_PORT: use that port, another KAFKA_STATE_DIR, or delete $STATE_DIR"
			fi
		fi
		return 0
	fi
	cluster_id=$(gen_cluster_id)
	log "formatting $data (cluster id $cluster_id)"
	if ! "$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
		kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$PROPERTIES" >&2; then
		die "formatting $data failed"
	fi
	printf '%s\n' "$CONTROLLER_PORT" >"$port_file"
}

tail_log() {
	if [[ -f $SERVER_LOG ]]; then
		log "last lines of $SERVER_LOG:"
		tail -n 40 -- "$SERVER_LOG" >&2
	fi
}

# Sends SIGTERM, waits up to $2 seconds, then SIGKILL.
stop_pid() {
	local pid=$1 grace=$2 deadline
	kill -TERM "$pid" 2>/dev/null || return 0
	deadline=$(($(now_us) + grace * 1000000))
	while kill -0 "$pid" 2>/dev/null && (($(now_us) < deadline)); do
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid still alive after ${grace}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	fi
}

# Waits for the ready line of the broker $1, started at $2 (now_us).
wait_ready() {
	local pid=$1 started=$2 deadline
	deadline=$((started + START_TIMEOUT * 1000000))
	until grep -qF -- "$READY_LINE" "$SERVER_LOG" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f -- "$PID_FILE"
			tail_log
			die "the broker (pid $pid) exited before it was ready"
		fi
		if (($(now_us) > deadline)); then
			tail_log
			stop_pid "$pid" 10
			rm -f -- "$PID_FILE"
			die "the broker was not ready after ${START_TIMEOUT}s: stopped it"
		fi
		sleep 0.1
	done
}

# Starts the broker in the background; sets BROKER_PID.
start_broker() {
	if [[ -f $SERVER_LOG ]]; then mv -f -- "$SERVER_LOG" "$SERVER_LOG.prev"; fi
	# nohup execs java, so $! is the broker's pid. The state lock fd is closed for the broker:
	# otherwise it would hold the lock as long as it runs.
	nohup "$JAVA" "${HEAP_OPTS[@]}" -XX:+UseG1GC -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$LOG4J_CONFIG" -cp "$LIBS/*" \
		kafka.Kafka "$PROPERTIES" </dev/null >"$SERVER_LOG" 2>&1 {STATE_LOCK_FD}>&- &
	BROKER_PID=$!
	printf '%s\n' "$BROKER_PID" >"$PID_FILE"
}

cmd_up() {
	local started begun pid port name
	begun=$(now_us)
	started=$begun
	lock_state_dir

	if pid=$(running_pid); then
		wait_ready "$pid" "$started"
		log "kafka already running (pid $pid, state $STATE_DIR)"
		printf '%s:%s\n' "$HOST" "$KAFKA_PORT"
		return 0
	fi
	rm -f -- "$PID_FILE"

	for name in KAFKA_PORT:$KAFKA_PORT KAFKA_SASL_PORT:$SASL_PORT KAFKA_SSL_PORT:$SSL_PORT KAFKA_CONTROLLER_PORT:$CONTROLLER_PORT; do
		port=${name#*:}
		if port_in_use "$port"; then
			die "port $port ($HOST, ${name%%:*}) is in use by another process, not by the broker of $STATE_DIR: stop it or choose other ports (KAFKA_PORT, KAFKA_SASL_PORT, KAFKA_SSL_PORT, KAFKA_CONTROLLER_PORT)"
		fi
	done

	command -v "$JAVA" >/dev/null || die "'$JAVA' not found: Java 17+ is needed"
	fetch_jars
	make_tls_if_needed
	write_properties
	format_if_needed

	started=$(now_us)
	log "starting kafka (state $STATE_DIR, log $SERVER_LOG)"
	start_broker
	pid=$BROKER_PID
	wait_ready "$pid" "$started"
	log "kafka ready in $(elapsed_s "$started")s, $(elapsed_s "$begun")s with the preparation (pid $pid; PLAINTEXT $HOST:$KAFKA_PORT, SASL_PLAINTEXT $HOST:$SASL_PORT, SASL_SSL $HOST:$SSL_PORT with CA $CA_CERT)"
	printf '%s:%s\n' "$HOST" "$KAFKA_PORT"
}

cmd_down() {
	local pid started
	[[ -d $STATE_DIR ]] || return 0
	lock_state_dir
	[[ -f $PID_FILE ]] || return 0
	pid=$(<"$PID_FILE")
	if is_our_broker "$pid"; then
		started=$(now_us)
		stop_pid "$pid" 30
		log "kafka stopped in $(elapsed_s "$started")s (pid $pid)"
	fi
	rm -f -- "$PID_FILE"
}

cmd_status() {
	local pid
	if [[ -d $STATE_DIR ]] && pid=$(running_pid); then
		if grep -qF -- "$READY_LINE" "$SERVER_LOG" 2>/dev/null; then
			printf 'kafka running: pid %s, PLAINTEXT %s:%s, SASL_PLAINTEXT %s:%s, SASL_SSL %s:%s (CA %s), state %s\n' \
				"$pid" "$HOST" "$KAFKA_PORT" "$HOST" "$SASL_PORT" "$HOST" "$SSL_PORT" "$CA_CERT" "$STATE_DIR"
		else
			printf 'kafka starting: pid %s, state %s\n' "$pid" "$STATE_DIR"
		fi
		return 0
	fi
	printf 'kafka not running (state %s)\n' "$STATE_DIR"
	return 1
}

# -- three-node mode (KAFKA_NODES=3) ----------------------------------------------------------

CLUSTER_NODES=(1 2 3)

# Splits $2, three comma-separated ports, into the array named $3; $1 names the setting.
parse_ports() {
	local name=$1 value=$2 port
	local -n into=$3
	IFS=, read -r -a into <<<"$value"
	((${#into[@]} == 3)) || die "$name='$value' is not three comma-separated ports"
	for port in "${into[@]}"; do
		is_port_number "$port" || die "$name='$value': '$port' is not a port number"
	done
}

configure_cluster() {
	local base distinct n
	NODE_PORTS=()
	NODE_CONTROLLER_PORTS=()
	base=${KAFKA_PORT:-9092}
	is_port_number "$base" || die "KAFKA_PORT='$base' is not a port number"
	parse_ports KAFKA_PORTS "${KAFKA_PORTS:-$base,$((base + 1)),$((base + 2))}" NODE_PORTS
	parse_ports KAFKA_CONTROLLER_PORTS \
		"${KAFKA_CONTROLLER_PORTS:-$((NODE_PORTS[0] + 1000)),$((NODE_PORTS[1] + 1000)),$((NODE_PORTS[2] + 1000))}" \
		NODE_CONTROLLER_PORTS
	distinct=$(printf '%s\n' "${NODE_PORTS[@]}" "${NODE_CONTROLLER_PORTS[@]}" | sort -u | wc -l)
	((distinct == 6)) ||
		die "the ports must differ: PLAINTEXT ${NODE_PORTS[*]}, CONTROLLER ${NODE_CONTROLLER_PORTS[*]}"

	configure_cache
	STATE_DIR=${KAFKA_STATE_DIR:-$KAFKA_CACHE/cluster-${NODE_PORTS[0]}}
	# Canonical, as in single-node mode: node pids are recognised by their properties path.
	if [[ -d $STATE_DIR ]]; then
		STATE_DIR=$(cd -- "$STATE_DIR" && pwd -P)
	fi
	configure_tools

	QUORUM_VOTERS=""
	BOOTSTRAP_LIST=""
	for n in "${CLUSTER_NODES[@]}"; do
		QUORUM_VOTERS+="${QUORUM_VOTERS:+,}$n@$HOST:${NODE_CONTROLLER_PORTS[n - 1]}"
		BOOTSTRAP_LIST+="${BOOTSTRAP_LIST:+,}$HOST:${NODE_PORTS[n - 1]}"
	done
}

# Points PID_FILE, SERVER_LOG and PROPERTIES (what the single-node helpers use) at node $1.
select_node() {
	NODE_ID=$1
	NODE_DIR="$STATE_DIR/node-$NODE_ID"
	PID_FILE="$NODE_DIR/kafka.pid"
	SERVER_LOG="$NODE_DIR/server.log"
	PROPERTIES="$NODE_DIR/server.properties"
	NODE_PORT=${NODE_PORTS[NODE_ID - 1]}
	NODE_CONTROLLER_PORT=${NODE_CONTROLLER_PORTS[NODE_ID - 1]}
}

node_argument() {
	[[ ${1:-} =~ ^[1-3]$ ]] || die "node '${1:-}' is not 1, 2 or 3"
	printf '%s' "$1"
}

write_node_properties() {
	local tmp="$PROPERTIES.tmp"
	mkdir -p -- "$NODE_DIR"
	cat >"$tmp" <<EOF
# Written by deploy/local/kafka.sh on each start: edit the script, not this file.
# Node $NODE_ID of three combined broker+controller nodes in KRaft mode, for tests only.
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$QUORUM_VOTERS
controller.listener.names=CONTROLLER

listeners=PLAINTEXT://$HOST:$NODE_PORT,CONTROLLER://$HOST:$NODE_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$NODE_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT

log.dirs=$NODE_DIR/data
num.partitions=1
auto.create.topics.enable=false
delete.topic.enable=true

# Three nodes: one may be lost without losing a record acknowledged with acks=all.
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0

# Light on a small machine.
num.network.threads=2
num.io.threads=4
EOF
	mv -- "$tmp" "$PROPERTIES"
}

# Formats node $NODE_ID's log dir the first time, with the cluster id of the state dir. The
# voters are part of the formatted state: a state dir stays tied to its controller ports.
format_node_if_needed() {
	local id_file="$STATE_DIR/cluster.id" voters_file="$STATE_DIR/voters" cluster_id
	if [[ -f $voters_file && $(<"$voters_file") != "$QUORUM_VOTERS" ]]; then
		die "$STATE_DIR was formatted for the voters $(<"$voters_file"), not $QUORUM_VOTERS: use those KAFKA_CONTROLLER_PORTS, another KAFKA_STATE_DIR, or delete $STATE_DIR"
	fi
	[[ -f $NODE_DIR/data/meta.properties ]] && return 0
	if [[ ! -f $id_file ]]; then
		gen_cluster_id >"$id_file"
		printf '%s\n' "$QUORUM_VOTERS" >"$voters_file"
	fi
	cluster_id=$(<"$id_file")
	log "formatting $NODE_DIR/data (node $NODE_ID, cluster id $cluster_id)"
	if ! "$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
		kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPERTIES" >&2; then
		die "formatting $NODE_DIR/data failed"
	fi
}

# Dies when a port of node $NODE_ID is taken (call it only for a node that does not run).
check_node_ports() {
	local port
	for port in "$NODE_PORT" "$NODE_CONTROLLER_PORT"; do
		if port_in_use "$port"; then
			die "port $port ($HOST, node $NODE_ID) is in use by another process, not by a node of $STATE_DIR: stop it or choose other ports (KAFKA_PORTS, KAFKA_CONTROLLER_PORTS)"
		fi
	done
}

# Prepares node $NODE_ID (properties, format) and starts it; sets BROKER_PID.
start_node() {
	rm -f -- "$PID_FILE"
	write_node_properties
	format_node_if_needed
	log "starting node $NODE_ID (log $SERVER_LOG)"
	start_broker
}

# After a failed start: stops every node that runs, then dies with $1.
abort_cluster_start() {
	local n pid
	for n in "${CLUSTER_NODES[@]}"; do
		select_node "$n"
		if pid=$(running_pid); then stop_pid "$pid" 10; fi
		rm -f -- "$PID_FILE"
	done
	die "$1"
}

# Waits until every node logged its ready line; the nodes were started at $1 (now_us).
wait_cluster_ready() {
	local started=$1 deadline n waiting
	deadline=$((started + START_TIMEOUT * 1000000))
	while :; do
		waiting=()
		for n in "${CLUSTER_NODES[@]}"; do
			select_node "$n"
			grep -qF -- "$READY_LINE" "$SERVER_LOG" 2>/dev/null && continue
			if ! running_pid >/dev/null; then
				tail_log
				abort_cluster_start "node $n exited before it was ready"
			fi
			waiting+=("$n")
		done
		((${#waiting[@]} == 0)) && return 0
		if (($(now_us) > deadline)); then
			for n in "${waiting[@]}"; do
				select_node "$n"
				tail_log
			done
			abort_cluster_start "node(s) ${waiting[*]} not ready after ${START_TIMEOUT}s: stopped the cluster"
		fi
		sleep 0.1
	done
}

cmd_cluster_up() {
	local started begun n to_start=()
	begun=$(now_us)
	lock_state_dir
	for n in "${CLUSTER_NODES[@]}"; do
		select_node "$n"
		if ! running_pid >/dev/null; then
			check_node_ports
			to_start+=("$n")
		fi
	done
	if ((${#to_start[@]})); then
		command -v "$JAVA" >/dev/null || die "'$JAVA' not found: Java 17+ is needed"
		fetch_jars
	fi
	started=$(now_us)
	# All at once: a node is ready only once two controllers have elected a leader.
	for n in "${to_start[@]}"; do
		select_node "$n"
		start_node
	done
	wait_cluster_ready "$started"
	if ((${#to_start[@]})); then
		log "kafka cluster ready in $(elapsed_s "$started")s, $(elapsed_s "$begun")s with the preparation (started nodes ${to_start[*]}; state $STATE_DIR; PLAINTEXT $BOOTSTRAP_LIST)"
	else
		log "kafka cluster already running (state $STATE_DIR)"
	fi
	printf '%s\n' "$BOOTSTRAP_LIST"
}

cmd_cluster_down() {
	local n pid started pids=()
	[[ -d $STATE_DIR ]] || return 0
	lock_state_dir
	started=$(now_us)
	# SIGTERM to every node first, so that they stop together rather than one after another.
	for n in "${CLUSTER_NODES[@]}"; do
		select_node "$n"
		if pid=$(running_pid); then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	for pid in "${pids[@]}"; do stop_pid "$pid" 30; done
	for n in "${CLUSTER_NODES[@]}"; do
		select_node "$n"
		rm -f -- "$PID_FILE"
	done
	if ((${#pids[@]})); then
		log "kafka cluster stopped in $(elapsed_s "$started")s (pids ${pids[*]})"
	fi
}

cmd_cluster_status() {
	local n pid code=0
	for n in "${CLUSTER_NODES[@]}"; do
		select_node "$n"
		if [[ -d $STATE_DIR ]] && pid=$(running_pid); then
			if grep -qF -- "$READY_LINE" "$SERVER_LOG" 2>/dev/null; then
				printf 'node %s running: pid %s, PLAINTEXT %s:%s, state %s\n' \
					"$n" "$pid" "$HOST" "$NODE_PORT" "$NODE_DIR"
			else
				printf 'node %s starting: pid %s, state %s\n' "$n" "$pid" "$NODE_DIR"
			fi
		else
			printf 'node %s not running (state %s)\n' "$n" "$NODE_DIR"
			code=1
		fi
	done
	return "$code"
}

cmd_up_node() {
	local started pid
	lock_state_dir
	select_node "$1"
	if pid=$(running_pid); then
		wait_ready "$pid" "$(now_us)"
		log "node $NODE_ID already running (pid $pid)"
	else
		check_node_ports
		command -v "$JAVA" >/dev/null || die "'$JAVA' not found: Java 17+ is needed"
		fetch_jars
		started=$(now_us)
		start_node
		wait_ready "$BROKER_PID" "$started"
		log "node $NODE_ID ready in $(elapsed_s "$started")s (pid $BROKER_PID; PLAINTEXT $HOST:$NODE_PORT)"
	fi
	printf '%s\n' "$BOOTSTRAP_LIST"
}

# Stops node $1; $2 is "term" (SIGTERM, SIGKILL after 30 s) or "kill" (SIGKILL: a crash).
cmd_stop_node() {
	local pid started
	[[ -d $STATE_DIR ]] || return 0
	lock_state_dir
	select_node "$1"
	[[ -f $PID_FILE ]] || return 0
	pid=$(<"$PID_FILE")
	if is_our_broker "$pid"; then
		started=$(now_us)
		if [[ $2 == kill ]]; then
			kill -KILL "$pid" 2>/dev/null || true
			while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
			log "node $NODE_ID killed (pid $pid)"
		else
			stop_pid "$pid" 30
			log "node $NODE_ID stopped in $(elapsed_s "$started")s (pid $pid)"
		fi
	fi
	rm -f -- "$PID_FILE"
}

cluster_usage() {
	printf 'usage: KAFKA_NODES=3 %s up|down|status|up-node N|down-node N|kill-node N\n' "$0" >&2
	exit 2
}

main_cluster() {
	local node
	case ${1:-} in
	up | down | status) (($# == 1)) || cluster_usage ;;
	up-node | down-node | kill-node) (($# == 2)) || cluster_usage ;;
	*) cluster_usage ;;
	esac
	configure_cluster
	case $1 in
	up) cmd_cluster_up ;;
	down) cmd_cluster_down ;;
	status) cmd_cluster_status ;;
	*)
		node=$(node_argument "$2")
		case $1 in
		up-node) cmd_up_node "$node" ;;
		down-node) cmd_stop_node "$node" term ;;
		kill-node) cmd_stop_node "$node" kill ;;
		esac
		;;
	esac
}

usage() {
	printf 'usage: %s up|down|status\n' "$0" >&2
	exit 2
}

main() {
	case ${KAFKA_NODES:-1} in
	1) ;;
	3)
		main_cluster "$@"
		return
		;;
	*) die "KAFKA_NODES='$KAFKA_NODES' is not 1 or 3" ;;
	esac
	(($# == 1)) || usage
	configure
	case $1 in
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	*) usage ;;
	esac
}

main "$@"
