"""TAXII 2.1 interop helper for tests/tests/taxii.rs: talks to a real hub over mutual TLS with
the reference `taxii2-client` (and `requests` for raw calls), validates STIX with the OASIS
`stix2-validator`, and prints one JSON document on stdout for the Rust test to check.

Usage: taxii_check.py '<json request>'. The request names the hub (`base`, `ca`, `cert`,
`key`, `token`) and an `op`:

- `client`: taxii2-client discovery -> API root -> collection -> `as_pages` over get_objects
  at `limit`; every object validated.
- `walk`: follows `next` by hand from `params` at `limit` (objects or manifest), recording
  each page's ids, `more`, and the X-TAXII-Date-Added-First/Last headers.
- `raw`: one request (`method`, `path`, `params`, `headers`, `token` false to omit it).
"""

import json
import os
import sys

# requests lets these override a Session's own `verify` (the hub's CA): drop them.
for _name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(_name, None)

import requests
from requests.auth import AuthBase


class Bearer(AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = "Bearer " + self.token
        return request


MEDIA = "application/taxii+json;version=2.1"


EXTENSION = "extension-definition--c0f5e3a2-6b1d-4e8f-9a27-5d4b3c2e1f60"
SCHEMA = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..", "..", "docs", "stix", "slt-incident-extension.schema.json",
)


def validate(objects):
    """Every object under the OASIS validator; every incident's extension under the schema
    committed in docs/stix/."""
    from jsonschema import Draft202012Validator
    from stix2validator import ValidationOptions, validate_instance

    with open(SCHEMA) as f:
        schema = Draft202012Validator(json.load(f))
    options = ValidationOptions(version="2.1", strict=False)
    invalid = []
    for obj in objects:
        result = validate_instance(obj, options)
        if not result.is_valid:
            invalid.append(
                {"id": obj.get("id"), "errors": [str(e) for e in result.errors]}
            )
        if obj.get("type") == "incident":
            extension = obj.get("extensions", {}).get(EXTENSION)
            if extension is None:
                invalid.append({"id": obj.get("id"), "errors": ["no hub extension"]})
            else:
                errors = [e.message for e in schema.iter_errors(extension)]
                if errors:
                    invalid.append({"id": obj.get("id"), "errors": errors})
    return invalid


def client(req):
    from taxii2client.v21 import Server, as_pages

    auth = Bearer(req["token"])
    cert = (req["cert"], req["key"])
    server = Server(
        req["base"] + "/taxii2/", verify=req["ca"], auth=auth, cert=cert
    )
    root = server.default
    collections = root.collections
    collection = collections[0]
    pages = []
    objects = []
    kwargs = {}
    if req.get("added_after"):
        kwargs["added_after"] = req["added_after"]
    for envelope in as_pages(collection.get_objects, per_request=req["limit"], **kwargs):
        page = envelope.get("objects", [])
        pages.append([o["id"] for o in page])
        objects.extend(page)
    return {
        "api_root_title": root.title,
        "collections": [c.id for c in collections],
        "can_write": collection.can_write,
        "pages": pages,
        "objects": objects,
        "invalid": validate(objects),
    }


def session(req):
    s = requests.Session()
    s.verify = req["ca"]
    s.cert = (req["cert"], req["key"])
    return s


def walk(req):
    s = session(req)
    params = dict(req.get("params", {}))
    params["limit"] = req["limit"]
    listing = req.get("listing", "objects")
    url = req["base"] + req["collection_path"] + listing + "/"
    pages = []
    seen_next = set()
    while True:
        r = s.get(
            url,
            params=params,
            headers={"Accept": MEDIA, "Authorization": "Bearer " + req["token"]},
        )
        if r.status_code != 200:
            return {"error": r.status_code, "body": r.text, "pages": pages}
        body = r.json()
        objects = body.get("objects", [])
        pages.append(
            {
                "ids": [o["id"] for o in objects],
                "objects": objects,
                "more": body.get("more", False),
                "first": r.headers.get("X-TAXII-Date-Added-First"),
                "last": r.headers.get("X-TAXII-Date-Added-Last"),
                "content_type": r.headers.get("Content-Type"),
            }
        )
        if not body.get("more"):
            break
        token = body["next"]
        if token in seen_next:
            return {"error": "loop", "pages": pages}
        seen_next.add(token)
        params = {"limit": req["limit"], "next": token}
        for key in ("match[id]", "match[type]", "match[version]", "match[spec_version]"):
            if key in req.get("params", {}):
                params[key] = req["params"][key]
        if len(pages) > 10000:
            return {"error": "too many pages", "pages": pages}
    everything = [o for p in pages for o in p["objects"]]
    return {
        "pages": pages,
        "invalid": validate(everything) if listing == "objects" else [],
    }


def raw(req):
    s = session(req)
    headers = dict(req.get("headers", {"Accept": MEDIA}))
    if req.get("token"):
        headers["Authorization"] = "Bearer " + req["token"]
    r = s.request(
        req.get("method", "GET"),
        req["base"] + req["path"],
        params=req.get("params", {}),
        headers=headers,
        data=req.get("data") if "data_size" not in req else "x" * req["data_size"],
    )
    try:
        body = r.json()
    except ValueError:
        body = r.text
    return {
        "status": r.status_code,
        "content_type": r.headers.get("Content-Type"),
        "headers": {k.lower(): v for k, v in r.headers.items()},
        "body": body,
        "text": r.text,
    }


def no_cert(req):
    try:
        requests.get(
            req["base"] + "/taxii2/",
            verify=req["ca"],
            headers={"Accept": MEDIA, "Authorization": "Bearer " + req["token"]},
        )
    except requests.exceptions.RequestException as error:
        return {"refused": True, "error": type(error).__name__}
    return {"refused": False}


def main():
    req = json.loads(sys.argv[1])
    op = {"client": client, "walk": walk, "raw": raw, "no_cert": no_cert}[req["op"]]
    print(json.dumps(op(req)))


if __name__ == "__main__":
    main()
