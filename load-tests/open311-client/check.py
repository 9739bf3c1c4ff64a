"""Drives whistle's Open311 GeoReport v2 routes with published client libraries.

    check.py ENDPOINT API_KEY

ENDPOINT is the GeoReport root (http://127.0.0.1:8080/open311/v2); API_KEY an integration
key. `georeport` reads (services, service definitions, requests) in JSON and XML; `three`
posts a request and reads its token, which georeport cannot. Prints one line per check
and exits 1 at the first that fails. Run it through run.sh, which installs the libraries.
"""

import itertools
import sys
import time

# three was written for Python 2 and imports itertools.ifilter, which Python 3 calls
# filter; nothing else it uses for JSON differs.
if not hasattr(itertools, "ifilter"):
    itertools.ifilter = filter

import requests  # noqa: E402  (georeport's and three's HTTP client)
import three  # noqa: E402
from georeport import GeoReport  # noqa: E402

# What the resident gave: none of it may come back from a public read.
PHONE = "13800001234"
NAME = ("娜", "李")
EMAIL = "li.na@example.org"
WORDS = "楼道灯坏了一周 <3号楼> & \"没人修\""


def check(condition, what, detail=None):
    if not condition:
        print(f"FAIL {what}" + (f": {detail!r}" if detail is not None else ""))
        sys.exit(1)
    print(f"ok   {what}")


def as_list(value):
    """xmltodict gives one repeated element as a dict, several as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def requests_of(reader, **filters):
    """georeport cannot read an empty XML list (`<service_requests/>`): it is no requests."""
    try:
        return as_list(reader.get_service_requests(**filters))
    except TypeError:
        return []


def eventually(what, attempt, seconds=20):
    deadline = time.monotonic() + seconds
    while True:
        value = attempt()
        if value:
            return value
        if time.monotonic() > deadline:
            check(False, what, "not within %d s" % seconds)
        time.sleep(0.2)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    endpoint, api_key = sys.argv[1].rstrip("/"), sys.argv[2]
    readers = {fmt: GeoReport(endpoint, output_format=fmt) for fmt in ("json", "xml")}

    for fmt, reader in readers.items():
        services = reader.get_service_list()
        codes = [s["service_code"] for s in services]
        check(len(codes) == 12 and "street_lighting" in codes, f"georeport lists the services ({fmt})", codes)
        lighting = next(s for s in services if s["service_code"] == "street_lighting")
        check(lighting["service_name"] == "背街小巷路灯", f"service names are Chinese ({fmt})", lighting)
        check(str(lighting["metadata"]).lower() == "false" and lighting["type"] == "realtime",
              f"services have no metadata and are realtime ({fmt})", lighting)
        definition = reader.get_service_definition("street_lighting")
        check(definition["service_code"] == "street_lighting", f"georeport reads a service definition ({fmt})", definition)
        try:
            reader.get_service_definition("potholes")
            check(False, f"an unknown service is a 404 ({fmt})")
        except requests.HTTPError as error:
            check(error.response.status_code == 404, f"an unknown service is a 404 ({fmt})", error.response.status_code)

    poster = three.Three(endpoint, api_key=api_key)
    answer = poster.post(
        "street_lighting",
        address_id="hongqili",
        address_string="红旗里小区 3号楼",
        description=WORDS,
        first_name=NAME[0],
        last_name=NAME[1],
        phone=PHONE,
        email=EMAIL,
    )
    check(poster.post_response.status_code == 201 and isinstance(answer, list) and len(answer) == 1,
          "three posts a request", answer)
    posted = answer[0]
    request_id, token = posted["service_request_id"], posted["token"]
    check(bool(request_id) and bool(token) and posted["account_id"] is None,
          "the answer holds the request id and a token", posted)

    refused = three.Three(endpoint, api_key="wsk_not-a-key").post("street_lighting", address_id="hongqili")
    check(refused[0]["code"] == 403, "three is refused with a wrong api_key", refused)

    by_token = poster.token(token)
    check(by_token == [{"service_request_id": request_id, "token": token}], "three reads the request id by token", by_token)
    by_three = poster.request(request_id)
    check(by_three[0]["service_request_id"] == request_id, "three reads the request back", by_three)

    for fmt, reader in readers.items():
        one = reader.get_service_request(request_id)
        check(one["service_request_id"] == request_id and one["status"] == "open"
              and one["service_code"] == "street_lighting" and one["address_id"] == "hongqili",
              f"georeport reads the request back by id ({fmt})", one)
        shown = repr(one)
        check(not any(secret in shown for secret in (PHONE, NAME[0] + NAME[1], NAME[1] + NAME[0], EMAIL, "没人修", "3号楼")),
              f"nothing of the resident is shown ({fmt})", one)
        listed = requests_of(reader, service_request_id=request_id)
        check([r["service_request_id"] for r in listed] == [request_id],
              f"georeport finds it by service_request_id ({fmt})", listed)
        recent = eventually(
            f"georeport finds it among the open street_lighting requests ({fmt})",
            lambda: [r for r in requests_of(reader, service_code="street_lighting", status="open")
                     if r["service_request_id"] == request_id],
        )
        check(len(recent) == 1, f"georeport finds it among the open street_lighting requests ({fmt})", recent)

    print("open311 client libraries: every check passed")


if __name__ == "__main__":
    main()
