#!/usr/bin/env python3
"""A small TCP relay for the detection tests, written the way a dropped proxy would be:
listen on a loopback port, and for every client connect to a fixed target and copy bytes
both ways. Nothing in its name or argv says "proxy" (the test runs it under an innocent
name), so only its behaviour can give it away.

usage: relay.py PORTFILE TARGET_HOST TARGET_PORT [LISTEN_PORT]
Writes the port it listens on to PORTFILE once ready. Loopback only.
"""
import os
import socket
import sys
import threading


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, target):
    up = socket.create_connection(target)
    threading.Thread(target=pipe, args=(conn, up), daemon=True).start()
    pipe(up, conn)


def main():
    portfile, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    listen_port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(16)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(tmp, portfile)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, (host, port)), daemon=True).start()


if __name__ == "__main__":
    main()
