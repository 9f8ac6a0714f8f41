"""The records the client drivers (tests/clients/py/*.py, tests/clients/js/*.js) produce, so the
tests can check byte for byte what comes back. tests/clients/js/records.js is the same in
JavaScript; change both together.

Record i of a run: key null for every 5th record, else b"key-<i>"; a value of (i * 37) % 1000
bytes, byte j being (i * 31 + j * 7) % 256 (every byte value occurs, so text-only paths show);
one header ("h", b"<i>")."""


def key(i):
    return None if i % 5 == 0 else b"key-%d" % i


def value(i):
    return bytes((i * 31 + j * 7) % 256 for j in range((i * 37) % 1000))


def headers(i):
    return [("h", b"%d" % i)]


def as_json(i):
    """Record i as the drivers print what they consumed (hex bytes, null stays null)."""
    k = key(i)
    return {"key": None if k is None else k.hex(), "value": value(i).hex(),
            "headers": [[n, v.hex()] for n, v in headers(i)]}
