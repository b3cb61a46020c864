"""A schemathesis check for the other-tenant run: no answer carries another tenant's id.

The test (test/integration/schemathesis.test.ts) writes the ids of every client, site, device,
policy, schedule, report and approval request the run's key may not see to the JSON file named by
PATCHFLOW_FOREIGN_IDS before the run starts. An answer that holds one of them leaks it, unless the
request named it itself (a 404 says which id it did not find, and that tells the caller nothing new).
"""

import json
import os
import re

import schemathesis

with open(os.environ["PATCHFLOW_FOREIGN_IDS"], encoding="utf-8") as f:
    FOREIGN: dict[str, str] = {i.lower(): kind for kind, ids in json.load(f).items() for i in ids}

UUID = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _request_text(response) -> str:
    body = response.request.body or b""
    if isinstance(body, str):
        body = body.encode()
    return (str(response.request.url) + " " + body.decode("utf-8", "replace")).lower()


@schemathesis.check
def no_foreign_tenant_data(ctx, response, case):
    """Fails when an answer holds an id of a client (or its things) the key may not see."""
    found = {m.decode().lower() for m in UUID.findall(response.content or b"")}
    leaked = sorted(i for i in found if i in FOREIGN)
    if not leaked:
        return True
    asked = _request_text(response)
    leaked = [i for i in leaked if i not in asked]
    if leaked:
        raise AssertionError(
            f"{response.status_code} answer holds another tenant's ids: "
            + ", ".join(f"{FOREIGN[i]} {i}" for i in leaked[:5])
        )
    return True
