# Sourced by ./ukernel and scripts/*: selects a JDK >= 25 into JAVA_HOME, or explains what is missing.
# The machine's default java may be older (17 here), so PATH's java is never trusted blindly.

uk_java_feature() { # prints the feature version of the JDK at $1, or nothing
  # The JDK's release file says it without starting a JVM (this runs on every `ukernel` invocation).
  local line v
  line=$(grep -s '^JAVA_VERSION=' "$1/release") || true
  v=${line#JAVA_VERSION=}
  v=${v//\"/}
  v=${v#1.}
  if [ -z "$v" ]; then
    v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  fi
  printf '%s' "${v%%.*}"
}

uk_select_jdk() {
  local candidate v
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
    v=$(uk_java_feature "$JAVA_HOME")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then
      return 0
    fi
  fi
  for candidate in /usr/lib/jvm/*25* /usr/lib/jvm/*2[6-9]* /usr/lib/jvm/*3[0-9]*; do
    [ -x "$candidate/bin/javac" ] || continue
    v=$(uk_java_feature "$candidate")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then
      export JAVA_HOME="$candidate"
      export PATH="$JAVA_HOME/bin:$PATH"
      return 0
    fi
  done
  {
    echo "ukernel: no JDK 25 or newer found."
    [ -n "${JAVA_HOME:-}" ] && echo "  JAVA_HOME=$JAVA_HOME is not a JDK >= 25."
    echo "  Looked in JAVA_HOME and /usr/lib/jvm/*25*. Install a JDK 25 (e.g. Temurin 25) and/or set JAVA_HOME to it."
  } >&2
  return 1
}

uk_check_python() { # $1 = "quick" checks presence only (the build checks the version against the manifest)
  local py=${UKERNEL_PYTHON:-python3} v
  if ! command -v "$py" >/dev/null 2>&1; then
    echo "ukernel: $py not found on PATH; workers need CPython >= 3.11 (Debian: apt-get install python3)." >&2
    return 1
  fi
  [ "${1:-}" = quick ] && return 0
  v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
  case "$v" in
    3.1[1-9]|3.[2-9][0-9]) return 0 ;;
  esac
  echo "ukernel: $py is Python ${v:-unknown}; workers need CPython >= 3.11 (set UKERNEL_PYTHON to another interpreter)." >&2
  return 1
}
