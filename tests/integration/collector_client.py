#!/usr/bin/env python3
"""collector_client.py - a test agent for nightjar-collector: speaks the wire protocol of
docs/wire.md over TLS 1.3 with a client certificate, with real nightjar.Record payloads
(encoded here by hand: python3-protobuf is not needed), and can misbehave on purpose.

  collector_client.py send  --port P --ca CA --cert C --key K --host-id H --first N --count N
                            [--batch B] [--alert-every K] [--window W]
      send records N .. N+count-1 in batches of B, keeping at most W unacknowledged, wait
      for every Ack; print one JSON line per Ack (first, count, stored_through, error)
  collector_client.py agent ... (as send)
      behave like the agent's shipper: after any refusal, error or close, reconnect and
      resend from the record after the last acknowledged one, until all are acknowledged;
      print a JSON line per connection and a last {"done": ..., "acked": ...}
  collector_client.py raw   --port P ... --hex BYTES | --oversize N | --stall
      write raw bytes after the handshake and print what came back (Ack or close)
Exit status: 0 when every batch was acknowledged without error, 1 on an error Ack, 2 when the
connection was refused or closed early."""
import argparse
import json
import socket
import ssl
import struct
import sys
import time


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def field_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b


def record(host_id, seq, alert=False):
    """A nightjar.Record: timestamp, event (kind, action, sequence), host, and a body."""
    ts = 1_760_000_000_000_000_000 + seq * 1000
    kind, action = ("alert", "alert") if alert else ("event", "exec")
    event = field_bytes(1, kind) + field_bytes(4, action) + field_varint(6, seq)
    host = field_bytes(1, "test-" + host_id[:8]) + field_bytes(2, host_id)
    rec = field_varint(1, ts) + field_bytes(2, event) + field_bytes(3, host)
    if alert:
        rule = field_bytes(1, "test.rule") + field_bytes(2, "a test alert")
        body = field_bytes(3, rule) + field_bytes(4, "alert for sequence %d" % seq)
        rec += field_bytes(18, body)
    else:
        proc = field_varint(1, 1000 + seq % 30000) + field_bytes(4, "true")
        proc += field_bytes(5, "/usr/bin/true") + field_bytes(6, "true")
        rec += field_bytes(10, field_bytes(1, proc))
    return rec


def batch(host_id, first, recs):
    b = field_bytes(1, host_id) + field_varint(2, first)
    for r in recs:
        b += field_bytes(3, r)
    return b


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def parse_ack(data):
    """nightjar.Ack fields from its protobuf bytes."""
    out, i = {}, 0
    names = {1: "first", 2: "count", 3: "stored_through", 4: "error"}
    while i < len(data):
        key, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            key |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, shift = 0, 0
            while True:
                b = data[i]
                i += 1
                v |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            out[names.get(num, num)] = v
        elif wt == 2:
            n, shift = 0, 0
            while True:
                b = data[i]
                i += 1
                n |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            out[names.get(num, num)] = data[i:i + n].decode(errors="replace")
            i += n
        else:
            raise ValueError("unexpected wire type %d in an Ack" % wt)
    return out


def connect(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(args.ca)
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key)
    if args.alpn:
        ctx.set_alpn_protocols([args.alpn])
    ctx.check_hostname = False
    raw = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    return s


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_ack(s):
    hdr = read_exact(s, 4)
    if hdr is None:
        return None
    (n,) = struct.unpack(">I", hdr)
    body = read_exact(s, n)
    if body is None:
        return None
    return parse_ack(body)


def do_send(args):
    try:
        s = connect(args)
    except (OSError, ssl.SSLError) as e:
        print(json.dumps({"connect_error": str(e)}))
        return 2
    seq, end = args.first, args.first + args.count
    outstanding = []
    rc = 0
    if args.count == 0:
        # an empty batch: where is the collector for this host?
        s.sendall(frame(batch(args.host_id, args.first, [])))
        ack = read_ack(s)
        print(json.dumps(ack))
        return 0 if ack is not None and not ack.get("error") else 1
    try:
        while seq < end or outstanding:
            while seq < end and len(outstanding) < args.window:
                n = min(args.batch, end - seq)
                recs = [record(args.host_id, q, args.alert_every and q % args.alert_every == 0)
                        for q in range(seq, seq + n)]
                s.sendall(frame(batch(args.host_id, seq, recs)))
                outstanding.append((seq, n))
                seq += n
                if args.pause:
                    time.sleep(args.pause)
            ack = read_ack(s)
            if ack is None:
                print(json.dumps({"closed": True, "unacknowledged": len(outstanding)}))
                return 2
            print(json.dumps(ack), flush=True)
            want = outstanding.pop(0)
            if ack.get("error"):
                return 1
            if (ack.get("first", 0), ack.get("count", 0)) != want:
                print(json.dumps({"out_of_order": True, "expected": want}))
                return 1
    except (OSError, ssl.SSLError) as e:
        print(json.dumps({"io_error": str(e), "unacknowledged": len(outstanding)}))
        return 2
    s.close()
    return rc


def do_agent(args):
    end = args.first + args.count
    acked = args.first - 1  # the agent keeps this on disk; here it lives in memory
    deadline = time.monotonic() + args.timeout
    connections = 0
    while acked < end - 1:
        if time.monotonic() > deadline:
            print(json.dumps({"done": False, "acked": acked, "connections": connections}))
            return 2
        try:
            s = connect(args)
        except (OSError, ssl.SSLError):
            time.sleep(0.1)
            continue
        connections += 1
        print(json.dumps({"connected": connections, "resend_from": acked + 1}), flush=True)
        seq, outstanding = acked + 1, []
        try:
            while acked < end - 1:
                while seq < end and len(outstanding) < args.window:
                    n = min(args.batch, end - seq)
                    recs = [record(args.host_id, q,
                                   args.alert_every and q % args.alert_every == 0)
                            for q in range(seq, seq + n)]
                    s.sendall(frame(batch(args.host_id, seq, recs)))
                    outstanding.append((seq, n))
                    seq += n
                ack = read_ack(s)
                if ack is None or ack.get("error"):
                    print(json.dumps({"lost_connection": True, "ack": ack}), flush=True)
                    break
                first, n = outstanding.pop(0)
                if (ack.get("first", 0), ack.get("count", 0)) != (first, n):
                    print(json.dumps({"out_of_order": True}))
                    return 1
                acked = first + n - 1
                if args.pause:
                    time.sleep(args.pause)
        except (OSError, ssl.SSLError) as e:
            print(json.dumps({"io_error": str(e)}), flush=True)
        s.close()
    print(json.dumps({"done": True, "acked": acked, "connections": connections}))
    return 0


def do_raw(args):
    try:
        s = connect(args)
    except (OSError, ssl.SSLError) as e:
        print(json.dumps({"connect_error": str(e)}))
        return 2
    try:
        if args.hex:
            s.sendall(bytes.fromhex(args.hex))
        elif args.oversize:
            s.sendall(struct.pack(">I", args.oversize) + b"\0" * 1024)
        elif args.stall:
            # the start of a frame, then nothing: the collector must drop us
            s.sendall(struct.pack(">I", 1000) + b"\x0a\x02")
        t0 = time.monotonic()
        ack = read_ack(s)
        print(json.dumps({"ack": ack, "after_s": round(time.monotonic() - t0, 1)}))
        # an error Ack is followed by the close
        if ack is not None and read_exact(s, 1) is None:
            print(json.dumps({"closed": True}))
    except (OSError, ssl.SSLError) as e:
        print(json.dumps({"io_error": str(e)}))
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["send", "agent", "raw"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--alpn", default="nightjar/1")
    p.add_argument("--host-id", default="")
    p.add_argument("--first", type=int, default=1)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--window", type=int, default=4)
    p.add_argument("--pause", type=float, default=0)
    p.add_argument("--alert-every", type=int, default=0)
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--hex")
    p.add_argument("--oversize", type=int)
    p.add_argument("--stall", action="store_true")
    args = p.parse_args()
    return {"send": do_send, "agent": do_agent, "raw": do_raw}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
