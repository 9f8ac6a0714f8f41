#!/usr/bin/env bash
# Apache Kafka 4.4.0 as a test fixture, without a distribution tarball: the broker (kafka_2.13), its
# tools (kafka-tools) and kafka-clients with their runtime dependencies come from Maven Central
# through Maven into a cache, and this script runs them.
#
#   kafka-fixture.sh fetch              downloads the jars (once; fast when cached)
#   kafka-fixture.sh classpath          prints the classpath (fetches first if needed)
#   kafka-fixture.sh libs               prints the directory of the jars (fetches first if needed)
#   kafka-fixture.sh start DIR [k=v..]  formats a single-node KRaft log dir in DIR (random cluster id),
#                                       starts broker+controller on free 127.0.0.1 ports, waits until
#                                       it has started and prints its bootstrap address (127.0.0.1:PORT);
#                                       k=v lines are added to its server.properties (a later
#                                       key wins), with @PORT@ (the PLAINTEXT port), @PORT2@ (another
#                                       free port, for a second listener) and @CONTROLLER_PORT@
#                                       replaced
#   kafka-fixture.sh restart DIR        starts again the stopped broker of DIR (same data, ports and
#                                       configuration) and prints its bootstrap address
#   kafka-fixture.sh stop DIR           stops the broker started in DIR (SIGTERM, then SIGKILL after 60 s)
#   kafka-fixture.sh run-class CLASS ARGS...
#                                       runs a Kafka main class, e.g. org.apache.kafka.tools.AclCommand
#                                       (kafka-acls.sh), org.apache.kafka.tools.ConfigCommand
#                                       (kafka-configs.sh), org.apache.kafka.tools.TopicCommand,
#                                       org.apache.kafka.tools.ConsoleProducer, ...
#
# The cache is $SLUICE_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/sluice); the jars land in
# $SLUICE_CACHE/kafka-4.4.0/libs, Maven's own download cache is ~/.m2 as usual. Java: $JAVA_HOME or
# the `java` on PATH (Kafka 4.x brokers need 17 or later). Heaps stay small: the machine has 2 cores.
# Every failure is loud (non-zero exit and a message): a client that cannot be installed is a
# failure, not a skip.
set -euo pipefail

KAFKA_VERSION=4.4.0
SCALA_VERSION=2.13
# Kafka logs through SLF4J 1.7 and ships log4j2 (log4j-api/core) but no binding between them: the
# distribution adds log4j-slf4j-impl, and so does the fixture, at the log4j2 version Kafka uses.
LOG4J_VERSION=2.25.5
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
CACHE="${SLUICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice}"
HOME_DIR="$CACHE/kafka-$KAFKA_VERSION"
LIBS="$HOME_DIR/libs"
BROKER_HEAP="${SLUICE_KAFKA_HEAP:--Xmx512m -Xms128m}"
TOOL_HEAP="-Xmx256m"

die() {
  echo "kafka-fixture: $*" >&2
  exit 1
}

java_bin() {
  if [ -n "${JAVA_HOME:-}" ]; then
    echo "$JAVA_HOME/bin/java"
  else
    command -v java || die "no java on PATH (install openjdk-17-jdk-headless)"
  fi
}

fetched() { [ -f "$LIBS/.complete-$KAFKA_VERSION" ]; }

# Resolves the three artifacts and their runtime dependencies from a generated pom, and copies the
# jars into a fresh directory that replaces $LIBS only when complete. Serialised with flock, so
# tests running in parallel fetch once.
fetch() {
  mkdir -p "$HOME_DIR"
  exec 9>"$HOME_DIR/.fetch.lock"
  flock 9
  if fetched; then
    exec 9>&-
    return 0
  fi
  command -v mvn >/dev/null || die "no mvn on PATH (install maven)"
  local work
  work=$(mktemp -d "$HOME_DIR/.fetch.XXXXXX")
  cat >"$work/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sluice.test</groupId>
  <artifactId>kafka-fixture</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-clients</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
  echo "kafka-fixture: fetching Apache Kafka $KAFKA_VERSION with Maven into $LIBS" >&2
  if ! (cd "$work" && mvn -B -q "$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime \
    -DoutputDirectory="$work/libs" >"$work/mvn.log" 2>&1); then
    cat "$work/mvn.log" >&2
    rm -rf "$work"
    die "Maven could not fetch Apache Kafka $KAFKA_VERSION"
  fi
  for jar in "kafka_$SCALA_VERSION-$KAFKA_VERSION.jar" "kafka-tools-$KAFKA_VERSION.jar" \
    "kafka-clients-$KAFKA_VERSION.jar" "log4j-slf4j-impl-$LOG4J_VERSION.jar"; do
    [ -f "$work/libs/$jar" ] || { rm -rf "$work"; die "Maven left no $jar"; }
  done
  # Log4j2 configurations: the broker logs INFO to its directory's kafka.log (given per start),
  # tools log warnings to stderr.
  cat >"$work/libs/tools-log4j2.properties" <<'CONF'
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
CONF
  cat >"$work/libs/broker-log4j2.properties" <<'CONF'
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
logger.state.name = state.change.logger
logger.state.level = WARN
CONF
  touch "$work/libs/.complete-$KAFKA_VERSION"
  rm -rf "$LIBS"
  mv "$work/libs" "$LIBS"
  rm -rf "$work"
  exec 9>&-
  echo "kafka-fixture: Apache Kafka $KAFKA_VERSION is in $LIBS ($(ls "$LIBS"/*.jar | wc -l) jars)" >&2
}

classpath() {
  fetched || fetch
  local cp="" jar
  for jar in "$LIBS"/*.jar; do
    cp="${cp:+$cp:}$jar"
  done
  echo "$cp"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local dir="${1:?usage: kafka-fixture.sh start DIR [key=value ...]}"
  shift
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ ! -f "$dir/kafka.pid" ] || ! kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null ||
    die "a broker already runs from $dir (pid $(cat "$dir/kafka.pid"))"
  # The free ports are picked before the broker binds them: if another process took one in
  # between, start again on new ones (at most 3 times).
  local attempt rc
  for attempt in 1 2 3; do
    rc=0
    start_once "$dir" "$@" || rc=$?
    [ "$rc" -eq 75 ] || return "$rc"
    echo "kafka-fixture: a port was taken before the broker bound it; starting again" >&2
    rm -rf "$dir/data"
  done
  die "the Kafka broker could not bind free ports 3 times (logs in $dir)"
}

# One start (see start); returns 75 when the broker exited because a port was in use.
start_once() {
  local dir="$1"
  shift
  local cp java port cport port2 cluster_id
  cp=$(classpath)
  java=$(java_bin)
  port=$(free_port)
  cport=$(free_port)
  while [ "$cport" = "$port" ]; do cport=$(free_port); done
  port2=$(free_port)
  while [ "$port2" = "$port" ] || [ "$port2" = "$cport" ]; do port2=$(free_port); done
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
PROPS
  local kv
  for kv in "$@"; do
    kv="${kv//@PORT@/$port}"
    kv="${kv//@PORT2@/$port2}"
    echo "${kv//@CONTROLLER_PORT@/$cport}" >>"$dir/server.properties"
  done
  echo "$port" >"$dir/kafka.port"
  echo "$port2" >"$dir/kafka.port2"
  # A random cluster id: 16 random bytes, base64url without padding (Kafka's Uuid form). Not one
  # that starts with '-', which the tool would read as an option (Kafka's Uuid.randomUuid() skips
  # those too).
  cluster_id=-
  while [ "${cluster_id:0:1}" = "-" ]; do
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  if ! "$java" $TOOL_HEAP -Dlog4j2.configurationFile="$LIBS/tools-log4j2.properties" -cp "$cp" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
    >"$dir/format.log" 2>&1; then
    cat "$dir/format.log" >&2
    die "formatting $dir/data failed"
  fi
  launch "$dir" "$port"
}

# Starts the broker of $dir (its server.properties, data formatted) and waits until it serves on
# $port; prints the bootstrap address. Returns 75 when the broker exited because a port was in use.
launch() {
  local dir="$1" port="$2" cp java
  cp=$(classpath)
  java=$(java_bin)
  : >"$dir/kafka.log"
  # setsid: the broker gets its own process group, so stop can end it alone.
  setsid "$java" $BROKER_HEAP -XX:+UseG1GC -Djava.awt.headless=true \
    -Dkafka.logs.dir="$dir" -Dlog4j2.configurationFile="$LIBS/broker-log4j2.properties" \
    -cp "$cp" kafka.Kafka "$dir/server.properties" >"$dir/kafka.out" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/kafka.pid"
  # Started when the server says so (KafkaRaftServer logs "Kafka Server started") and the port
  # accepts connections; a broker that exits or takes more than 120 s is a failure.
  local deadline=$((SECONDS + 120))
  until grep -q "Kafka Server started" "$dir/kafka.log" 2>/dev/null &&
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$dir/kafka.pid"
      if grep -q "Address already in use" "$dir/kafka.out" "$dir/kafka.log" 2>/dev/null; then
        return 75
      fi
      tail -n 40 "$dir/kafka.out" "$dir/kafka.log" >&2 || true
      die "the Kafka broker exited during start-up (logs in $dir)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 40 "$dir/kafka.log" >&2 || true
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$dir/kafka.pid"
      die "the Kafka broker did not start within 120 s (logs in $dir)"
    fi
    sleep 0.2
  done
  echo "127.0.0.1:$port"
}

restart() {
  local dir="${1:?usage: kafka-fixture.sh restart DIR}"
  dir=$(cd "$dir" && pwd)
  [ -f "$dir/server.properties" ] && [ -f "$dir/kafka.port" ] ||
    die "no broker was started in $dir before"
  [ ! -f "$dir/kafka.pid" ] || ! kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null ||
    die "a broker already runs from $dir (pid $(cat "$dir/kafka.pid"))"
  local rc=0
  launch "$dir" "$(cat "$dir/kafka.port")" || rc=$?
  [ "$rc" -ne 75 ] || die "the broker's port $(cat "$dir/kafka.port") is taken now"
  return "$rc"
}

stop() {
  local dir="${1:?usage: kafka-fixture.sh stop DIR}"
  [ -f "$dir/kafka.pid" ] || die "no broker was started in $dir"
  local pid
  pid=$(cat "$dir/kafka.pid")
  if kill -TERM "$pid" 2>/dev/null; then
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then
        echo "kafka-fixture: the broker (pid $pid) did not stop within 60 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2
    done
  fi
  rm -f "$dir/kafka.pid"
}

run_class() {
  local class="${1:?usage: kafka-fixture.sh run-class CLASS ARGS...}"
  shift
  local cp java
  cp=$(classpath)
  java=$(java_bin)
  exec "$java" $TOOL_HEAP -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LIBS/tools-log4j2.properties" -cp "$cp" "$class" "$@"
}

cmd="${1:-}"
[ $# -eq 0 ] || shift
case "$cmd" in
  fetch) fetch ;;
  classpath) classpath ;;
  libs) fetched || fetch; echo "$LIBS" ;;
  start) start "$@" ;;
  restart) restart "$@" ;;
  stop) stop "$@" ;;
  run-class) run_class "$@" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
