# Sourced by the scripts: makes .venv with Python 3.11+ and installs this project with the given extras.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras="$1"
python=""
for candidate in python3.11 python3.12 python3.13 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    python="$candidate"; break
  fi
done
[ -n "$python" ] || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
# The install is editable: it needs redoing only when what it reads changes (a no-op pip run still takes a minute).
installed="$(cat pyproject.toml setup.py constraints.txt | sha256sum | cut -c1-16) [$extras]"
if ! grep -qxF "$installed" .venv/installed 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  # The connector's own dependencies at the versions the image ships (constraints.txt); the extras' resolve freely.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[$extras]"
  echo "$installed" >> .venv/installed
fi
