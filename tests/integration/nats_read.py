#!/usr/bin/env python3
"""nats_read.py - read every message of a JetStream stream the way a consumer (a SIEM
forwarder) would see the collector's output, over the plain NATS protocol (no client library
needed): $JS.API.STREAM.INFO for the range, then $JS.API.STREAM.MSG.GET for each message.
Each message is a nightjar.Batch; prints one JSON line per record:
  {"subject": ..., "stream_seq": ..., "host_id": ..., "sequence": <the record's own>}
Exit 1 if a record's own sequence is not the batch's first_sequence + its index."""
import argparse
import base64
import json
import socket
import sys


def varint(b, i):
    v = shift = 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7F) << shift
        shift += 7
        if not x & 0x80:
            return v, i


def fields(b):
    """(number, value) of a protobuf message's top-level fields; bytes for length-delimited."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, v


class Nats:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")
        self.f.readline()  # INFO
        self.s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n'
                       b"SUB _INBOX.nj_read 1\r\n")

    def request(self, subject, body):
        data = json.dumps(body).encode()
        self.s.sendall(b"PUB %s _INBOX.nj_read %d\r\n%s\r\n" % (subject.encode(), len(data), data))
        while True:
            line = self.f.readline().decode().strip()
            if line == "PING":
                self.s.sendall(b"PONG\r\n")
            elif line.startswith("MSG "):
                n = int(line.split()[-1])
                payload = self.f.read(n + 2)[:-2]
                return json.loads(payload)
            elif line.startswith("HMSG "):
                hlen, tlen = map(int, line.split()[-2:])
                payload = self.f.read(tlen + 2)[hlen:-2]
                return json.loads(payload)
            elif line.startswith("-ERR"):
                raise RuntimeError(line)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--stream", required=True)
    a = p.parse_args()
    nc = Nats(a.port)
    info = nc.request("$JS.API.STREAM.INFO." + a.stream, {})
    state = info["state"]
    for sseq in range(state["first_seq"], state["last_seq"] + 1):
        r = nc.request("$JS.API.STREAM.MSG.GET." + a.stream, {"seq": sseq})
        if "error" in r:
            continue  # deleted
        m = r["message"]
        batch = dict(host_id=None, first=None, records=[])
        for num, v in fields(base64.b64decode(m["data"])):
            if num == 1:
                batch["host_id"] = v.decode()
            elif num == 2:
                batch["first"] = v
            elif num == 3:
                batch["records"].append(v)
        for i, rec in enumerate(batch["records"]):
            own = None
            for num, v in fields(rec):
                if num == 2:  # Event
                    own = dict(fields(v)).get(6)
            print(json.dumps({"subject": m["subject"], "stream_seq": sseq,
                              "host_id": batch["host_id"], "sequence": own}))
            if own != batch["first"] + i:
                print("record %d of stream message %d has sequence %s, expected %d"
                      % (i, sseq, own, batch["first"] + i), file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
