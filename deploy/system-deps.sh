#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: Chromium for the browser tests, a CJK
# font so pages in Chinese render, and a Java runtime with Maven for Apache Kafka (its jars come
# from Maven Central, deploy/kafka/pom.xml). Installs them when missing and when it may (root +
# apt-get); otherwise says what is missing: the browser tests skip, and without java or mvn the
# tests run on the Tansu stand-in instead of Apache Kafka.
set -euo pipefail
packages=(chromium fonts-wqy-microhei openjdk-17-jre-headless maven)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: missing Debian packages: ${missing[*]} (browser tests skip, Tansu replaces Apache Kafka); install them as root" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
