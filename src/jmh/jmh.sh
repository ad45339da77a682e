#!/usr/bin/env bash
# Runs Amalgam's JMH kernel benchmarks (src/jmh/java). Builds them with the jmh profile, then starts
# JMH on a JDK >= 25; every argument goes to JMH (e.g. a benchmark regex, -p impl=vector, -f 1, -rf csv).
set -euo pipefail
APP_HOME="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
java_major() { "$1" -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}'; }
JAVA=""
for c in "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/temurin-25-jdk-amd64/bin/java /usr/lib/jvm/*/bin/java \
         "$(command -v java || true)"; do
  [ -n "$c" ] && [ -x "$c" ] || continue
  if [ "$(java_major "$c")" -ge 25 ] 2>/dev/null; then JAVA="$c"; break; fi
done
[ -n "$JAVA" ] || { echo "jmh.sh: a JDK >= 25 is required; set JAVA_HOME" >&2; exit 1; }
cd "$APP_HOME"
mvn -q ${MVN_OPTS:-} -Pjmh -DskipTests process-test-classes >&2
exec "$JAVA" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp "target/test-classes:target/classes:$(cat target/jmh.classpath)" org.openjdk.jmh.Main "$@"
