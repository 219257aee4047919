#!/usr/bin/env bash
# Check the installed dependencies for known vulnerabilities with pip-audit.
# Exit 0 only when packages were really audited and none has a known vulnerability.
# Exit 1 when a vulnerability is found, when no vulnerability service could be reached,
# or when the service knew none of the packages (an audit of nothing is not a clean audit).
# Tries PyPI's vulnerability API first, then OSV's. With AUDIT_UNREACHABLE_OK=1 (CI on a
# closed network) an audit that could not be performed is reported as such and exits 0;
# a vulnerability found always exits 1.
set -uo pipefail
bin="${1:-.venv/bin}"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
for service in pypi osv; do
  "$bin/pip-audit" --progress-spinner off --format json --output "$report" --vulnerability-service "$service" \
    >/dev/null 2>"$report.err"
  code=$?
  verdict=$("$bin/python" - "$report" "$service" "$code" <<'PY'
import json, sys
path, service, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    deps = json.load(open(path)).get("dependencies", [])
except (OSError, ValueError):
    print(f"unreachable pip-audit could not use the {service} vulnerability service (exit {code})")
    sys.exit()
audited = [d for d in deps if "skip_reason" not in d]
vulnerable = [d for d in audited if d.get("vulns")]
for d in vulnerable:
    for v in d["vulns"]:
        print(f"  {d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v.get('fix_versions') or ['-'])})",
              file=sys.stderr)
if not audited:
    print(f"nothing the {service} vulnerability service knew none of the {len(deps)} installed packages")
elif vulnerable:
    print(f"vulnerable {len(vulnerable)} of {len(audited)} audited packages have known vulnerabilities "
          f"({service}; {len(deps) - len(audited)} could not be audited)")
else:
    print(f"clean {len(audited)} packages audited with {service}, no known vulnerabilities"
          + (f"; {len(deps) - len(audited)} could not be audited" if len(deps) > len(audited) else ""))
PY
)
  kind=${verdict%% *}
  message=${verdict#* }
  case "$kind" in
    clean) echo "pip-audit: $message"; exit 0 ;;
    vulnerable) echo "pip-audit: $message" >&2; exit 1 ;;
    *) echo "pip-audit ($service): $message" >&2 ;;
  esac
done
echo "pip-audit: NOT PERFORMED - no vulnerability service reachable from this machine audited anything;" \
     "run 'make audit' where PyPI's or OSV's API can be reached" >&2
if [ "${AUDIT_UNREACHABLE_OK:-}" = 1 ]; then
  echo "pip-audit: continuing because AUDIT_UNREACHABLE_OK=1 (the audit was NOT performed)" >&2
  exit 0
fi
exit 1
