"""A `$BROWSER` for tests: opens the URL it is given and follows redirects (the test
authorization servers approve at once and send the browser back to the gateway's
/oauth/callback), like a user who clicks "Allow". Prints where it ended."""

import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=30) as response:
    print("[browser] landed on", response.geturl(), response.status, file=sys.stderr)
