"""Writes a schemathesis config whose dictionaries hold identifiers the server knows.

    python dictionaries.py BASE_URL TOKEN OUT.toml

Random UUIDs and codes only ever meet 404 and 400, so the handlers behind them (claim,
whistle, merge, ...) would go untested. Half of the generated values for a ticket, community,
street or department are therefore drawn from what this server has: the tickets the token may
see (GET /api/tickets) and the codes of its jurisdiction (GET /api/jurisdiction); the other half
stay random. A list that cannot be fetched is left out, with a note on stderr: the pass then
runs on random values alone.
"""

import json
import sys
import urllib.error
import urllib.request

# Of the generated values for a bound parameter, the share taken from a dictionary.
PROBABILITY = 0.5


def fetch(url, token=None):
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as error:
        print(f"api-fuzz: no dictionary from {url}: {error}", file=sys.stderr)
        return None


def codes(jurisdiction, kind):
    if not isinstance(jurisdiction, dict):
        return []
    return [item["code"] for item in jurisdiction.get(kind) or [] if "code" in item]


def main():
    base_url, token, out = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    jurisdiction = fetch(f"{base_url}/api/jurisdiction")
    tickets = fetch(f"{base_url}/api/tickets?per_page=200", token)
    dictionaries = {
        "tickets": [t["ticket"] for t in (tickets or {}).get("items") or [] if "ticket" in t],
        "communities": codes(jurisdiction, "communities"),
        "streets": codes(jurisdiction, "streets"),
        "departments": codes(jurisdiction, "departments"),
    }
    # Parameter (path or query) and body field -> dictionary.
    bindings = {
        "ticket": "tickets",
        "body.into": "tickets",
        "community": "communities",
        "body.community": "communities",
        "street": "streets",
        "department": "departments",
        "body.department": "departments",
        "body.lead": "departments",
        "body.departments[*]": "departments",
    }
    # JSON strings are valid TOML basic strings.
    lines = ["# Written by load-tests/api-fuzz/dictionaries.py for one pass.", ""]
    for name, values in dictionaries.items():
        if values:
            lines.append(f"[dictionaries.{name}]")
            lines.append(f"values = [{', '.join(json.dumps(v) for v in values)}]")
            lines.append("")
    lines.append("[parameters]")
    for key, name in bindings.items():
        if dictionaries[name]:
            lines.append(
                f'{json.dumps(key)} = {{ dictionary = "{name}", probability = {PROBABILITY} }}'
            )
    with open(out, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    counts = ", ".join(f"{len(v)} {k}" for k, v in dictionaries.items())
    print(f"api-fuzz: dictionaries of {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
