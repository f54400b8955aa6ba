"""Docker's health check of the web tier: exits 0 when the path given (default /readyz) answers 200.

The request is shaped as nginx sends it, with a Host from ALLOWED_HOSTS and X-Forwarded-Proto https, so that
neither Django's host check nor the HTTPS redirect of SECURE_COOKIES turns it away.
"""

import os
import sys
import urllib.request

path = sys.argv[1] if len(sys.argv) > 1 else "/readyz"
# ".example.org" and "*" are patterns, not names: the first name they match, or localhost.
host = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip().lstrip("*.") or "localhost"
request = urllib.request.Request(f"http://127.0.0.1:8000{path}", headers={"Host": host, "X-Forwarded-Proto": "https"})
try:
    with urllib.request.urlopen(request, timeout=8) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as error:  # HTTPError (a 503) included
    print(error, file=sys.stderr)
    sys.exit(1)
