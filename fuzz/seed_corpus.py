#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the JS engine's golden vectors.

    python3 fuzz/seed_corpus.py [VECTORS_DIR]

VECTORS_DIR defaults to ../shared/protocol/vectors beside the repository.
Each seed is named by the SHA-1 of its bytes, so re-running adds nothing
twice; existing (fuzzer-grown) corpus files are left alone. Standard
library only.

Seeds per target:
  operation  operation broadcasts (OperationMessage) and their `enc`
             (EncodedOperation), from frames.jsonl, including the ones
             relayed on revup/snapshot update channels
  control    send/reply payloads (Control), notify payloads (Notification)
             and the channel items they carry (SnapshotDatum)
  clock      msgpack of every clock and GWC in clocks/gwc/clock-ops.jsonl,
             and of the clock-ops argument pairs
  msgpack    msgpack.jsonl, plus one of each payload kind above
  jrql       the subjects of jsonld.jsonl (plain writes) and a few reads and
             writes of every form
"""

import base64
import hashlib
import json
import pathlib
import struct
import sys

FUZZ = pathlib.Path(__file__).resolve().parent
DEFAULT_VECTORS = FUZZ.parent.parent / "shared" / "protocol" / "vectors"


def rows(vectors, name):
    with open(vectors / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# --- a minimal msgpack reader and writer (enough for m-ld messages) ---------


def unpack(data):
    value, end = _read(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes")
    return value


def _read(b, i):
    t = b[i]
    i += 1
    if t <= 0x7F:
        return t, i
    if t >= 0xE0:
        return t - 0x100, i
    if 0x80 <= t <= 0x8F:
        return _map(b, i, t & 0x0F)
    if 0x90 <= t <= 0x9F:
        return _array(b, i, t & 0x0F)
    if 0xA0 <= t <= 0xBF:
        n = t & 0x1F
        return b[i : i + n].decode("utf-8", "replace"), i + n
    fixed = {0xC0: None, 0xC2: False, 0xC3: True}
    if t in fixed:
        return fixed[t], i
    sizes = {0xC4: 1, 0xC5: 2, 0xC6: 4}
    if t in sizes:
        n, i = _uint(b, i, sizes[t])
        return bytes(b[i : i + n]), i + n
    if t in (0xD9, 0xDA, 0xDB):
        n, i = _uint(b, i, {0xD9: 1, 0xDA: 2, 0xDB: 4}[t])
        return b[i : i + n].decode("utf-8", "replace"), i + n
    if t == 0xCA:
        return struct.unpack(">f", b[i : i + 4])[0], i + 4
    if t == 0xCB:
        return struct.unpack(">d", b[i : i + 8])[0], i + 8
    if t in (0xCC, 0xCD, 0xCE, 0xCF):
        return _uint(b, i, {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}[t])
    if t in (0xD0, 0xD1, 0xD2, 0xD3):
        n = {0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}[t]
        return int.from_bytes(b[i : i + n], "big", signed=True), i + n
    if t == 0xD4:
        return None, i + 2  # undefined
    if t in (0xDC, 0xDD):
        n, i = _uint(b, i, 2 if t == 0xDC else 4)
        return _array(b, i, n)
    if t in (0xDE, 0xDF):
        n, i = _uint(b, i, 2 if t == 0xDE else 4)
        return _map(b, i, n)
    raise ValueError(f"type 0x{t:02x} not expected in vectors")


def _uint(b, i, n):
    return int.from_bytes(b[i : i + n], "big"), i + n


def _array(b, i, n):
    out = []
    for _ in range(n):
        v, i = _read(b, i)
        out.append(v)
    return out, i


def _map(b, i, n):
    out = {}
    for _ in range(n):
        k, i = _read(b, i)
        v, i = _read(b, i)
        out[str(k)] = v
    return out, i


def pack(v):
    """msgpack of JSON values as @ably/msgpack-js writes them (ints only)."""
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 0x80:
            return bytes([v])
        for limit, head, size in ((0xFF, 0xCC, 1), (0xFFFF, 0xCD, 2), (0xFFFFFFFF, 0xCE, 4)):
            if 0 <= v <= limit:
                return bytes([head]) + v.to_bytes(size, "big")
        if v >= 0:
            return b"\xcf" + v.to_bytes(8, "big")
        return b"\xd3" + v.to_bytes(8, "big", signed=True)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        s = v.encode("utf-8")
        if len(s) < 32:
            return bytes([0xA0 | len(s)]) + s
        if len(s) < 0x100:
            return bytes([0xD9, len(s)]) + s
        return b"\xda" + len(s).to_bytes(2, "big") + s
    if isinstance(v, list):
        head = bytes([0x90 | len(v)]) if len(v) < 16 else b"\xdc" + len(v).to_bytes(2, "big")
        return head + b"".join(pack(x) for x in v)
    if isinstance(v, dict):
        head = bytes([0x80 | len(v)]) if len(v) < 16 else b"\xde" + len(v).to_bytes(2, "big")
        return head + b"".join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(type(v))


# --- seeds ------------------------------------------------------------------


def frame_payloads(vectors):
    for r in rows(vectors, "frames.jsonl"):
        if r.get("payload") is not None:
            yield r["event"], base64.b64decode(r["payload"])


def collect(vectors):
    seeds = {t: [] for t in ("operation", "control", "clock", "msgpack", "jrql")}
    one_of_each = {}
    for event, payload in frame_payloads(vectors):
        one_of_each.setdefault(event, payload)
        if event == "operation":
            seeds["operation"].append(payload)
            seeds["operation"].append(unpack(payload)["enc"])
        elif event in ("send", "reply"):
            if payload != b"\xc0":  # the ACK
                seeds["control"].append(payload)
        elif event == "notify":
            seeds["control"].append(payload)
            item = unpack(payload).get("next")
            if isinstance(item, bytes):
                fields = unpack(item)
                if "enc" in fields:  # an operation relayed on an updates channel
                    seeds["operation"].append(item)
                else:
                    seeds["control"].append(item)
                    one_of_each.setdefault("datum", item)
    seeds["msgpack"] += [bytes.fromhex(r["hex"]) for r in rows(vectors, "msgpack.jsonl")]
    seeds["msgpack"] += one_of_each.values()
    for r in rows(vectors, "clocks.jsonl"):
        seeds["clock"].append(pack(r["json"]))
    for r in rows(vectors, "gwc.jsonl"):
        seeds["clock"].append(pack(r["json"]))
    for r in rows(vectors, "clock-ops.jsonl"):
        args = r["args"]
        seeds["clock"].append(pack(args))
        for a in args:
            if isinstance(a, (list, int)):
                seeds["clock"].append(pack(a))
    for r in rows(vectors, "jsonld.jsonl"):
        if r.get("dir") == "json->triples" and isinstance(r.get("json"), (dict, list)):
            seeds["jrql"].append(json.dumps(r["json"]).encode())
    seeds["jrql"] += [json.dumps(q).encode() for q in JRQL]
    return seeds


JRQL = [
    {"@describe": "fred"},
    {"@describe": "?s", "@where": {"@id": "?s", "@type": "Person"}},
    {"@select": ["?n", "?a"], "@where": {"@id": "?s", "name": "?n", "age": "?a"}, "@orderBy": {"@desc": "?a"}},
    {"@select": "?s", "@where": {"@graph": {"@id": "?s", "age": "?a"}, "@filter": {"@gt": ["?a", 39]}}},
    {"@select": "?s", "@where": {"@union": [{"@id": "?s", "name": "Fred"}, {"@id": "?s", "age": 38}]}},
    {"@select": "?x", "@where": {"@graph": {"@id": "?x"}, "@values": [{"?x": {"@id": "fred"}}]}},
    {"@construct": {"@id": "?s", "name": "?n"}, "@where": {"@id": "?s", "name": "?n"}},
    {"@select": "?i", "@where": {"@id": "shopping", "list": {"@list": {"?i": "?item"}}}, "@limit": 1, "@offset": 0},
    {"@select": "?s", "@where": {"@id": "?s", "name": {"@value": "?n", "@in": ["Fred", "Barney"]}}},
    {"@insert": {"@id": "barney", "name": "Barney", "age": {"@value": "41", "@type": "xsd:integer"}}},
    {"@delete": {"@id": "fred", "age": "?a"}, "@insert": {"@id": "fred", "age": 41}, "@where": {"@id": "fred", "age": "?a"}},
    {"@delete": {"@id": "wilma", "?p": "?o"}},
    {"@graph": [{"@id": "a", "x": {"@id": "b"}}, {"@id": "b", "y": [1, 2.5, True, None]}]},
    {"@id": "doc", "data": {"@value": {"k": [1, 2]}, "@type": "@json"}},
]


def edge_seeds():
    """Seeds for the request-edge targets (auth_edges, http_api)."""
    b64 = lambda t: base64.b64encode(t.encode()).decode()
    auth = [b"\x00Basic " + b64(u).encode() for u in ["fuzzacc:fuzzroot.abcdef:" + "a" * 74, "x:y", "nocolon"]]
    auth += [b"\x00Bearer eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.eyJpc3MiOiJ4In0.c2ln", b"\x00Digest x"]
    auth += [b"\x01" + json.dumps(a).encode() for a in
             [{}, {"user": "fuzzroot", "key": "fuzzroot.abcdef:secret"}, {"jwt": "a.b.c"}, {"user": 1}, None, []]]
    auth += [b"\x02@id=c1&@domain=x.fuzzroot.fuzz.example.org", b"\x02@id=&@domain=d", b"\x02@id=a&@id=b&@domain=d"]
    bodies = [{"@insert": {"naming": "uuid"}}, {"email": "a@b.c"}, {"useSignatures": False},
              {"@describe": "?s"}, {"@insert": {"@id": "fred", "name": "Fred"}}, {"@update": {"@id": "fred", "n": 2}}]
    http = []
    for route in range(17):
        for method in range(3):
            for body in bodies:
                http.append(bytes([route, method, route % 4]) + b"\xff".join(
                    [b"", b"", b"q=" + json.dumps(body).encode() if route % 2 else b"", b"Basic eDp5",
                     json.dumps(body).encode()]))
    return {"auth_edges": auth, "http_api": http}


def main():
    vectors = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_VECTORS
    total = 0
    for target, items in {**collect(vectors), **edge_seeds()}.items():
        folder = FUZZ / "corpus" / target
        folder.mkdir(parents=True, exist_ok=True)
        names = set()
        for data in items:
            name = hashlib.sha1(data).hexdigest()[:16]
            names.add(name)
            path = folder / name
            if not path.exists():
                path.write_bytes(data)
        total += len(names)
        print(f"{target}: {len(names)} seeds")
    print(f"{total} seeds in {FUZZ / 'corpus'}")


if __name__ == "__main__":
    main()
